"""API-key management: ``python -m painpath.cli.keys create|list|revoke``.

``create --role ROLE [--name NAME]`` prints the new token on stdout, once; only its sha256 is
stored. Keys live in the service's database (``PAINPATH_DATABASE_URL`` or the SQLite file under
``PAINPATH_DATA_DIR``), which is created and migrated if needed.
"""

from __future__ import annotations

import argparse
import datetime
import sys

from painpath.api.auth import Role, create_key
from painpath.api.settings import Settings
from painpath.cli.exit_codes import ExitCode, epilog
from painpath.errors import PainpathError, SettingsError
from painpath.store import open_store


def main(argv: list[str] | None = None) -> int:
    """Run the key-management command line; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m painpath.cli.keys",
        description="Manage painpath API keys.\n\nexamples:\n  python -m painpath.cli.keys create --role clinician "
        "--name 'GP practice'\n  python -m painpath.cli.keys list\n  python -m painpath.cli.keys revoke KEY_ID",
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", required=True)
    create = sub.add_parser("create", help="create a key and print its token (shown once)")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--name", default="", help="who or what the key is for (no patient data)")
    sub.add_parser("list", help="list keys (never their tokens)")
    revoke = sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    try:
        store = open_store(Settings.from_env().resolved_database_url)
    except SettingsError as exc:
        print(f"painpath: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except PainpathError as exc:
        print(f"painpath: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    try:
        if args.action == "create":
            record, token = create_key(store.keys, args.name or f"{args.role} key", Role(args.role))
            print(
                f"created key {record.key_id} (role {record.role}) in {store.display_url}; "
                "the token below is shown once and cannot be recovered",
                file=sys.stderr,
            )
            print(token)
        elif args.action == "list":
            for k in store.keys.list():
                state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
                print(f"{k.key_id}  {k.role:<9}  {state:<18}  created {k.created_at:%Y-%m-%d}  {k.name}")
        elif not store.keys.revoke(args.key_id, datetime.datetime.now(datetime.UTC)):
            print(f"painpath: no active key {args.key_id}", file=sys.stderr)
            return ExitCode.FAILED
        else:
            print(f"revoked {args.key_id}", file=sys.stderr)
    except PainpathError as exc:
        print(f"painpath: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    finally:
        store.close()
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
