"""Helpers for worker processes that must not outlive the process that started them."""

from __future__ import annotations

import os
import threading
import time

PARENT_POLL_SECONDS = 0.5


def _exit_with_parent(parent: int) -> None:
    # A pool worker waits on a queue it also holds the writing end of, so it would never notice a
    # parent killed with SIGKILL (or SIGTERM): poll for the change of parent instead.
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


def watch_parent() -> None:
    """Exit this process as soon as its parent has gone (a daemon thread polls for it)."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
