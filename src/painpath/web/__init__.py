"""The web app (``/app``): a GP referral page with live advice and a triage worklist; and the API's
Swagger UI and ReDoc served from packaged files. An adapter around the engine, like the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from painpath.web import docs, routes

STATIC_DIR = Path(__file__).with_name("static")
"""Stylesheet, icon and the vendored htmx, Swagger UI and ReDoc (see ``static/vendor/README.md``)."""


def install_web(app: FastAPI) -> None:
    """Add the web pages, their static files and the local API docs to ``app``."""
    app.mount("/app/static", StaticFiles(directory=STATIC_DIR), name="web-static")
    app.include_router(routes.router)
    app.include_router(routes.api_router)
    app.include_router(docs.router)
    routes.install_page_errors(app)
