"""Issue 16: settings with pydantic-settings - the environment, an optional TOML or .env file, one table.

Values come from the command line, then ``PAINPATH_*`` variables, then ``PAINPATH_SETTINGS_FILE``; a bad
value or an unknown name stops the start with exit code 4 and names the setting where it was written.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from painpath.api.settings import READ_ELSEWHERE, ServiceConfigError, Settings, settings_table, variable
from painpath.api.testing import ServerFailed, service_env, start_server
from painpath.cli.exit_codes import ExitCode

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process environment without PAINPATH_* settings (the rules directory may stay)."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("PAINPATH_") and name != "PAINPATH_RULES_DIR":
            monkeypatch.delenv(name)
    return monkeypatch


def test_the_docs_table_is_the_models() -> None:
    doc = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    start, end = "<!-- settings-table:start -->\n", "<!-- settings-table:end -->"
    assert doc.split(start, 1)[1].split(end, 1)[0] == settings_table(), (
        "docs/settings.md is out of date: run python -m painpath.api.settings --write-docs"
    )
    for name in Settings.model_fields:
        assert f"| `{variable(name)}` | `{name}` |" in settings_table()
    for name in READ_ELSEWHERE:
        assert f"| `{name}` | (environment only) |" in settings_table()


def test_environment_then_file_then_default_and_the_command_line_wins(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "painpath.toml"
    file.write_text('port = 9001\nhost = "127.0.0.2"\naudit_workers = 3\n', encoding="utf-8")
    clean_env.setenv("PAINPATH_SETTINGS_FILE", str(file))
    clean_env.setenv("PAINPATH_PORT", "9002")
    clean_env.setenv("PAINPATH_LOG_LEVEL", "")  # empty: unset
    settings = Settings.from_env()
    assert (settings.port, settings.host, settings.audit_workers) == (9002, "127.0.0.2", 3)
    assert settings.log_level == "INFO"
    assert settings.max_body_bytes == 1_048_576
    assert Settings.from_env(port=7000, host=None).port == 7000  # None: the option was not given


def test_a_dotenv_file_uses_the_variable_names(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    file = tmp_path / "painpath.env"
    file.write_text("# the service\nPAINPATH_PORT=9003\nPAINPATH_DEV_MODE=1\n", encoding="utf-8")
    clean_env.setenv("PAINPATH_SETTINGS_FILE", str(file))
    settings = Settings.from_env()
    assert (settings.port, settings.dev_mode) == (9003, True)


@pytest.mark.parametrize(
    "case",
    [
        ("bad.toml", 'port = "eighty"\n', "port in {file}", "valid integer"),
        ("typo.toml", "prot = 80\n", "prot in {file}", "did you mean 'port'?"),
        ("typo.env", "PAINPATH_HOTS=127.0.0.1\n", "PAINPATH_HOTS in {file}", "did you mean 'PAINPATH_HOST'?"),
        ("broken.toml", "port = \n", "PAINPATH_SETTINGS_FILE", "broken.toml"),
        ("settings.yaml", "port: 80\n", "PAINPATH_SETTINGS_FILE", "TOML (.toml) or a .env file"),
    ],
)
def test_a_bad_settings_file_names_the_key_and_the_file(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, case: tuple[str, str, str, str]
) -> None:
    name, text, location, expected = case
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    clean_env.setenv("PAINPATH_SETTINGS_FILE", str(file))
    with pytest.raises(ServiceConfigError) as failed:
        Settings.from_env()
    (problem,) = failed.value.problems
    assert problem.location == location.format(file=file)
    assert expected in problem.render()


def test_a_misspelt_variable_is_refused_not_ignored(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PAINPATH_PROT", "9000")
    with pytest.raises(ServiceConfigError) as failed:
        Settings.from_env()
    assert [(p.location, p.suggestion) for p in failed.value.problems] == [("PAINPATH_PROT", "PAINPATH_PORT")]


def test_a_missing_settings_file_is_refused(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PAINPATH_SETTINGS_FILE", str(tmp_path / "nowhere.toml"))
    with pytest.raises(ServiceConfigError) as failed:
        Settings.from_env()
    assert failed.value.problems[0].location == "PAINPATH_SETTINGS_FILE"


def test_the_server_exits_with_the_bad_settings_code_naming_the_key(tmp_path: Path) -> None:
    file = tmp_path / "painpath.toml"
    file.write_text("max_body_bytes = 12\n", encoding="utf-8")
    env = service_env(tmp_path / "data", extra={"PAINPATH_SETTINGS_FILE": str(file)})
    with pytest.raises(ServerFailed) as failed:
        start_server(env, tmp_path / "server.log")
    assert failed.value.returncode == ExitCode.CONFIG
    assert f"max_body_bytes in {file}" in failed.value.stderr


def test_the_settings_file_starts_the_server(tmp_path: Path) -> None:
    file = tmp_path / "painpath.env"
    file.write_text(f"PAINPATH_DATA_DIR={tmp_path / 'from-file'}\n", encoding="utf-8")
    env = service_env(tmp_path / "unused", extra={"PAINPATH_SETTINGS_FILE": str(file)})
    del env["PAINPATH_DATA_DIR"]  # the file's value is used when the environment has none
    server = start_server(env, tmp_path / "server.log")
    try:
        assert (tmp_path / "from-file" / "painpath.sqlite3").is_file()
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("command", [["-m", "painpath.cli.keys", "list"], ["-m", "painpath", "store", "prune"]])
def test_every_command_reading_settings_exits_4_on_a_bad_one(tmp_path: Path, command: list[str]) -> None:
    env = service_env(tmp_path / "data", extra={"PAINPATH_DB_BUSY_TIMEOUT_MS": "soon", "PAINPATH_RETENTION_DAYS": "30"})
    done = subprocess.run([sys.executable, *command], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "PAINPATH_DB_BUSY_TIMEOUT_MS" in done.stderr
