"""Engine benchmark: per-patient latency and batch throughput on a seeded synthetic cohort.

Prints, for the full bundled rule set, one process:
  * facts validation alone (parse + flatten): the floor;
  * the Kleene reference path (generated three-valued evaluator, full decision, no durable-rules);
  * the durable-rules path (durable-rules decides, the Kleene evaluator explains and cross-checks);
and the ratios, plus the number of evaluator disagreements (must be 0).

    .venv/bin/python benchmarks/engine_bench.py [--n 10000] [--seed 20261121]

The cohort is synthetic (clearly labelled; ``painpath.audit.synth``, the generator of ``painpath synth``),
varied in red flags, missing data and care at the rates documented in its ``synth_rates.yaml``.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from painpath.audit.synth import cohort as synthetic_cohort
from painpath.engine import Engine
from painpath.facts import flatten, parse_facts

ROOT = Path(__file__).resolve().parents[1]


def cohort(n: int, seed: int) -> list[dict[str, Any]]:
    return list(synthetic_cohort(n, seed))


def measure(label: str, fn: Any, patients: list[dict[str, Any]], warmup: int = 300) -> dict[str, float]:
    for p in patients[:warmup]:
        fn(p)
    gc.collect()
    times = []
    started = time.perf_counter()
    for p in patients:
        t0 = time.perf_counter_ns()
        fn(p)
        times.append((time.perf_counter_ns() - t0) / 1000.0)
    wall = time.perf_counter() - started
    times.sort()
    res = {
        "p50": statistics.median(times),
        "p99": times[int(0.99 * (len(times) - 1))],
        "mean": statistics.fmean(times),
        "per_s": len(patients) / wall,
    }
    print(f"{label:<44} p50 {res['p50']:8.1f} us   p99 {res['p99']:8.1f} us   {res['per_s']:9.0f} patients/s")
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args(argv)

    engine = Engine.from_directory(ROOT / "rules")
    rs = engine.ruleset
    leaves = sum(s.leaf_count for s in rs.strata)
    print(
        f"painpath engine benchmark: {len(rs.rules)} rules ({leaves} conditions) in {len(rs.strata)} strata, "
        f"ruleset {rs.version} ({rs.content_hash[:12]})"
    )
    print(
        f"python {platform.python_version()} on {platform.machine()}, {platform.processor() or 'cpu'}; "
        f"SYNTHETIC cohort n={args.n} seed={args.seed}"
    )
    patients = cohort(args.n, args.seed)
    facts = [parse_facts(p) for p in patients]
    fired = [len(engine.evaluate(f).fired) for f in facts[:1000]]
    print(f"mean rules fired per patient {statistics.fmean(fired):.1f} (first 1,000)")

    floor = measure("facts validation alone (floor)", lambda p: flatten(parse_facts(p)), patients)
    kleene = measure(
        "reference path: Kleene evaluator, full decision",
        lambda p: engine.evaluate(parse_facts(p), evaluator="kleene"),
        patients,
    )
    before = engine.stats.disagreements + engine.stats.engine_errors
    durable = measure(
        "durable-rules path (cross-checked), full decision",
        lambda p: engine.evaluate(parse_facts(p), evaluator="durable"),
        patients,
    )
    bad = engine.stats.disagreements + engine.stats.engine_errors - before
    print(f"evaluator disagreements + engine errors: {bad} of {args.n}")
    print(
        f"ratios (p50): durable/reference {durable['p50'] / kleene['p50']:.2f}x (target <= 3x); "
        f"durable/floor {durable['p50'] / floor['p50']:.2f}x; reference/floor {kleene['p50'] / floor['p50']:.2f}x"
    )
    ok = durable["p99"] < 1000 and durable["p50"] <= 3 * kleene["p50"] and durable["per_s"] >= 3000 and bad == 0
    print(
        "targets (p99 < 1 ms, durable within 3x of reference, >= 3,000 patients/s, 0 disagreements): "
        + ("MET" if ok else "NOT MET")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
