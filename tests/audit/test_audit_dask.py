"""The same audit on a real dask.distributed cluster (LocalCluster, two worker processes) matches the local run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit.test_audit_cli import run

distributed = pytest.importorskip("distributed")

N = 120


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="1GiB"
    ) as c:
        yield c.scheduler_address


def _comparable(out: Path) -> dict[str, object]:
    summary = json.loads((out / "summary.json").read_text())
    for key in ("engine", "workers", "evaluation_seconds"):
        summary.pop(key)
    return summary


def test_dask_run_matches_the_local_run(cluster: str, tmp_path: Path) -> None:
    cohort = tmp_path / "c.jsonl"
    assert run("synth", "--n", str(N), "--seed", "11", stdout=cohort).returncode == 0
    with cohort.open("ab") as f:
        f.write(b'{"pain": {"intensity_nrs": 11}}\n')
    local, remote = tmp_path / "local", tmp_path / "dask"
    done = run("audit", str(cohort), "--out", str(local), "--jobs", "1")
    assert done.returncode == 0, done.stderr
    done = run(
        "audit", str(cohort), "--out", str(remote), "--engine", "dask", "--scheduler", cluster, "--chunk-size", "25"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((remote / "summary.json").read_text())["engine"] == "dask"
    assert _comparable(remote) == _comparable(local)
    for name in ("patients.csv", "rejected.csv", "measures.csv", "missing_facts.csv"):
        assert (remote / name).read_bytes() == (local / name).read_bytes(), name
    assert _comparable(local)["records"]["rejected"] == 1


def test_dask_without_a_scheduler_is_a_usage_error(tmp_path: Path) -> None:
    cohort = tmp_path / "c.jsonl"
    cohort.write_text("{}\n")
    done = run("audit", str(cohort), "--out", str(tmp_path / "o"), "--engine", "dask")
    assert done.returncode == 2
    assert "--scheduler" in done.stderr
