"""The Jinja2 environment of the web app: packaged templates, autoescaping, a few filters."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from painpath.web.advice import words

TEMPLATES_DIR = Path(__file__).with_name("templates")


def age(value: datetime.datetime, now: datetime.datetime | None = None) -> str:
    """How long ago, in the largest whole unit: ``3 h``, ``2 d``."""
    now = now or datetime.datetime.now(datetime.UTC)
    seconds = max(0, int((now - value).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def when(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def build_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters: dict[str, Any] = {"words": words, "age": age, "when": when, "urgency": lambda u: words(u).capitalize()}
    env.filters.update(filters)
    return Jinja2Templates(env=env)
