"""Issue 16: the built wheel is a whole painpath - rules, guidelines, parameters, code tables and questions.

The wheel is built from a copy of the source (only what a source distribution carries), installed into a
fresh virtualenv (no system site-packages, not the checkout) with its runtime dependencies resolved from
the wheel's own version ranges and held to ``requirements.lock``, and run from another directory: the
CLI, ``python -m painpath`` and ``painpath.evaluate`` must give the checkout's decision and ruleset hash.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from painpath.engine import Engine, decision_to_dict
from painpath.facts import parse_facts_json
from painpath.paths import checkout_dir
from painpath.version import __version__

REPO = Path(__file__).resolve().parents[1]
# what MANIFEST.in and pyproject.toml put in a source distribution
SDIST = ("src", "rules", "guidelines", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")
EXAMPLE = "rf_cauda_equina.json"
VOLATILE = ("decision_id", "created_at")

pytestmark = pytest.mark.slow


def _run(args: list[str | Path], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(a) for a in args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def _stable(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k not in VOLATILE}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel built from a copy of the source installed; its bin/ directory."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    for name in SDIST:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(src, source / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAINPATH_", "PYTHON", "VIRTUAL_ENV"))}
    pip = ("-m", "pip", "--disable-pip-version-check")
    built = _run([sys.executable, *pip, "wheel", "--no-deps", "-w", base / "dist", source], base, env)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (base / "dist").glob("painpath-*.whl")
    venv.create(base / "venv", with_pip=True, system_site_packages=False)
    python = base / "venv" / "bin" / "python"
    # the wheel's own dependency ranges, resolved to the tested versions (and found in the pip cache)
    done = _run([python, *pip, "install", "--quiet", "-c", REPO / "requirements.lock", wheel], base, env)
    assert done.returncode == 0, done.stderr[-3000:]
    return base / "venv" / "bin"


@pytest.fixture
def elsewhere(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An unrelated working directory holding a copy of one example patient, and an environment without
    PAINPATH_* settings or the checkout on the path."""
    shutil.copy2(REPO / "examples" / "patients" / EXAMPLE, tmp_path / EXAMPLE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAINPATH_", "PYTHON", "VIRTUAL_ENV"))}
    return tmp_path, env


def _checkout_decision() -> dict[str, Any]:
    assert checkout_dir() == REPO, "the tests run against the checkout (make venv: an editable install)"
    engine = Engine.from_directory(REPO / "rules")
    facts = parse_facts_json((REPO / "examples" / "patients" / EXAMPLE).read_text(encoding="utf-8"))
    return decision_to_dict(engine.evaluate(facts))


def test_the_wheel_carries_the_ruleset_and_its_data(installed: Path) -> None:
    site = next((installed.parent / "lib").glob("python3.*/site-packages"))
    package = site / "painpath"
    for rel in (
        "rules/ruleset.yaml",
        "rules/scores.yaml",
        "rules/parameters/red_flags.yaml",
        "guidelines/nice-ng59.yaml",
    ):
        assert (package / "_data" / rel).is_file(), rel
    for rel in ("facts/questions.yaml", "fhir", "triage", "audit/measures.yaml", "py.typed"):
        assert (package / rel).exists(), rel
    shipped = sorted(p.relative_to(package / "_data").as_posix() for p in (package / "_data").rglob("*.yaml"))
    canonical = sorted(
        p.relative_to(REPO).as_posix() for d in ("rules", "guidelines") for p in (REPO / d).rglob("*.yaml")
    )
    assert shipped == canonical


def test_the_installed_cli_gives_the_checkouts_decision_from_another_directory(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    out = _run([installed / "painpath", "evaluate", EXAMPLE], cwd, env)
    assert out.returncode == 0, out.stderr
    assert _stable(json.loads(out.stdout)) == _stable(_checkout_decision())


def test_the_installed_python_facade_gives_the_checkouts_decision(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    script = (
        "import json, painpath\n"
        "from painpath.engine import decision_to_dict\n"
        "from painpath.paths import default_rules_dir\n"
        f"decision = painpath.evaluate(json.load(open({EXAMPLE!r})))\n"
        "print(json.dumps({'rules': str(default_rules_dir()), 'decision': decision_to_dict(decision)}))\n"
    )
    out = _run([installed / "python", "-c", script], cwd, env)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert Path(answer["rules"]).is_relative_to(installed.parent), answer["rules"]  # the wheel's, not the checkout's
    assert _stable(answer["decision"]) == _stable(_checkout_decision())


def test_the_installed_rules_check_and_version_agree_with_the_checkout(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    checked = _run([installed / "painpath", "rules", "check"], cwd, env)
    assert checked.returncode == 0, checked.stderr
    ruleset = _checkout_decision()["ruleset"]
    assert f"ruleset {ruleset['name']} {ruleset['version']} ({ruleset['content_hash'][:12]})" in checked.stdout
    for command in ([installed / "painpath", "--version"], [installed / "python", "-m", "painpath", "--version"]):
        out = _run(command, cwd, env)
        assert out.returncode == 0, out.stderr
        assert out.stdout == f"painpath {__version__} (ruleset {ruleset['name']} {ruleset['version']})\n"


def test_the_installed_audit_writes_its_report_from_the_packaged_templates(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    synth = _run([installed / "painpath", "synth", "--n", "20", "--seed", "3", "-o", "cohort.jsonl"], cwd, env)
    assert synth.returncode == 0, synth.stderr
    audit = _run([installed / "painpath", "audit", "cohort.jsonl", "--out", "out", "--jobs", "1"], cwd, env)
    assert audit.returncode == 0, audit.stderr
    assert "20 evaluated + 0 rejected = 20" in audit.stderr
    report = (cwd / "out" / "report.html").read_text(encoding="utf-8")
    assert "SYNTHETIC" in report
    assert "<svg" in report  # the charts, rendered offline by the installed vl-convert


def test_the_installed_ruleset_archives_and_replays_as_the_checkouts(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    """Replay's archive of the wheel's ruleset holds the checkout's files under the same names and hash."""
    from painpath.engine import load_ruleset
    from painpath.replay import ruleset_files

    cwd, env = elsewhere
    script = (
        "import json, pathlib, painpath\n"
        "from painpath.replay import load_archived, ruleset_files\n"
        "ruleset = painpath.bundled_engine().ruleset\n"
        "files = ruleset_files(ruleset)\n"
        "again = load_archived(files, ruleset.content_hash, pathlib.Path('archive')).ruleset.content_hash\n"
        "print(json.dumps({'hash': ruleset.content_hash, 'again': again, 'files': files}))\n"
    )
    out = _run([installed / "python", "-c", script], cwd, env)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    checkout = load_ruleset(REPO / "rules")
    assert answer["hash"] == answer["again"] == checkout.content_hash
    assert answer["files"] == ruleset_files(checkout)
