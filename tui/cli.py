"""`bmsdoc`: the command line. With no arguments it opens the Textual app."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from kb.errors import KBInvalid, UserError

PROG = "bmsdoc"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, as for every bad input
        from kb.untrusted import shown

        self.exit(2, f"{self.prog}: error: {shown(message, 400)}\n")


def build_parser() -> argparse.ArgumentParser:
    from tui.commands import COMMANDS

    parser = _Parser(prog=PROG, description="Smart BMS integration and troubleshooting, from a field handbook. "
                     "Run with no command to open the app.")
    parser.add_argument("--version", action="store_true", help="print the program and knowledge-base versions")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"tui.commands.{name}").register(sub)  # a broken command module is an error
    return parser


def emit_json(data: Any) -> None:
    """--json output: any lone surrogate a reading smuggled in (a JSON \\ud800 escape) becomes U+FFFD."""
    from kb.untrusted import clean

    sys.stdout.write(clean(json.dumps(data, indent=2, ensure_ascii=False, default=str)) + "\n")


def _safe_streams() -> None:
    """Text that cannot be encoded for this terminal (lone surrogates, a non-UTF-8 locale) is escaped on
    output rather than raising UnicodeEncodeError halfway through a report."""
    for stream in (sys.stdout, sys.stderr):
        reconf = getattr(stream, "reconfigure", None)
        if reconf is not None:
            try:
                reconf(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def crash_report(exc: BaseException, argv: Sequence[str] | None) -> str | None:
    """Write the traceback of an unexpected error to a file (for a bug report); returns its path."""
    import datetime as dt
    import os
    import tempfile
    import traceback

    try:
        try:
            from platformdirs import user_state_path

            folder = os.environ.get("BMSDOC_CRASH_DIR") or str(user_state_path("bmsdoc") / "crashes")
        except Exception:
            folder = os.path.join(tempfile.gettempdir(), f"bmsdoc-crashes-{os.getuid() if hasattr(os, 'getuid') else 0}")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        fd, path = tempfile.mkstemp(prefix=f"crash-{stamp}-", suffix=".txt", dir=folder)
        args = [a if len(a) <= 200 else a[:200] + "..." for a in (argv if argv is not None else sys.argv[1:])]
        text = (f"bmsdoc crash report\nargs: {args!r}\npython: {sys.version.split()[0]}\n\n"
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=40)))
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text[:200_000])
        return path
    except Exception:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    _safe_streams()
    try:
        return _main(argv)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (RecursionError, MemoryError, OverflowError) as e:  # input past a limit nobody checked: still input
        path = crash_report(e, argv)
        print(f"{PROG}: error: the input is too large or too deeply nested to handle ({type(e).__name__})"
              + (f"; details in {path}" if path else ""), file=sys.stderr)
        return 2
    except Exception as e:  # the last resort: never a traceback on the terminal
        path = crash_report(e, argv)
        print(f"{PROG}: internal error ({type(e).__name__}), not your fault; "
              + (f"report written to {path}" if path else "no report could be written"), file=sys.stderr)
        return 2


def _main(argv: Sequence[str] | None) -> int:
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
        from kb.untrusted import shown

        print(f"{PROG}: error: {shown(str(e), 2000)}", file=sys.stderr)
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
