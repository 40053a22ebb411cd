"""``python -m painpath.fhir --write`` / ``--check``: the Questionnaire file kept in the repository."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from painpath.fhir.questionnaire import QUESTIONNAIRE_FILE, questionnaire_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check fhir/Questionnaire-painpath-msk.json.")
    parser.add_argument("--file", default=str(QUESTIONNAIRE_FILE))
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    path = Path(args.file)
    text = questionnaire_text()
    if args.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return 0
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        print(f"{path} differs from the question catalogue: run `make questionnaire`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
