"""The ``painpath`` command line.

Exit codes: the one table of ``painpath.cli.exit_codes``, printed by ``painpath --help`` and by the help
of every subcommand. The help text is plain words (``DESCRIPTION`` and each command's examples).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Any

import structlog

from painpath.audit.readers import FORMATS
from painpath.cli.exit_codes import ExitCode, epilog
from painpath.cli.help import add_command, ruleset_line
from painpath.cli.store import add_store_commands
from painpath.engine import (
    Engine,
    RulesetIR,
    decision_to_dict,
    decision_to_text,
    load_ruleset,
    rule_summary,
    run_vectors,
)
from painpath.errors import FactsValidationError, PainpathError, Problem, RulesValidationError, SettingsError
from painpath.facts import PatientFacts, parse_facts_json
from painpath.facts.questions import load_questions
from painpath.fhir import facts_from_fhir
from painpath.logging import configure_logging
from painpath.paths import default_rules_dir
from painpath.version import __version__

log = structlog.get_logger("painpath.cli")

DESCRIPTION = """\
painpath: guideline-based decision support for chronic musculoskeletal pain.

Evaluate a patient's facts against the bundled rules (red flags, pathways, pain management programme,
referral), run the HTTP service, or audit a cohort. "painpath COMMAND --help" explains each command.

examples:
  painpath evaluate --format text examples/patients/rf_cauda_equina.json
  painpath serve --dev
  painpath synth --n 2000 --seed 7 -o cohort.jsonl && painpath audit cohort.jsonl --out audit/
  painpath rules check"""


def _rules_dir(args: argparse.Namespace) -> Path:
    return Path(args.rules) if args.rules else default_rules_dir()


def _engine(args: argparse.Namespace) -> Engine:
    site = Path(args.site_config) if getattr(args, "site_config", None) else None
    return Engine.from_directory(_rules_dir(args), site_config=site)


def _read_input(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    return Path(name).read_text(encoding="utf-8")


def iso_date(text: str) -> datetime.date:
    """An argparse type: a calendar date ``YYYY-MM-DD``."""
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def _facts_of(name: str, text: str, as_of: datetime.date | None) -> PatientFacts:
    """Patient facts JSON, or a FHIR R4 Bundle / QuestionnaireResponse (assessed as of ``as_of``)."""
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and "resourceType" in decoded:
        mapped = facts_from_fhir(decoded, as_of=as_of)
        for issue in mapped.issues:
            if issue.severity != "information":
                print(f"painpath: {name}: {issue.severity}: {issue.source}: {issue.message}", file=sys.stderr)
        return mapped.facts
    if as_of is not None:
        raise FactsValidationError(
            "--as-of applies to FHIR input",
            [Problem("--as-of", "give assessment_date in the patient facts instead")],
        )
    return parse_facts_json(text)


def cmd_evaluate(args: argparse.Namespace) -> int:
    engine = _engine(args)
    code = ExitCode.OK
    for name in args.files:
        try:
            text = _read_input(name)
        except OSError as exc:
            print(f"painpath: cannot read {name}: {exc.strerror}", file=sys.stderr)
            return ExitCode.USAGE
        try:
            facts = _facts_of(name, text, args.as_of)
        except FactsValidationError as exc:
            print(f"painpath: {name}: {exc}", file=sys.stderr)
            return ExitCode.FACTS
        started = time.perf_counter()
        decision = engine.evaluate(facts, evaluator=args.evaluator)
        log.info(
            "decision_issued",
            decision_id=decision.decision_id,
            status=decision.status,
            ruleset_hash=decision.ruleset_hash[:12],
            latency_ms=round((time.perf_counter() - started) * 1e3, 3),
        )
        if args.format == "text":
            sys.stdout.write(decision_to_text(decision))
            if len(args.files) > 1:
                sys.stdout.write("\n")
        else:
            sys.stdout.write(
                json.dumps(decision_to_dict(decision, trace=args.trace), indent=2 if args.pretty else None) + "\n"
            )
        if decision.status != "ok":
            code = ExitCode.FAILED
    return code


def cmd_rules_check(args: argparse.Namespace) -> int:
    ruleset = load_ruleset(_rules_dir(args))  # rules, guidelines, parameters, vocabulary and scores
    Engine(ruleset)  # compiles both evaluators: durable-rules must accept every stratum
    questions = load_questions()  # the question catalogue must cover every fact
    print(
        f"ok: {len(ruleset.rules)} rules in {len(ruleset.strata)} strata, {len(ruleset.guidelines)} guidelines, "
        f"{len(ruleset.parameters)} parameters, {len(ruleset.scores)} scores, {len(questions.questions)} questions; "
        f"ruleset {ruleset.name} {ruleset.version} ({ruleset.content_hash[:12]})"
    )
    return ExitCode.OK


def cmd_rules_test(args: argparse.Namespace) -> int:
    engine = _engine(args)
    report = run_vectors(engine)
    for r in report.failed:
        print(f"FAIL {r.rule_id}: {r.name}: {r.message}")
    full = sum(c[0] for c in report.coverage.values())
    total = sum(c[1] for c in report.coverage.values())
    if args.verbose:
        for rid, (seen, n) in report.coverage.items():
            print(f"  {rid}: {seen}/{n} clauses seen both true and false")
    pct = 100.0 * full / total if total else 100.0
    passed = len(report.results) - len(report.failed)
    print(
        f"{passed} passed, {len(report.failed)} failed ({len(report.coverage)} rules); "
        f"clause coverage {full}/{total} ({pct:.1f}%) seen both true and false"
    )
    return ExitCode.VECTORS if report.failed else ExitCode.OK


def rules_listing(ruleset: RulesetIR) -> list[dict[str, Any]]:
    """The rules index: id, version, title, stratum, cites and vector counts per expectation."""
    return [rule_summary(rule) for rule in ruleset.rules]


def cmd_rules_list(args: argparse.Namespace) -> int:
    ruleset = load_ruleset(_rules_dir(args))
    listing = rules_listing(ruleset)
    if args.format == "json":
        print(json.dumps(listing, indent=2))
    else:
        for r in listing:
            v = r["vectors"]
            print(
                f"{r['id']:<36} {r['version']:<7} {r['stratum']:<14} vectors {v['fired']}/{v['not_fired']}/"
                f"{v['undetermined']}  {', '.join(r['cites'])}"
            )
    return ExitCode.OK


def cmd_serve(args: argparse.Namespace) -> int:
    # Imported here so the other commands never load FastAPI or the database layer; the server's own
    # entry point maps its errors to the same exit codes (painpath.cli.exit_codes).
    from painpath.api.server import main as serve_main  # noqa: PLC0415

    argv = [*(["--host", args.host] if args.host else []), *(["--port", str(args.port)] if args.port else [])]
    return serve_main([*argv, *(["--dev"] if args.dev else [])])


def cmd_synth(args: argparse.Namespace) -> int:
    from painpath.audit.synth import write_cohort  # noqa: PLC0415 - audit commands load the audit only

    if args.n < 0:
        print("painpath: --n must be 0 or more", file=sys.stderr)
        return ExitCode.USAGE
    if args.output and args.output != "-":
        with Path(args.output).open("w", encoding="utf-8") as out:
            written = write_cohort(out, args.n, args.seed)
    else:
        written = write_cohort(sys.stdout, args.n, args.seed)
    print(f"painpath synth: wrote {written} SYNTHETIC patients (seed {args.seed}); none is real", file=sys.stderr)
    return ExitCode.OK


def cmd_audit(args: argparse.Namespace) -> int:
    from painpath.cli.audit import run_audit_command  # noqa: PLC0415 - audit commands load the audit only

    return run_audit_command(args)


class _VersionAction(argparse.Action):
    """``--version``: painpath's version and the ruleset's, then exit 0 (no command needed)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any, **__: Any) -> None:
        print(f"painpath {__version__} ({ruleset_line(default_rules_dir())})")
        parser.exit(ExitCode.OK)


def _add_rules_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``painpath rules check|test|list``."""
    rules = add_command(
        sub,
        "rules",
        "check, test and list rules",
        "Validate, test and list the rules (the bundled ones, or --rules DIR with guidelines/ beside it).",
        "painpath rules check",
        "painpath rules test -v",
        "painpath rules list --format json",
    ).add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    rules_dir_help = "rules directory (default: bundled rules)"
    check = add_command(
        rules,
        "check",
        "validate every rule, guideline and parameter",
        "Load and compile every rule, guideline, parameter and score, and check the question catalogue.",
        "painpath rules check --rules my-rules/",
    )
    check.add_argument("--rules", help=rules_dir_help)
    check.set_defaults(func=cmd_rules_check)
    test = add_command(
        rules,
        "test",
        "run every rule's test vectors and report clause coverage",
        "Run each rule's test vectors; exit 5 when any fails.",
        "painpath rules test -v",
    )
    test.add_argument("--rules", help=rules_dir_help)
    test.add_argument("-v", "--verbose", action="store_true", help="print each rule's clause coverage")
    test.set_defaults(func=cmd_rules_test)
    lst = add_command(
        rules,
        "list",
        "list rules with citations and vector counts",
        "List every rule with its version, stratum, test-vector counts and citations.",
        "painpath rules list --format json",
    )
    lst.add_argument("--rules", help=rules_dir_help)
    lst.add_argument("--format", choices=("json", "text"), default="text")
    lst.set_defaults(func=cmd_rules_list)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="painpath", description=DESCRIPTION, epilog=epilog(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and the ruleset's, and exit")
    parser.add_argument("--log-level", default="WARNING", help="structured log level (default WARNING)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ev = add_command(
        sub,
        "evaluate",
        "evaluate patient facts (JSON or FHIR) and print the decision",
        "Evaluate each file of patient facts (JSON, as in examples/patients/, or a FHIR R4 Bundle or "
        "QuestionnaireResponse) and print its decision as JSON or text.",
        "painpath evaluate examples/patients/rf_cauda_equina.json",
        "painpath evaluate --format text --site-config site.yaml patient.json",
        "cat patient.json | painpath evaluate -",
    )
    ev.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="patient facts JSON, a FHIR R4 Bundle or QuestionnaireResponse (JSON) file, or - for stdin",
    )
    ev.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        metavar="DATE",
        help="FHIR input: the assessment date YYYY-MM-DD (default today): ages and staleness are measured from it",
    )
    ev.add_argument("--format", choices=("json", "text"), default="json")
    ev.add_argument("--pretty", action="store_true", help="indent JSON output")
    ev.add_argument(
        "--trace",
        choices=("full", "summary"),
        default="full",
        help="JSON rule trace: full (every rule's clauses, default) or summary (clauses of the rules that fired, "
        "missing facts of the undetermined ones)",
    )
    ev.add_argument("--rules", help="rules directory (default: bundled rules)")
    ev.add_argument("--site-config", help="site configuration YAML (parameter overrides)")
    ev.add_argument(
        "--evaluator",
        choices=("durable", "kleene"),
        default="durable",
        help="durable: durable-rules cross-checked by the Kleene evaluator (default)",
    )
    ev.set_defaults(func=cmd_evaluate)

    srv = add_command(
        sub,
        "serve",
        "run the HTTP service (see docs/api.md)",
        "Run the HTTP service, the CDS Hooks service and the web app. Settings come from PAINPATH_* environment\n"
        "variables and an optional settings file (PAINPATH_SETTINGS_FILE); docs/settings.md lists them.",
        "painpath serve --dev",
        "PAINPATH_SETTINGS_FILE=painpath.toml painpath serve",
    )
    srv.add_argument("--host", default=None, help="bind address (default 127.0.0.1, or $PAINPATH_HOST)")
    srv.add_argument("--port", type=int, default=None, help="port (default 8000, or $PAINPATH_PORT)")
    srv.add_argument("--dev", action="store_true", help="development mode: no API keys, loopback only")
    srv.set_defaults(func=cmd_serve)

    syn = add_command(
        sub,
        "synth",
        "write a SYNTHETIC cohort (JSON Lines of patient facts)",
        "Write made-up patients for trying the audit; none of them is real.",
        "painpath synth --n 2000 --seed 7 -o cohort.jsonl",
    )
    syn.add_argument("--n", type=int, default=1000, help="number of patients (default 1000)")
    syn.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same cohort")
    syn.add_argument("-o", "--output", help="output file (default: standard output)")
    syn.set_defaults(func=cmd_synth)

    aud = add_command(
        sub,
        "audit",
        "audit a cohort against the best-practice recommendations and checks",
        "Evaluate every patient of a cohort and write the audit report (HTML, CSV, FHIR MeasureReports).",
        "painpath audit cohort.jsonl --out audit/",
        "painpath audit cohort.jsonl --out audit/ --engine dask --scheduler tcp://127.0.0.1:8786",
    )
    aud.add_argument("cohort", metavar="COHORT", help="JSON Lines of patient facts, CSV, ...")
    aud.add_argument("--out", required=True, help="output directory (created if needed)")
    aud.add_argument("--format", choices=tuple(FORMATS), default=None, help="default: from the file name")
    aud.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    aud.add_argument("--engine", choices=("local", "dask"), default="local")
    aud.add_argument("--scheduler", help="Dask scheduler address (with --engine dask), e.g. tcp://host:8786")
    aud.add_argument("--chunk-size", type=int, default=500, help="records per task (default 500)")
    aud.add_argument("--explanations", action="store_true", help="also write each decision as the CLI prints it")
    aud.add_argument("--no-subject-list", action="store_true", help="skip the subject-list MeasureReports")
    aud.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        metavar="DATE",
        help="fhir-ndjson: the assessment date YYYY-MM-DD (default today): ages and staleness are measured from it",
    )
    aud.add_argument("--rules", help="rules directory (default: bundled rules)")
    aud.add_argument("--site-config", help="site configuration YAML (parameter overrides)")
    aud.add_argument(
        "--period",
        metavar="START..END",
        help="audit the records assessed in this period (ISO dates, inclusive: 2025-01-01..2025-06-30); "
        "the others are counted as outside it",
    )
    aud.add_argument(
        "--stratify",
        metavar="LIST",
        default="",
        help="report every measure by these, comma-separated: site, clinician, age_band, sex",
    )
    aud.add_argument("--compare", metavar="PREVIOUS_OUT", help="a previous audit's --out directory to compare with")
    aud.add_argument(
        "--decision-log",
        metavar="DATABASE_URL",
        help="also report how often the triage outcomes recorded in this decision log agree with painpath's advice",
    )
    aud.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="auto: a progress bar on a terminal, periodic log lines otherwise (not in CI); always: also in CI",
    )
    aud.set_defaults(func=cmd_audit)

    _add_rules_commands(sub)
    add_store_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        result: int = args.func(args)
        return result
    except (RulesValidationError, SettingsError) as exc:
        print(f"painpath: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except FactsValidationError as exc:
        print(f"painpath: {exc}", file=sys.stderr)
        return ExitCode.FACTS
    except PainpathError as exc:
        print(f"painpath: {exc}", file=sys.stderr)
        return ExitCode.FAILED
