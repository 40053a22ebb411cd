"""The validator rejects every deliberately broken rule file, naming file, rule and path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from painpath.engine.loader import load_ruleset
from painpath.errors import RulesValidationError
from tests.conftest import FIXTURES

BROKEN = sorted((FIXTURES / "broken_rules").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


def _base(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "base_rules", tmp_path / "repo")
    return tmp_path / "repo" / "rules"


def test_base_fixture_is_valid(tmp_path: Path) -> None:
    ruleset = load_ruleset(_base(tmp_path))
    assert [r.id for r in ruleset.rules] == ["RF_FIXTURE_OK"]


@pytest.mark.parametrize("broken", BROKEN, ids=lambda p: p.stem)
def test_broken_rule_file_is_rejected(tmp_path: Path, broken: Path) -> None:
    rules = _base(tmp_path)
    shutil.copy(broken, rules / "red_flags" / broken.name)
    with pytest.raises(RulesValidationError) as info:
        load_ruleset(rules)
    rendered = str(info.value)
    assert _expected(broken) in rendered
    assert any(p.file and p.file.endswith(broken.name) for p in info.value.problems), rendered


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    rules = _base(tmp_path)
    for broken in BROKEN:
        shutil.copy(broken, rules / "red_flags" / broken.name)
    with pytest.raises(RulesValidationError) as info:
        load_ruleset(rules)
    files = {p.file.rsplit("/", 1)[-1] for p in info.value.problems if p.file}
    assert {b.name for b in BROKEN} <= files


def test_the_bundled_rules_are_valid(engine: object) -> None:
    assert engine is not None
