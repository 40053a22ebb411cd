"""Starting the service: first start, fail-closed on invalid rules, development mode, key management."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from painpath.api.examples import CAUDA_EQUINA_FACTS
from painpath.api.testing import ServerFailed, service_env, start_server
from painpath.engine import Engine
from painpath.engine.render import decision_to_dict
from painpath.facts import parse_facts
from painpath.paths import default_rules_dir


def test_first_start_creates_the_database_and_prints_the_url(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = service_env(data)
    server = start_server(env, tmp_path / "first.log")
    try:
        out = "".join(server.stdout)
        assert f"created the decision log at sqlite:///{(data / 'painpath.sqlite3').resolve()}" in out
        assert "no API keys yet" in out
        assert f"serving {server.base_url}" in out
        assert server.base_url.startswith("http://127.0.0.1:")
        assert (data / "painpath.sqlite3").is_file()
        with httpx.Client(base_url=server.base_url) as client:
            assert client.get("/readyz").json()["status"] == "ready"
            assert client.get("/v1/rules").status_code == 401, "keys are required outside development mode"
    finally:
        assert server.stop() == 0, "SIGTERM stops the service gracefully"
    assert "Finished server process" in server.logs()
    again = start_server(env, tmp_path / "second.log")
    try:
        assert "created the decision log" not in "".join(again.stdout)
    finally:
        again.stop()


def _broken_rules(tmp_path: Path) -> Path:
    rules = default_rules_dir()
    copy = tmp_path / "repo"
    shutil.copytree(rules, copy / "rules")
    shutil.copytree(rules.parent / "guidelines", copy / "guidelines")
    (copy / "rules" / "red_flags" / "zz_broken.yaml").write_text(
        "id: RF_BROKEN_FOR_TEST\nversion: 1.0.0\ntitle: Broken\nstatus: active\ncites: [girft-ces-2023]\n"
        "rationale: x\nwhen: {fact: red_flags.saddle_anesthesia, eq: true}\n"
        "concludes: {kind: red_flag, condition: x, urgency: emergency, action: x}\nexplanation: x\n"
        "vectors:\n  - {name: a, expect: fired}\n  - {name: b, expect: not_fired}\n"
        "  - {name: c, expect: undetermined}\n",
        encoding="utf-8",
    )
    return copy / "rules"


def test_invalid_rules_stop_the_start_and_say_why(tmp_path: Path) -> None:
    env = service_env(tmp_path / "data", extra={"PAINPATH_RULES_DIR": str(_broken_rules(tmp_path))})
    with pytest.raises(ServerFailed) as failed:
        start_server(env, tmp_path / "server.log")
    assert failed.value.returncode == 4
    assert "refusing to start" in failed.value.stderr
    assert "zz_broken.yaml" in failed.value.stderr
    assert "red_flags.saddle_anesthesia" in failed.value.stderr
    assert not (tmp_path / "data" / "painpath.sqlite3").exists(), "nothing is created before the rules are valid"


def test_development_mode_is_refused_off_loopback(tmp_path: Path) -> None:
    env = service_env(tmp_path / "data", dev_mode=True)
    with pytest.raises(ServerFailed) as failed:
        start_server(env, tmp_path / "server.log", host="0.0.0.0")  # noqa: S104 - the address being refused
    assert failed.value.returncode == 4  # invalid configuration (the one exit-code table; was 2, "config")
    assert "loopback" in failed.value.stderr


def test_development_mode_on_loopback_needs_no_key(tmp_path: Path) -> None:
    server = start_server(service_env(tmp_path / "data", dev_mode=True), tmp_path / "server.log")
    try:
        assert "development mode" in "".join(server.stdout)
        with httpx.Client(base_url=server.base_url) as client:
            created = client.post(
                "/v1/evaluations",
                content=b'{"demographics": {"age": 61}}',
                headers={"content-type": "application/json"},
            )
            assert created.status_code == 201
            assert client.get(created.headers["location"]).content == created.content
    finally:
        server.stop()


def _keys(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "painpath.cli.keys", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_key_cli_prints_a_token_once_and_can_revoke_it(tmp_path: Path) -> None:
    env = service_env(tmp_path / "data")
    created = _keys(env, "create", "--role", "triage", "--name", "ward 7 tablet")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("ppk_k") and "\n" not in token
    listing = _keys(env, "list")
    key_id = token[len("ppk_") :].split(".")[0]
    assert key_id in listing.stdout and "triage" in listing.stdout and "ward 7 tablet" in listing.stdout
    assert token not in listing.stdout and token.split(".")[1] not in listing.stdout
    assert token not in (tmp_path / "data" / "painpath.sqlite3").read_bytes().decode("latin-1")

    server = start_server(env, tmp_path / "server.log")
    try:
        revoked = _keys(env, "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        with httpx.Client(base_url=server.base_url, headers={"authorization": f"Bearer {token}"}) as client:
            assert client.get("/v1/rules").status_code == 401
    finally:
        server.stop()
    assert _keys(env, "revoke", key_id).returncode == 1, "a key cannot be revoked twice"
    assert _keys(env, "create", "--role", "superuser").returncode == 2


def test_invalid_settings_stop_the_start_and_name_the_variable(tmp_path: Path) -> None:
    env = service_env(tmp_path / "data", extra={"PAINPATH_MAX_BODY_BYTES": "12"})
    with pytest.raises(ServerFailed) as failed:
        start_server(env, tmp_path / "server.log")
    assert failed.value.returncode == 4  # invalid configuration (the one exit-code table; was 2, "config")
    assert "PAINPATH_MAX_BODY_BYTES" in failed.value.stderr


def test_evaluating_in_the_server_process_gives_the_same_answers(tmp_path: Path) -> None:
    """``PAINPATH_WORKERS=0`` (the default on one CPU): no worker processes, same contract."""
    env = service_env(tmp_path / "data", dev_mode=True, extra={"PAINPATH_WORKERS": "0"})
    server = start_server(env, tmp_path / "server.log")
    engine = Engine.from_directory(default_rules_dir())
    try:
        with httpx.Client(base_url=server.base_url, headers={"content-type": "application/json"}) as client:
            assert "evaluation" not in client.get("/readyz").json()["checks"]
            created = client.post("/v1/evaluations", content=json.dumps(CAUDA_EQUINA_FACTS).encode())
            bad = client.post("/v1/evaluations", content=b'{"red_flags": {"saddle_anesthesia": true}}')
    finally:
        server.stop()
    assert created.status_code == 201
    expected = decision_to_dict(engine.evaluate(parse_facts(CAUDA_EQUINA_FACTS)), trace="summary")
    identity = ("decision_id", "created_at")
    assert {k: v for k, v in created.json().items() if k not in identity} == {
        k: v for k, v in expected.items() if k not in identity
    }
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["suggestion"] == "red_flags.saddle_anaesthesia"
