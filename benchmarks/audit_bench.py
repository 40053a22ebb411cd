"""Audit benchmark: throughput, peak memory and the cost over reading and validating alone.

Writes a SYNTHETIC cohort (``painpath.audit.synth``, the generator of ``painpath synth``), then, each
in a fresh process so the memory figures do not mix:
  * read and validate alone: stream the file and parse every line as patient facts (one process);
  * the full audit (``run_audit``, the code behind ``painpath audit``) with ``--jobs`` worker
    processes, on a small cohort and on the full one, to show that peak memory does not grow with the
    cohort (the reading process and the largest worker, from ``resource.getrusage``).

    .venv/bin/python benchmarks/audit_bench.py [--n 100000] [--small 10000] [--jobs 2] [--seed 7]

Targets on the 2-core machine: >= 4,000 patients/s, flat memory, audit within 5x of read-and-validate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from painpath.audit.readers import FORMATS
from painpath.audit.runner import AuditOptions, run_audit
from painpath.audit.synth import write_cohort

ROOT = Path(__file__).resolve().parents[1]


def _rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # kilobytes on Linux


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure_validate(cohort: Path) -> dict[str, float]:
    started = time.perf_counter()
    n = 0
    jsonl = FORMATS["jsonl"]  # what the audit's workers do with each line: facts and envelope (site, clinician)
    with cohort.open("rb") as f:
        for _line_no, record in jsonl.records(f):
            jsonl.to_facts(record, None)
            n += 1
    seconds = time.perf_counter() - started
    return {
        "n": n,
        "seconds": seconds,
        "cpu": _cpu_seconds(resource.RUSAGE_SELF),
        "rss_self": _rss_mib(resource.RUSAGE_SELF),
    }


def measure_audit(cohort: Path, jobs: int, subject_lists: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        summary = run_audit(
            AuditOptions(cohort=cohort, out=Path(out), jobs=jobs, rules_dir=ROOT / "rules", subject_lists=subject_lists)
        )
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in Path(out).iterdir() if p.is_file())
    return {
        "n": summary["records"]["evaluated"],
        "seconds": seconds,
        "evaluation_seconds": summary["evaluation_seconds"],
        "cpu": _cpu_seconds(resource.RUSAGE_SELF) + _cpu_seconds(resource.RUSAGE_CHILDREN),
        "cpu_reader": _cpu_seconds(resource.RUSAGE_SELF),
        "rss_self": _rss_mib(resource.RUSAGE_SELF),
        "rss_children": _rss_mib(resource.RUSAGE_CHILDREN),
        "output_mib": size / 2**20,
        "manual_review": summary["decisions"].get("manual_review", 0),
    }


def _in_child(*args: str) -> dict[str, float]:
    """Run one measurement in a fresh interpreter (so getrusage covers only it)."""
    done = subprocess.run(
        [sys.executable, __file__, "--measure", *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-subject-list", action="store_true")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        what, cohort, *rest = args.measure
        if what == "validate":
            print(json.dumps(measure_validate(Path(cohort))))
        else:
            print(json.dumps(measure_audit(Path(cohort), int(rest[0]), rest[1] == "1")))
        return 0

    print(
        f"painpath audit benchmark: python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs; SYNTHETIC cohorts seed {args.seed}; --jobs {args.jobs}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        cohorts = {}
        for n in (args.small, args.n):
            path = Path(tmp) / f"cohort-{n}.jsonl"
            started = time.perf_counter()
            with path.open("w", encoding="utf-8") as f:
                write_cohort(f, n, args.seed)
            cohorts[n] = path
            print(f"wrote {n:>7} synthetic patients in {time.perf_counter() - started:6.1f} s")
        subject = "0" if args.no_subject_list else "1"
        floor = _in_child("validate", str(cohorts[args.n]))
        print(
            f"read and validate alone   n={floor['n']:>7.0f}  {floor['seconds']:7.1f} s  "
            f"{floor['n'] / floor['seconds']:8.0f} patients/s  cpu {floor['cpu']:7.1f} s  "
            f"peak {floor['rss_self']:6.0f} MiB"
        )
        runs = {}
        for n in (args.small, args.n):
            r = _in_child("audit", str(cohorts[n]), str(args.jobs), subject)
            runs[n] = r
            print(
                f"audit, {args.jobs} workers        n={r['n']:>7.0f}  {r['seconds']:7.1f} s  "
                f"{r['n'] / r['seconds']:8.0f} patients/s  cpu {r['cpu']:7.1f} s (reader {r['cpu_reader']:.1f} s)  "
                f"peak reader {r['rss_self']:5.0f} MiB, "
                f"largest worker {r['rss_children']:5.0f} MiB; reports {r['output_mib']:.0f} MiB; "
                f"manual review {r['manual_review']:.0f}"
            )
        big, small = runs[args.n], runs[args.small]
        per_s = big["n"] / big["seconds"]
        ratio = big["seconds"] / floor["seconds"]
        growth = max(big["rss_self"] / small["rss_self"], big["rss_children"] / small["rss_children"])
        # On a shared machine wall time measures the share of the CPU we got; CPU time does not.
        cpu_per_s = big["n"] / (big["cpu"] / args.jobs)
        print(
            f"memory {args.small} -> {args.n} patients: x{growth:.2f} (flat if close to 1); "
            f"audit / read-and-validate: {ratio:.1f}x wall, {big['cpu'] / floor['cpu']:.1f}x cpu; "
            f"if the {args.jobs} cores were ours alone (cpu time / {args.jobs}): {cpu_per_s:.0f} patients/s"
        )
        ok = per_s >= 4000 and ratio <= 5 and growth <= 1.25
        print(
            "targets (>= 4,000 patients/s, audit within 5x of read-and-validate, flat memory): "
            + ("MET" if ok else "NOT MET")
            + f" ({per_s:.0f} patients/s, {ratio:.1f}x, memory x{growth:.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
