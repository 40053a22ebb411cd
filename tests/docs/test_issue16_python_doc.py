"""Issue 16: the worked example of docs/python.md runs, and prints what the page shows.

Every ``python`` block runs in order in one namespace, as a reader would paste them into one notebook;
the ``text`` block right after a ``python`` block is the output it must print, line for line.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, str | None]]:
    """Each python block of the page and the text block that follows it (None when the next is not text)."""
    blocks = [(m.group(1), m.group(2)) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]
    return [
        (code, blocks[i + 1][1] if i + 1 < len(blocks) and blocks[i + 1][0] == "text" else None)
        for i, (lang, code) in enumerate(blocks)
        if lang == "python"
    ]


def test_the_page_has_worked_examples_with_their_output() -> None:
    found = examples()
    assert len(found) >= 4
    assert all(expected is not None for _, expected in found), "every python block shows its output"


def test_every_python_block_prints_what_the_page_shows() -> None:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for code, expected in examples():
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - the page's own examples
        assert out.getvalue() == expected, f"docs/python.md block:\n{code}"
