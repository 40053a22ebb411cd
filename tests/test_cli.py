"""End-to-end through the real ``painpath`` command (a subprocess, as users run it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

EXAMPLES = ROOT / "examples" / "patients"
PAINPATH = [sys.executable, "-m", "painpath.cli"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAINPATH, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )


def test_cauda_equina_example_is_an_explained_emergency() -> None:
    result = run("evaluate", str(EXAMPLES / "rf_cauda_equina.json"))
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["status"] == "ok"
    assert decision["red_flags"]["status"] == "present"
    finding = decision["red_flags"]["findings"][0]
    assert finding["urgency"] == "emergency"
    assert finding["condition"] == "cauda_equina_syndrome"
    assert finding["rule"]["id"].startswith("RF_CES") and finding["rule"]["version"]
    assert finding["rule"]["cites"] and all(c.split("#")[0] for c in finding["rule"]["cites"])
    used = {c["fact"] for c in finding["facts_used"]}
    assert used & {"red_flags.saddle_anaesthesia", "red_flags.bladder_dysfunction", "red_flags.bowel_dysfunction"}
    assert decision["ruleset"]["content_hash"] and decision["ruleset"]["version"]


def test_unanswered_screen_is_incomplete_never_absent() -> None:
    decision = json.loads(run("evaluate", str(EXAMPLES / "screen_incomplete.json")).stdout)
    assert decision["red_flags"]["status"] == "incomplete"
    assert decision["red_flags"]["missing"]


def test_empty_facts_are_incomplete() -> None:
    decision = json.loads(run("evaluate", "-", stdin="{}").stdout)
    assert decision["red_flags"]["status"] == "incomplete"


def test_clear_screen_is_absent() -> None:
    decision = json.loads(run("evaluate", str(EXAMPLES / "screen_clear.json")).stdout)
    assert decision["red_flags"]["status"] == "absent"
    assert decision["red_flags"]["findings"] == []


def test_misspelt_field_is_rejected_naming_it() -> None:
    result = run("evaluate", "-", stdin=json.dumps({"red_flags": {"saddle_anesthesia": True}}))
    assert result.returncode == 3
    assert "red_flags.saddle_anesthesia: unknown field" in result.stderr
    assert "did you mean 'red_flags.saddle_anaesthesia'" in result.stderr
    assert result.stdout == ""


def test_text_format_reads_like_a_summary() -> None:
    result = run("evaluate", "--format", "text", str(EXAMPLES / "rf_cauda_equina.json"))
    assert result.returncode == 0
    assert "[EMERGENCY]" in result.stdout
    assert "Red-flag screen: PRESENT" in result.stdout


def test_every_example_evaluates() -> None:
    files = sorted(str(p) for p in EXAMPLES.glob("*.json"))
    assert len(files) >= 12
    result = run("evaluate", "--format", "text", *files)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("broken", sorted((FIXTURES / "broken_rules").glob("*.yaml")), ids=lambda p: p.stem)
def test_rules_check_rejects_broken_fixture(tmp_path: Path, broken: Path) -> None:
    shutil.copytree(FIXTURES / "base_rules", tmp_path / "repo")
    shutil.copy(broken, tmp_path / "repo" / "rules" / "red_flags" / broken.name)
    result = run("rules", "check", "--rules", str(tmp_path / "repo" / "rules"))
    assert result.returncode == 4
    assert broken.name in result.stderr


def test_rules_check_and_test_pass_on_bundled_rules() -> None:
    assert run("rules", "check").returncode == 0
    result = run("rules", "test")
    assert result.returncode == 0, result.stdout
    assert " 0 failed" in result.stdout


def test_rules_list_json_has_citations_and_vector_counts() -> None:
    listing = json.loads(run("rules", "list", "--format", "json").stdout)
    assert listing
    for rule in listing:
        assert rule["cites"], rule["id"]
        assert all(rule["vectors"][k] >= 1 for k in ("fired", "not_fired", "undetermined")), rule["id"]


def test_unreadable_file_is_a_usage_error() -> None:
    result = run("evaluate", "/nonexistent/patient.json")
    assert result.returncode == 2


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ("ces_recent_onset_days: 100000", "parameters.ces_recent_onset_days: 100000 is outside 1-365"),
        ("ces_recent_onset_day: 90", "did you mean 'ces_recent_onset_days'"),
    ],
)
def test_site_parameter_out_of_range_or_misspelt_is_refused(tmp_path: Path, parameters: str, message: str) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(f"site: Test board\nparameters:\n  {parameters}\n", encoding="utf-8")
    result = run("evaluate", "--site-config", str(site), str(EXAMPLES / "rf_cauda_equina.json"))
    assert result.returncode == 4
    assert message in result.stderr
    assert result.stdout == ""


def test_site_parameter_in_force_is_recorded_in_the_decision(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("site: Test board\nparameters:\n  ces_recent_onset_days: 90\n", encoding="utf-8")
    decision = json.loads(run("evaluate", "--site-config", str(site), str(EXAMPLES / "rf_cauda_equina.json")).stdout)
    assert decision["parameters"]["ces_recent_onset_days"]["value"] == 90
    assert decision["parameters"]["ces_recent_onset_days"]["source"] == "site"
    assert decision["parameters"]["malignancy_age_over"]["source"] == "default"


def test_one_exit_code_table_in_help_and_readme() -> None:
    from painpath.cli.exit_codes import DESCRIPTIONS, ExitCode

    assert list(ExitCode) == [0, 1, 2, 3, 4, 5]  # the published numbers
    help_text = " ".join(run("--help").stdout.split())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code, text in DESCRIPTIONS.items():
        assert f"{code.value} {text}" in help_text
        assert f"| `{code.value}` | {text} |" in readme
