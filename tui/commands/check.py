"""`bmsdoc check`: check one reading (JSON, YAML, or a pasted BMS screen) against the knowledge base."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tui.commands import argtypes

SEVERITIES = ("critical", "warning", "info")
MAX_ASKED = 10  # fields named in "Could not check ...; give: ..." (--json lists them all)


def register(sub) -> None:
    p = sub.add_parser("check", help="check a reading against the knowledge base",
                       description="Check one reading (a JSON or YAML mapping of fields such as bms, cells, "
                                   "charge_fet, regen_limit; or a pasted BMS screen where supported) and print "
                                   "findings by severity, each with evidence, remedy and handbook citations.")
    p.add_argument("file", nargs="?", default="-", metavar="FILE", help="the reading; '-' or nothing reads stdin")
    p.add_argument("--bms", metavar="FAMILY", help="BMS family (jk, ant, jbd/llt, daly, charge-only); overrides the file")
    p.add_argument("--series", type=argtypes.series, metavar="N", help="configured series count; overrides the file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--explain", action="store_true", help="show why each finding fired, comparison by comparison")
    p.add_argument("--engine", choices=("auto", "durable", "evaluator"), default="auto", help=argparse.SUPPRESS)
    p.add_argument("--kb", metavar="DIR", help=argparse.SUPPRESS)  # another content root (tests, reviews)
    p.set_defaults(func=run)


# ---------------------------------------------------------------- input


def read_bytes(path: str) -> bytes:
    from kb.errors import UserError

    if path == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UserError("give a reading: a FILE, or pipe one in (e.g. bmsdoc check - < reading.json)")
        return sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    try:
        with open(path, "rb") as f:
            return f.read(4_000_001)
    except FileNotFoundError:
        raise UserError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a directory, not a reading") from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None


def decode(data: bytes) -> str:
    from kb.errors import UserError

    if len(data) > 4_000_000:
        raise UserError("the input is too large for one reading (over 4 MB)")
    if b"\x00" in data:
        raise UserError("the input is binary, not a reading (give JSON, YAML or a pasted BMS screen)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError("the input is not UTF-8 text (give JSON, YAML or a pasted BMS screen)") from None
    if not text.strip():
        raise UserError("the input is empty: give a reading such as {\"bms\": \"jk\", \"cells\": [3.91, 3.92]}")
    return text


def _no_constants(name: str) -> Any:
    from kb.errors import UserError

    raise UserError(f"the reading contains {name}: NaN and infinity are not readings")


def _kind(v: Any) -> str:
    return {list: "a list", str: "text", int: "a number", float: "a number", bool: "true/false"}.get(type(v), "a value")


def read_input(text: str) -> tuple[dict[str, Any], list[str]]:
    """Reading fields and notes from text: a JSON or YAML mapping first, else a pasted screen (drivers.paste)."""
    import json

    from kb.errors import UserError

    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            data = json.loads(stripped, parse_constant=_no_constants)
        except json.JSONDecodeError as e:
            if stripped[:1] == "{":
                data = _yaml_or_none(stripped)
                if not isinstance(data, dict):
                    raise UserError(f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
            else:
                data = None
        if isinstance(data, dict):
            return data, []
        if data is not None:
            raise UserError(f"a reading is a mapping of fields (an object such as {{\"cells\": [...]}}), "
                            f"not {_kind(data)}")
    data = _yaml_or_none(text)
    if isinstance(data, dict) and not _paste_claims(text, data):
        return data, []
    parsed = _paste(text)
    if parsed is not None:
        return parsed
    if isinstance(data, list):
        raise UserError("a reading is a mapping of fields (such as 'cells: [3.91, 3.92]'), not a list")
    raise UserError("could not read a reading: expected a JSON or YAML mapping of fields such as "
                    "{\"bms\": \"jk\", \"charge_fet\": false, \"regen_limit\": 30}")


def _yaml_or_none(text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except (YAMLError, ValueError, TypeError, RecursionError):
        return None


def _paste_claims(text: str, data: dict) -> bool:
    """YAML also reads `Fault : FAULT_CODE_...` blocks and `Cell 1: 3.28` lines as mappings; the paste parsers
    know their conventions (VESC's current sign), so such text goes to them (drivers.paste.claims)."""
    import importlib.util

    if importlib.util.find_spec("drivers.paste") is None:
        return False
    from drivers.paste import claims

    return claims(text, data)


def _paste(text: str) -> tuple[dict[str, Any], list[str]] | None:
    """Free text through the drivers' paste parsers, when they are installed in this build."""
    import importlib
    import importlib.util

    from kb.errors import UserError

    try:
        if importlib.util.find_spec("drivers.paste") is None:
            return None
        mod = importlib.import_module("drivers.paste")
    except ImportError:
        return None
    parse_text = getattr(mod, "parse_text", None)
    if parse_text is None:
        return None
    try:
        parsed = parse_text(text)  # raises UserError itself when it recognises nothing
    except UserError:
        raise
    except Exception as e:  # a parser bug must not become a traceback for the rider
        raise UserError(f"could not read the pasted text ({type(e).__name__}: {e})") from None
    if parsed is None or not getattr(parsed, "fields", None):
        raise UserError("could not find any reading fields in the text")
    notes = [f"read as {parsed.format}"] if getattr(parsed, "format", None) else []
    notes += list(getattr(parsed, "notes", []) or [])
    notes += [f"ambiguous: {a}" for a in getattr(parsed, "ambiguities", []) or []]
    return dict(parsed.fields), notes


def apply_overrides(data: dict[str, Any], bms: str | None, series: int | None) -> dict[str, Any]:
    from engine.reading import canonical_field

    out = dict(data)
    for name, value in (("bms", bms), ("series", series)):
        if value is None:
            continue
        for k in [k for k in out if isinstance(k, str) and canonical_field(k) == name]:
            del out[k]  # the flag replaces whatever spelling the file used
        out[name] = value
    return out


# ---------------------------------------------------------------- output


def _value(v: Any) -> str:
    from engine.evaluate import fmt_value

    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "[" + ", ".join(fmt_value(x) for x in v) + "]"
    return fmt_value(v)


def print_report(report, explain: bool = False, rules: int | None = None, out=None) -> None:
    out = out or sys.stdout
    w = out.write
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in SEVERITIES}
    r = report.reading
    what = []
    if "bms" in r:
        what.append(str(r["bms"]).upper() if r["bms"] != "charge-only" else "charge-only")
    if "cell_count" in r or "series" in r:
        what.append(f"{r.get('series', r.get('cell_count'))}S")
    if "chemistry" in r:
        what.append(str(r["chemistry"]))
    head = f"Reading{' (' + ', '.join(what) + ')' if what else ''} checked against knowledge base " \
           f"{report.kb_version}" + (f" ({rules} rules, {report.engine})" if rules is not None else "")
    w(head + "\n")
    w(", ".join(f"{n} {s}" for s, n in counts.items()) + "\n")
    for note in report.notes:
        w(f"Note: {note}\n")
    for sev in SEVERITIES:
        group = [f for f in report.sorted_findings() if f.severity == sev]
        if not group:
            continue
        w(f"\n{sev.upper()}\n")
        for f in group:
            w(f"* {f.title}  [{f.rule}]\n")
            w(f"  {f.message}\n")
            if f.evidence:
                w("  Evidence: " + ", ".join(f"{k} = {_value(v)}" for k, v in f.evidence.items()) + "\n")
            if f.remedy:
                w("  Remedy:\n")
                for i, step in enumerate(f.remedy, 1):
                    w(f"    {i}. {step}\n")
            w("  Sources: " + " ".join(f"[^{c}]" for c in f.citations) + "\n")
            if explain and f.explanation:
                w("  Why:\n")
                for line in f.explanation:
                    w(f"    {line}\n")
    if not counts["critical"] and not counts["warning"]:
        w("\nNo warning or critical findings.\n")
    if report.not_checked:
        missing = report.missing_fields()  # most useful first: the fields that would unlock the most rules
        n = len(report.not_checked)
        shown = ", ".join(missing[:MAX_ASKED]) + (f" (+{len(missing) - MAX_ASKED} more)" if len(missing) > MAX_ASKED else "")
        w(f"\nCould not check {n} rule{'s' if n != 1 else ''}" + (f"; give: {shown}" if missing else "") + "\n")


def run(args: argparse.Namespace) -> int:
    from engine.check import check
    from engine.reading import Reading
    from kb.load import load_kb
    from tui.cli import emit_json

    data, notes = read_input(decode(read_bytes(args.file)))
    data = apply_overrides(data, args.bms, args.series)
    reading = Reading.parse(data)
    kb = load_kb(args.kb) if args.kb else load_kb()
    report = check(reading, kb=kb, engine=args.engine)
    report.notes = notes + report.notes
    if args.json:
        emit_json(report.to_json())
    else:
        print_report(report, explain=args.explain, rules=len(kb.rules))
    return 0
