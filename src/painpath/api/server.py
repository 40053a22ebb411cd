"""Run the service: ``serve(host, port)`` (wired to ``painpath serve``) or ``python -m painpath.api.server``.

Startup order: settings (refusing development mode on a non-loopback address), logging, rules
(refusing invalid rules: fail closed), database (created and migrated on first start), then the
socket. The URL is printed once the socket is bound (port 0 picks a free port and prints it).
"""

from __future__ import annotations

import argparse
import gc
import logging.config
import sys
from types import FrameType
from typing import Any

import uvicorn

from painpath.api.app import create_app
from painpath.api.middleware import uvicorn_log_config
from painpath.api.settings import ServiceConfigError, Settings
from painpath.api.state import Services
from painpath.cli.exit_codes import ExitCode
from painpath.errors import PainpathError, RulesValidationError
from painpath.logging import configure_logging


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn, announcing the bound address (and the port chosen for port 0) on stdout."""

    def __init__(self, config: uvicorn.Config, services: Services) -> None:
        super().__init__(config)
        self._services = services

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal once shut down, killing the process before its atexit clean-up
        # (the worker pool's); after a graceful stop painpath exits normally, with status 0.
        self._captured_signals.clear()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        host, port = self.config.host, self.config.port
        for server in self.servers:
            for sock in server.sockets:
                port = sock.getsockname()[1]
        ruleset = self._services.engine.ruleset
        mode = " (development mode: no API keys, loopback only)" if self._services.settings.dev_mode else ""
        print(
            f"painpath: serving {_url(host, port)}{mode}; ruleset {ruleset.name} {ruleset.version} "
            f"({ruleset.content_hash[:12]}); open the web app at {_url(host, port)}/app/ "
            f"(OpenAPI at {_url(host, port)}/docs)",
            flush=True,
        )


def serve(
    host: str | None = None, port: int | None = None, *, dev_mode: bool | None = None, settings: Settings | None = None
) -> None:
    """Start the HTTP service and block until it is stopped (SIGINT/SIGTERM).

    ``host``/``port``/``dev_mode`` override the settings read from the environment (``None``: keep
    ``PAINPATH_HOST``, ``PAINPATH_PORT``, ``PAINPATH_DEV_MODE`` or the defaults 127.0.0.1, 8000, off).
    Raises ``ServiceConfigError`` (unsafe or invalid settings), ``RulesValidationError`` (invalid
    rules: the service does not start) or ``StoreUnavailable`` (database unreachable).
    """
    overrides: dict[str, object] = {"host": host, "port": port, "dev_mode": dev_mode}
    if settings is None:
        settings = Settings.from_env(**overrides)
    else:
        settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        settings.check()
    configure_logging(settings.log_level)
    logging.config.dictConfig(uvicorn_log_config(settings.log_level))
    app = create_app(settings)
    # The compiled rules are ~100k long-lived objects; a full collection over them takes ~50 ms and
    # would land on some request. Freezing moves them out of the collector's way.
    gc.collect()
    gc.freeze()
    services: Services = app.state.services
    store = services.store
    if store.created:
        print(f"painpath: created the decision log at {store.display_url}", flush=True)
    if not settings.dev_mode and not any(k.active for k in store.keys.list()):
        print(
            "painpath: no API keys yet; create one with: python -m painpath.cli.keys create --role clinician",
            flush=True,
        )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    _Server(config, services).run()


def main(argv: list[str] | None = None) -> int:
    """``python -m painpath.api.server [--host H] [--port P] [--dev]``."""
    parser = argparse.ArgumentParser(prog="python -m painpath.api.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="address to bind (default $PAINPATH_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default $PAINPATH_PORT or 8000; 0 picks a free port)")
    parser.add_argument(
        "--dev",
        action="store_true",
        default=None,
        help="development mode: no API keys; refused unless bound to a loopback address",
    )
    args = parser.parse_args(argv)
    try:
        serve(args.host, args.port, dev_mode=args.dev)
    except ServiceConfigError as exc:  # invalid service settings: invalid configuration
        print(f"painpath: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except RulesValidationError as exc:
        print(f"painpath: refusing to start: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except PainpathError as exc:  # e.g. the database is unreachable
        print(f"painpath: refusing to start: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
