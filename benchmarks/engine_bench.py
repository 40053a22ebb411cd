"""Engine benchmark: what a caller waits for, per patient, on a seeded synthetic cohort (one process).

Prints, in one run, for the full bundled rule set, each path starting from the JSON bytes a caller sends:
  * the floor: facts validation alone (``parse_facts_json`` + flatten);
  * the Kleene path (generated three-valued evaluator, full Decision, no durable-rules);
  * the durable-rules path (durable-rules decides, the Kleene evaluator explains and cross-checks);
  * the durable-rules path including the default JSON render (summary trace, serialised), and its size;
each as p50 / p99 / patients per second (wall, and from CPU time) and as a ratio to the floor; then the
alternatives side by side (reused durable-rules session per stratum, the design, vs one session per
evaluation), memory over many patients with the reused sessions, and the decision log's storage per
decision with a replay check. Evaluator disagreements and engine errors must be 0.

    .venv/bin/python benchmarks/engine_bench.py [--n 10000] [--seed 20261121] [--memory 20000]

The cohort is synthetic (clearly labelled; ``painpath.audit.synth``, the generator of ``painpath synth``),
varied in red flags, missing data and care at the rates documented in its ``synth_rates.yaml``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import zstandard

from painpath.api.compression import GZIP_LEVEL, ZSTD_LEVEL
from painpath.audit.synth import cohort as synthetic_cohort
from painpath.engine import Engine, decision_to_dict
from painpath.engine.durable_adapter import DurableCore
from painpath.facts import flatten, parse_facts, parse_facts_json

ROOT = Path(__file__).resolve().parents[1]


def measure(label: str, fn: Callable[[bytes], Any], bodies: list[bytes], warmup: int = 300) -> dict[str, float]:
    for b in bodies[:warmup]:
        fn(b)
    gc.collect()
    times = []
    started, cpu0 = time.perf_counter(), time.process_time()
    for b in bodies:
        t0 = time.perf_counter_ns()
        fn(b)
        times.append((time.perf_counter_ns() - t0) / 1000.0)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    times.sort()
    res = {
        "p50": statistics.median(times),
        "p99": times[int(0.99 * (len(times) - 1))],
        "per_s": len(bodies) / wall,
        "cpu_per_s": len(bodies) / cpu if cpu else float("inf"),
    }
    print(
        f"  {label:<46} p50 {res['p50']:7.1f} us  p99 {res['p99']:7.1f} us  "
        f"{res['per_s']:6.0f}/s (cpu {res['cpu_per_s']:6.0f}/s)",
        end="",
    )
    return res


def side_by_side(
    a: tuple[str, Callable[[bytes], Any]], b: tuple[str, Callable[[bytes], Any]], bodies: list[bytes]
) -> tuple[dict[str, float], dict[str, float]]:
    """Two alternatives measured alternately on each patient, so drift in the machine's load hits both alike."""
    for body in bodies[:300]:
        a[1](body)
        b[1](body)
    gc.collect()
    times: tuple[list[float], list[float]] = ([], [])
    for i, body in enumerate(bodies):
        order = ((0, a[1]), (1, b[1])) if i % 2 else ((1, b[1]), (0, a[1]))
        for k, fn in order:
            t0 = time.perf_counter_ns()
            fn(body)
            times[k].append((time.perf_counter_ns() - t0) / 1000.0)
    out = []
    for (label, _fn), ts in zip((a, b), times, strict=True):
        ts.sort()
        res = {"p50": statistics.median(ts), "p99": ts[int(0.99 * (len(ts) - 1))], "per_s": 1e6 / statistics.fmean(ts)}
        print(f"  {label:<46} p50 {res['p50']:7.1f} us  p99 {res['p99']:7.1f} us  {res['per_s']:6.0f}/s")
        out.append(res)
    return out[0], out[1]


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def storage(engine: Engine, bodies: list[bytes]) -> None:
    """Median stored bytes per decision in a fresh SQLite decision log, and a replay check."""
    from painpath.replay import Replayer, archive_ruleset  # noqa: PLC0415
    from painpath.store import DecisionRecord, open_store  # noqa: PLC0415
    from painpath.store.tables import decisions  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="painpath-bench-") as tmp:
        store = open_store(f"sqlite:///{tmp}/log.db")
        archive_ruleset(store, engine)
        ids = []
        for raw in bodies:
            d = engine.evaluate(parse_facts_json(raw))
            doc = decision_to_dict(d, trace="summary")
            store.decisions.append(
                DecisionRecord(
                    decision_id=d.decision_id,
                    created_at=datetime.datetime.fromisoformat(d.created_at),
                    caller_key_id="kbench",
                    status=d.status,
                    engine_version=d.engine_version,
                    ruleset_name=d.ruleset_name,
                    ruleset_version=d.ruleset_version,
                    ruleset_hash=d.ruleset_hash,
                    parameters=orjson.dumps(doc["parameters"]).decode(),
                    input_facts=raw.decode(),
                    output_json=orjson.dumps(doc).decode(),
                )
            )
            ids.append(d.decision_id)
        c = decisions.c
        with store.engine.connect() as conn:
            rows = conn.execute(decisions.select()).mappings().all()
        sizes = sorted(sum(len(row[col.name] or b"") if col.name != "created_at" else 8 for col in c) for row in rows)
        replayer = Replayer(engine, store.decisions.rulesets)
        same = 0
        for i in ids[:200]:
            rec = store.decisions.get(i)
            assert rec is not None
            full = replayer.rederive(rec, "full")  # raises unless the summary re-derives byte for byte
            same += orjson.loads(full)["decision_id"] == i
        store.close()
    print(
        f"  decision log: {statistics.median(sizes) / 1024:.2f} KiB median per stored decision "
        f"(p90 {sizes[int(0.9 * (len(sizes) - 1))] / 1024:.2f} KiB, n={len(sizes)}; target <= 4 KiB); "
        f"replayed {same} of {min(200, len(ids))} byte for byte"
    )


def response_sizes(
    engine: Engine, render: Callable[[bytes], bytes], wire: Callable[[bytes], bytes], bodies: list[bytes]
) -> None:
    """The default response's size as JSON and on the wire (zstd and gzip, as the API sends it)."""
    rendered = [render(b) for b in bodies[:2000]]
    sizes = sorted(map(len, rendered))
    zstd_sizes = sorted(len(wire(r)) for r in rendered)
    gzip_sizes = sorted(len(gzip.compress(r, GZIP_LEVEL, mtime=0)) for r in rendered)
    full_sizes = sorted(
        len(orjson.dumps(decision_to_dict(engine.evaluate(parse_facts_json(b)), trace="full"))) for b in bodies[:500]
    )

    def p90(xs: list[int]) -> float:
        return xs[int(0.9 * (len(xs) - 1))] / 1024

    print(
        f"  default response (summary trace) on the wire: zstd {statistics.median(zstd_sizes) / 1024:.1f} KiB median "
        f"(p90 {p90(zstd_sizes):.1f}), gzip {statistics.median(gzip_sizes) / 1024:.1f} KiB (p90 {p90(gzip_sizes):.1f}) "
        f"(target <= 8 KiB); as JSON {statistics.median(sizes) / 1024:.1f} KiB (p90 {p90(sizes):.1f}); "
        f"full trace {statistics.median(full_sizes) / 1024:.1f} KiB median as JSON"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--memory", type=int, default=20_000, help="patients for the memory check (0: skip)")
    args = parser.parse_args(argv)

    engine = Engine.from_directory(ROOT / "rules")
    per_eval = Engine(engine.ruleset)
    per_eval._durable = DurableCore(engine.ruleset, per_eval.parameters, sessions="per_evaluation")
    rs = engine.ruleset
    leaves = sum(s.leaf_count for s in rs.strata)
    print(
        f"painpath engine benchmark: {len(rs.rules)} rules ({leaves} conditions) in {len(rs.strata)} strata, "
        f"ruleset {rs.version} ({rs.content_hash[:12]})"
    )
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; SYNTHETIC cohort n={args.n} seed={args.seed}; {datetime.date.today()}"
    )
    bodies = [json.dumps(p).encode() for p in synthetic_cohort(args.n, args.seed)]
    fired = [len(engine.evaluate(parse_facts_json(b)).fired) for b in bodies[:1000]]
    print(f"mean rules fired per patient {statistics.fmean(fired):.1f} (first 1,000)")

    def render(eng: Engine, raw: bytes) -> bytes:
        return orjson.dumps(decision_to_dict(eng.evaluate(parse_facts_json(raw)), trace="summary"))

    zstd = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    wire = zstd.compress  # what painpath.api.compression sends a client that accepts zstd

    print("paths (each from the JSON bytes of one patient):")
    floor = measure("floor: facts validation (parse + flatten)", lambda b: flatten(parse_facts_json(b)), bodies)
    print()
    dicts = {b: json.loads(b) for b in bodies}
    from_dict = measure("  (validation from a decoded dict instead)", lambda b: flatten(parse_facts(dicts[b])), bodies)
    print(f"  x{from_dict['p50'] / floor['p50']:.2f}")
    rows: list[tuple[str, dict[str, float]]] = []
    before = engine.stats.disagreements + engine.stats.engine_errors
    for label, fn in (
        ("Kleene path, full Decision", lambda b: engine.evaluate(parse_facts_json(b), evaluator="kleene")),
        ("durable-rules path (cross-checked), Decision", lambda b: engine.evaluate(parse_facts_json(b))),
        ("durable-rules path + default JSON render", lambda b: render(engine, b)),
        ("  the same + zstd (the HTTP response's bytes)", lambda b: wire(render(engine, b))),
    ):
        res = measure(label, fn, bodies)
        print(f"  x{res['p50'] / floor['p50']:.2f} floor")
        rows.append((label, res))
    bad = engine.stats.disagreements + engine.stats.engine_errors - before
    response_sizes(engine, lambda b: render(engine, b), wire, bodies)
    print(f"evaluator disagreements + engine errors: {bad} of {4 * args.n + 300 * 4}")

    print("alternatives side by side (durable-rules path + default render; interleaved patient by patient):")
    reused, own = side_by_side(
        ("reused session per stratum (the design)", lambda b: render(engine, b)),
        ("one session per evaluation (the first design)", lambda b: render(per_eval, b)),
        bodies,
    )
    core_reused, core_own = side_by_side(
        ("  the same, Decision only (no render)", lambda b: engine.evaluate(parse_facts_json(b))),
        ("  the same, Decision only (no render) ", lambda b: per_eval.evaluate(parse_facts_json(b))),
        bodies,
    )
    print(
        f"  Decision only: reused / per-evaluation throughput x{core_reused['per_s'] / core_own['per_s']:.2f}, "
        f"p99 x{core_reused['p99'] / core_own['p99']:.2f}"
    )
    print(
        f"  reused / per-evaluation: throughput x{reused['per_s'] / own['per_s']:.2f}, "
        f"p50 x{reused['p50'] / own['p50']:.2f}, p99 x{reused['p99'] / own['p99']:.2f}; "
        f"sessions rebuilt {engine._durable.rebuilds}"
    )

    if args.memory:
        gc.collect()
        marks = []
        start = rss_mib()
        for i in range(args.memory):
            engine.evaluate(parse_facts_json(bodies[i % len(bodies)]))
            if (i + 1) % (args.memory // 4) == 0:
                marks.append(f"{i + 1}: {rss_mib():.0f}")
        print(
            f"memory (reused sessions, durable-rules path): RSS {start:.0f} MiB at start; "
            + ", ".join(marks)
            + f" MiB; idle check {engine._durable.idle_check() or 'ok'}"
        )

    storage(engine, bodies[:2000])

    total = rows[2][1]
    ratio = total["p50"] / floor["p50"]
    ok = total["per_s"] >= 3000 and total["p99"] < 1000 and ratio <= 6 and bad == 0
    print(
        f"targets (durable path + default render: >= 3,000 patients/s, p99 < 1 ms, within 6x of the floor; "
        f"0 disagreements): {'MET' if ok else 'NOT MET'} ({total['per_s']:.0f}/s, cpu {total['cpu_per_s']:.0f}/s, "
        f"p99 {total['p99']:.0f} us, x{ratio:.2f}, {bad} disagreements)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
