"""A digest of every rendered decision for a seeded synthetic cohort, to check that a change alters no output.

Run it in two checkouts (each with its own virtualenv) and compare the printed digests: equal digests mean
that every decision rendered with the full trace and the default summary trace, the clinician text, and
the Kleene path's full trace are byte for byte the same (decision ids and times are fixed, so they do not
differ). With ``--out FILE`` the rendered decisions are also written, one JSON line per patient, to diff.

    .venv/bin/python benchmarks/decision_digest.py [--n 2000] [--seed 20261121] [--out decisions.jsonl]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import orjson

from painpath.audit.synth import cohort
from painpath.engine import Engine, decision_to_dict, decision_to_text
from painpath.facts import parse_facts_json

ROOT = Path(__file__).resolve().parents[1]
CREATED_AT = "2026-01-01T00:00:00.000+00:00"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--out", type=Path, default=None, help="also write the rendered decisions (JSON lines)")
    args = parser.parse_args(argv)
    engine = Engine.from_directory(ROOT / "rules")
    digest = hashlib.sha256()
    out = args.out.open("wb") if args.out is not None else None
    try:
        for i, patient in enumerate(cohort(args.n, args.seed)):
            raw = json.dumps(patient).encode()
            ids = {"decision_id": f"d{i}", "created_at": CREATED_AT}
            durable = engine.evaluate(parse_facts_json(raw), **ids)
            kleene = engine.evaluate(parse_facts_json(raw), evaluator="kleene", **ids)
            record = {
                "full": decision_to_dict(durable, trace="full"),
                "summary": decision_to_dict(durable, trace="summary"),
                "text": decision_to_text(durable),
                "kleene": decision_to_dict(kleene, trace="full"),
            }
            line = orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"
            digest.update(line)
            if out is not None:
                out.write(line)
    finally:
        if out is not None:
            out.close()
    stats = engine.stats
    print(
        f"{args.n} patients (seed {args.seed}), ruleset {engine.ruleset.version} "
        f"({engine.ruleset.content_hash[:12]}): sha256 {digest.hexdigest()}; "
        f"disagreements {stats.disagreements}, engine errors {stats.engine_errors}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
