"""`bmsdoc`: the command line. With no arguments it opens the Textual app."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from typing import Any, Sequence

from kb.errors import KBInvalid, UserError

PROG = "bmsdoc"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, as for every bad input
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from tui.commands import COMMANDS

    parser = _Parser(prog=PROG, description="Smart BMS integration and troubleshooting, from a field handbook. "
                     "Run with no command to open the app.")
    parser.add_argument("--version", action="store_true", help="print the program and knowledge-base versions")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod_name = f"tui.commands.{name}"
        if importlib.util.find_spec(mod_name) is None:
            continue
        importlib.import_module(mod_name).register(sub)
    return parser


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.version:
            from importlib.metadata import version

            from kb.load import load_manifest_version

            print(f"bmsdoc {version('bmsdoc')}, knowledge base {load_manifest_version()}")
            return 0
        if not args.command:
            from tui.app import run_app

            return run_app()
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KBInvalid as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        print(f"{PROG}: the knowledge base has {len(e.problems)} problem(s)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
