"""Run the real service in a subprocess for end-to-end tests and benchmarks.

``start_server`` runs ``python -m painpath.api.server --port 0`` (a free loopback port), waits for
the URL it prints, and keeps its structured logs in a file. ``stop`` sends SIGTERM (graceful),
``kill`` sends SIGKILL (a crash).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SERVICE_ENV_PREFIX = "PAINPATH_"
_KEEP = ("PAINPATH_RULES_DIR",)


class ServerFailed(RuntimeError):
    """The server exited, or did not announce its URL in time."""

    def __init__(self, message: str, returncode: int | None, stderr: str) -> None:
        super().__init__(f"{message} (exit {returncode}):\n{stderr}")
        self.returncode = returncode
        self.stderr = stderr


@dataclass
class RunningServer:
    """A server subprocess and where to reach it."""

    process: subprocess.Popen[str]
    base_url: str
    log_path: Path
    stdout: list[str]

    def logs(self) -> str:
        """Everything the server wrote to stderr (JSON log lines) so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=20)


def service_env(
    data_dir: Path,
    *,
    database_url: str | None = None,
    dev_mode: bool = False,
    log_level: str = "INFO",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The process environment minus any ``PAINPATH_*`` settings (except the rules directory), plus these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_ENV_PREFIX) or k in _KEEP}
    env.update(PAINPATH_DATA_DIR=str(data_dir), PAINPATH_LOG_LEVEL=log_level)
    if database_url:
        env["PAINPATH_DATABASE_URL"] = database_url
    if dev_mode:
        env["PAINPATH_DEV_MODE"] = "1"
    env.update(extra or {})
    return env


def start_server(
    env: Mapping[str, str],
    log_path: Path,
    *,
    host: str = "127.0.0.1",
    timeout: float = 90,
    extra_args: tuple[str, ...] = (),
) -> RunningServer:
    """Start the service and return once it prints its URL; raise ``ServerFailed`` if it does not."""
    log_file = log_path.open("w", encoding="utf-8")
    # Runs this interpreter on a fixed module; arguments come from the caller's test, not from input.
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "painpath.api.server", "--host", host, "--port", "0", *extra_args],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
    )
    log_file.close()
    lines: queue.Queue[str | None] = queue.Queue()
    stdout: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            process.kill()
            process.wait()
            raise ServerFailed(
                "the server did not start in time", process.returncode, log_path.read_text(encoding="utf-8")
            ) from None
        if line is None:
            process.wait()
            raise ServerFailed("the server exited", process.returncode, log_path.read_text(encoding="utf-8"))
        stdout.append(line)
        if "serving http://" in line:
            url = line.split("serving ", 1)[1].split()[0].rstrip(";")
            return RunningServer(process=process, base_url=url, log_path=log_path, stdout=stdout)
