"""`bmsdoc check`: check one reading (JSON, YAML, or a pasted BMS screen) against the knowledge base."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from tui.commands import argtypes

MAX_ASKED = 5  # questions printed (--json lists them all, ranked)


def register(sub) -> None:
    p = sub.add_parser("check", help="check a reading against the knowledge base",
                       description="Check one reading (a JSON or YAML mapping of fields such as bms, cells, "
                                   "charge_fet, regen_limit; or a pasted BMS screen where supported) and print "
                                   "findings by severity, each with evidence, remedy and handbook citations.")
    p.add_argument("file", nargs="?", default="-", metavar="FILE",
                   help="the reading (at most 4 MB; UTF-8, or UTF-16 with a BOM; JSON/YAML nested at most 64 deep); "
                        "'-' or nothing reads stdin")
    p.add_argument("--bms", metavar="FAMILY", help="BMS family (jk, ant, jbd/llt, daly, charge-only); overrides the file")
    p.add_argument("--series", type=argtypes.series, metavar="N", help="configured series count; overrides the file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--explain", action="store_true", help="show why each finding fired, comparison by comparison")
    p.add_argument("--engine", choices=("auto", "durable", "evaluator"), default="auto", help=argparse.SUPPRESS)
    p.add_argument("--kb", metavar="DIR", help=argparse.SUPPRESS)  # another content root (tests, reviews)
    p.set_defaults(func=run)


# ---------------------------------------------------------------- input


def read_bytes(path: str) -> bytes:
    """At most READING_BYTES of FILE or stdin (kb.untrusted: larger input is refused, not read whole)."""
    from kb import untrusted
    from kb.errors import UserError

    if path == "-" and (sys.stdin is None or sys.stdin.isatty()):
        raise UserError("give a reading: a FILE, or pipe one in (e.g. bmsdoc check - < reading.json)")
    return untrusted.read_bytes(path, untrusted.READING_BYTES, "reading")


def decode(data: bytes) -> str:
    """UTF-8 (or UTF-16/32 with a byte-order mark) text; binary and empty input are one-line errors."""
    from kb import untrusted
    from kb.errors import UserError

    try:
        text = untrusted.decode_text(data, "input")
    except UserError as e:
        raise UserError(f"{e} (give JSON, YAML or a pasted BMS screen)") from None
    if not text.strip():
        raise UserError("the input is empty: give a reading such as {\"bms\": \"jk\", \"cells\": [3.91, 3.92]}")
    return text


def load_reading(path: str):
    """FILE (or '-') -> a Reading, through the same boundary as `bmsdoc check` (checklist --reading uses it)."""

    data, _notes = read_input(decode(read_bytes(path)))
    return parse_reading(data)


def parse_reading(data: dict[str, Any]):
    """Reading.parse with the boundary's own checks first; its error line is kept short."""
    from engine.reading import Reading
    from kb import untrusted
    from kb.errors import UserError

    screen_fields(data)
    try:
        return Reading.parse(data)
    except UserError as e:
        raise UserError(untrusted.shown(str(e), 300)) from None


PASTE_CHARS = 1_000_000  # a pasted BMS screen or log excerpt; far more than any real one
MAX_LIST = 128  # cells or temperature probes in one reading; no BMS in the handbook has more than 32 cells


def screen_fields(data: dict[str, Any]) -> None:
    """true/false is not a number: `series: true` would otherwise be read as 1."""
    from engine.reading import canonical_field
    from kb.errors import UserError
    from kb.fields import FIELDS

    for k, v in data.items():
        name = canonical_field(k) if isinstance(k, str) else None
        spec = FIELDS.get(name) if name else None
        if spec is None:
            continue
        if spec.kind in ("number", "int") and isinstance(v, bool):
            raise UserError(f"'{name}': {str(v).lower()} is not a number")
        if spec.kind == "list" and isinstance(v, list):
            if len(v) > MAX_LIST:
                raise UserError(f"'{name}': {len(v):,} values; a BMS reports at most {MAX_LIST} (cells or probes)")
            if any(isinstance(x, bool) for x in v):
                raise UserError(f"'{name}': true/false is not a number")


def _kind(v: Any) -> str:
    return {list: "a list", str: "text", int: "a number", float: "a number", bool: "true/false"}.get(type(v), "a value")


def read_input(text: str) -> tuple[dict[str, Any], list[str]]:
    """Reading fields and notes from text (see _read_input); an alarm typed in words sets its protection flags."""
    data, notes = _read_input(text)
    data, described = _hardware_descriptions(data)
    data, alarm_note = with_alarm_words(data)
    return data, notes + described + alarm_note


_NOTE_KEYS = frozenset({"note", "notes", "comment", "comments", "remark", "remarks", "description", "details",
                        "context", "story", "symptom", "symptoms", "problem", "issue", "info", "what happened"})
_UNIT_IN_KEY = re.compile(r"\s*[\(\[]\s*(mv|v|a|ma|%|°c|c)\s*[\)\]]\s*$", re.IGNORECASE)
_COUNT_KEY = re.compile(r"^\s*(\d{1,2})\s*(?:x\s*)?(cells?|s)\s*$", re.IGNORECASE)


def _rescue_keys(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Keys riders write around a field name: `cells (mV)`, `16 cells`, `cells after the charge`. A key no field
    has is read as the field its first words name (with the count or the unit it carries), once, never over a key
    the reading already has; anything else stays, to be refused with its suggestion."""
    from engine.reading import canonical_field

    if all(not isinstance(k, str) or canonical_field(k) for k in data):
        return data, []
    have = {canonical_field(k) for k in data if isinstance(k, str)} - {None}
    out: dict[str, Any] = {}
    notes: list[str] = []
    prose: list[str] = []
    for k, v in data.items():
        if not isinstance(k, str) or canonical_field(k):
            out[k] = v
            continue
        if isinstance(v, str) and k.strip().lower() in _NOTE_KEYS:
            prose.append(v)  # "note: toggled discharge off in the app ...": words beside the reading
            continue
        key, extra = _UNIT_IN_KEY.sub("", k), {}
        m = _COUNT_KEY.match(key)
        if m:
            key = "cells"
            if "series" not in have and isinstance(v, (list, str)):
                extra["series"] = int(m.group(1))
        words = key.split()
        name = next((canonical_field(" ".join(words[:n])) for n in range(min(3, len(words)), 0, -1)
                     if canonical_field(" ".join(words[:n]))), None)
        if name is None and isinstance(v, str) and " " in k.strip() and " " in v.strip():
            prose.append(f"{k} {v}")  # "just finished charging: top cell 4.151, bottom 4.140": said, not a field
            continue
        if name is None or name in have:
            out[k] = v
            continue
        have.add(name)
        out[name] = v
        for ek, ev in extra.items():
            out.setdefault(ek, ev)
            have.add(ek)
        notes.append(f"read '{k}' as {name}" + (f" (series {extra['series']})" if extra else ""))
    if prose:
        words = from_words(" ".join(prose), out)
        out.update(words)
        notes.append("kept the note as words" + (f"; read from them: {_said(words)}" if words else ""))
    return out, notes


def _hardware_descriptions(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`balancer: JK active balancer clipped across the stack` describes the hardware; it does not say whether it is
    balancing now. An on/off field given a description of three words or more (not starting with on, off, yes,
    ...) is left out with a note; a short wrong value (`charge_fet: of`) stays an error, never a silent guess."""
    from engine.reading import BOOL_WORDS, canonical_field
    from kb.fields import FIELDS

    out, notes = dict(data), []
    for k, v in data.items():
        name = canonical_field(k) if isinstance(k, str) else None
        if name is None or FIELDS[name].kind != "bool" or not isinstance(v, str):
            continue
        words = v.split()
        if len(words) >= 3 and words[0].lower().strip(",.;:") not in BOOL_WORDS:
            del out[k]
            notes.append(f"left out {k}: '{v[:60]}' describes the hardware, not whether it is on or off")
    return out, notes


def _read_input(text: str) -> tuple[dict[str, Any], list[str]]:
    """Reading fields and notes from text: a JSON or YAML mapping first, else a pasted screen (drivers.paste)."""
    import json

    from kb import untrusted
    from kb.errors import UserError

    stripped = text.strip()
    if stripped[:1] not in "{[" and len(stripped) > PASTE_CHARS:
        raise UserError(f"a pasted screen of {len(stripped) / 1e6:.1f} MB is too large (at most {PASTE_CHARS / 1e6:g} MB "
                        "of text; JSON readings may be up to 4 MB): paste one reading")
    if stripped[:1] in "{[":
        try:
            data = untrusted.loads_json(stripped, what="reading")
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
        return _rescue_keys(data)
    parsed = _paste(text)
    if parsed is not None:
        return parsed
    if isinstance(data, list):
        raise UserError("a reading is a mapping of fields (such as 'cells: [3.91, 3.92]'), not a list")
    raise UserError("could not read a reading: expected a JSON or YAML mapping of fields such as "
                    "{\"bms\": \"jk\", \"charge_fet\": false, \"regen_limit\": 30}")


def _yaml_or_none(text: str) -> Any:
    """YAML through the boundary (safe constructors, alias/merge/depth limits: a bomb is a UserError); text
    that is not YAML at all is None, so the paste parsers get it."""
    from ruamel.yaml.error import YAMLError

    from kb import untrusted

    try:
        data = untrusted.load_yaml(text, what="reading")
    except (YAMLError, ValueError, TypeError):
        return None
    return untrusted.check_data(data, what="reading") if isinstance(data, (dict, list)) else data


def _paste_claims(text: str, data: dict) -> bool:
    """YAML also reads `Fault : FAULT_CODE_...` blocks and `Cell 1: 3.28` lines as mappings; the paste parsers
    know their conventions (VESC's current sign), so such text goes to them (drivers.paste.claims)."""
    from drivers.paste import claims

    return claims(text, data)


def _paste(text: str) -> tuple[dict[str, Any], list[str]] | None:
    """Free text through the drivers' paste parsers."""
    from drivers.paste import parse_text
    from kb.errors import UserError

    if len(text) > PASTE_CHARS:
        raise UserError(f"a pasted screen of {len(text) / 1e6:.1f} MB is too large (at most {PASTE_CHARS / 1e6:g} MB "
                        "of text; JSON or YAML readings may be up to 4 MB): paste one reading")
    try:
        parsed = parse_text(text)  # raises UserError itself when it recognises nothing
    except UserError:
        words = from_words(text, {})
        if words:  # no screen or list, but the rider said what it is ("JK 20s, riding, charge fet off")
            return words, [f"read from the words: {_said(words)}"]
        raise
    except Exception as e:  # a parser bug must not become a traceback for the rider
        raise UserError(f"could not read the pasted text ({type(e).__name__}: {e})") from None
    if parsed is None or not getattr(parsed, "fields", None):
        raise UserError("could not find any reading fields in the text")
    notes = [f"read as {parsed.format}"] if getattr(parsed, "format", None) else []
    notes += list(getattr(parsed, "notes", []) or [])
    notes += [f"ambiguous: {a}" for a in getattr(parsed, "ambiguities", []) or []]
    fields = dict(parsed.fields)
    words = from_words(text, fields)
    if words:
        fields.update(words)
        notes.append(f"read from the words: {_said(words)}")
    return fields, notes


# facts a rider states in words beside a paste ("daly 16s lfp", "riding, vesc, 40a regen"): engine.understand reads
# them; only these fields, and only where the paste itself said nothing
WORD_FIELDS = ("bms", "series", "board_max_series", "chemistry", "state", "goal", "controller", "charge_fet",
               "discharge_fet", "regen_limit", "charge_ocp", "discharge_ocp", "battery_limit", "fused", "days_idle",
               "soc", "charger_voltage", "pack_voltage", "dash_low_warning", "dash_high_warning", "cell_ovp", "cell_uvp")


def from_words(text: str, fields: dict[str, Any]) -> dict[str, Any]:
    from engine.reading import canonical_field

    try:
        from engine.understand import reading_of, understand

        raw = understand(text[:20_000])
        said = reading_of(raw)
    except Exception:  # prose understanding is a help, never a reason to refuse a paste
        return {}
    if "pack_voltage" not in raw or "cells" in fields:  # only a pack voltage the rider wrote, never one computed
        said.pop("pack_voltage", None)  # from the cells; beside a cell list a voltage in words names the pack ("24V")
    have = {canonical_field(k) for k in fields if isinstance(k, str)}
    return {k: v for k, v in said.items() if k in WORD_FIELDS and k not in have and v is not None}


def _said(words: dict[str, Any]) -> str:
    return ", ".join(f"{k} {str(v).lower() if isinstance(v, bool) else v}" for k, v in words.items())


def apply_overrides(data: dict[str, Any], bms: str | None, series: int | None) -> dict[str, Any]:
    from engine.reading import canonical_field
    from kb.untrusted import clean

    out = dict(data)
    bms = clean(bms) if isinstance(bms, str) else bms  # a flag from undecodable bytes carries surrogates
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


def _headline(report) -> str:
    """'JK, 16S (inferred), li-ion (inferred)': what the reading is, saying which parts were reasoned."""
    facts = getattr(report, "facts", {}) or {}
    r = report.reading

    def tag(name: str) -> str:
        f = facts.get(name)
        return " (inferred)" if f is not None and f.provenance == "inferred" else ""

    what = []
    if "bms" in r:
        what.append(str(r["bms"]).upper() if r["bms"] != "charge-only" else "charge-only")
    if "series" in r or "cell_count" in r:
        what.append(f"{r.get('series', r.get('cell_count'))}S{tag('series')}")
    if "chemistry" in r:
        what.append(f"{r['chemistry']}{tag('chemistry')}")
    elif r.get("chemistry_ambiguous"):
        what.append("chemistry unsure")
    return ", ".join(what)


def print_report(report, explain: bool = False, rules: int | None = None, out=None) -> None:
    from kb.schema import SEVERITIES

    out = out or sys.stdout
    w = out.write
    roots = report.root_findings()
    counts = {s: sum(1 for f in roots if f.severity == s) for s in SEVERITIES}
    what = _headline(report)
    head = f"Reading{' (' + what + ')' if what else ''} checked against knowledge base " \
           f"{report.kb_version}" + (f" ({rules} rules, {report.engine})" if rules is not None else "")
    w(head + "\n")
    w(", ".join(f"{n} {s}" for s, n in counts.items()) + "\n")
    for note in report.notes:
        w(f"Note: {note}\n")
    for sev in SEVERITIES:
        group = [f for f in roots if f.severity == sev]
        if not group:
            continue
        w(f"\n{sev.upper()}\n")
        for f in group:
            status = "" if getattr(f, "status", "stable") == "stable" else f" ({f.status} rule)"
            w(f"* {f.title}  [{f.rule}]{status}\n")
            w(f"  {f.message}\n")
            if f.evidence:
                w("  Evidence: " + ", ".join(f"{k} = {_value(v)}" for k, v in f.evidence.items()) + "\n")
            for a in getattr(f, "assumed", []) or []:
                w(f"  Assumed: {a}\n" if " assumed " in a else f"  Inferred: {a}\n")
            if f.remedy:
                w("  Remedy:\n")
                for i, step in enumerate(f.remedy, 1):
                    w(f"    {i}. {step}\n")
            w("  Sources: " + " ".join(f"[^{c}]" for c in f.citations) + "\n")
            explained = report.explained(f.rule)
            if explained:
                w("  This also accounts for: " + "; ".join(f"{e.title} [{e.rule}]" for e in explained) + "\n")
            if explain and f.explanation:
                w("  Why:\n")
                for line in f.explanation:
                    w(f"    {line}\n")
    if not counts["critical"] and not counts["warning"]:
        w("\nNo warning or critical findings.\n")
    questions = list(getattr(report, "questions", []) or [])
    if questions:
        w("\nTo check further, tell me (most decisive first):\n")
        for i, q in enumerate(questions[:MAX_ASKED], 1):
            w(f"  {i}. {q.ask}  [could reveal: {q.severity}]\n")
            w(f"     {q.why}\n")
            if q.how:
                w(f"     How: {q.how}\n")
        if len(questions) > MAX_ASKED:
            w(f"  (+{len(questions) - MAX_ASKED} more questions in --json)\n")


def run(args: argparse.Namespace) -> int:
    from engine.check import check
    from kb.load import load_kb
    from tui.cli import emit_json

    data, notes = read_input(decode(read_bytes(args.file)))
    data = apply_overrides(data, args.bms, args.series)
    reading = parse_reading(data)
    kb = load_kb(args.kb) if args.kb else load_kb()
    report = check(reading, kb=kb, engine=args.engine)
    report.notes = notes + report.notes
    if args.json:
        emit_json(report.to_json())
    else:
        print_report(report, explain=args.explain, rules=len(kb.rules))
    return 0


def with_alarm_words(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """An alarm typed in words (`alarm: Cell Overvoltage`) sets the protection flags it names, as a pasted tool
    output does (drivers.protection); flags the rider typed themselves are kept."""
    from engine.reading import canonical_field

    keys = {canonical_field(k): k for k in data if isinstance(k, str)}
    text = data.get(keys.get("alarm_text", ""), None)
    if not isinstance(text, str) or not text.strip():  # `fault: Discharge overcurrent protection` says it too
        text = data.get(keys.get("fault", ""), None)
    if not isinstance(text, str) or not text.strip() or any(k and k.startswith("prot_") for k in keys):
        return data, []
    try:
        from drivers.protection import protection_in_words

        found = protection_in_words(text)
    except Exception:  # the words are kept as they are; decoding is a help
        return data, []
    flags = {k: v for k, v in found.items() if k.startswith("prot_") or k == "protection_active"}
    if not any(v for k, v in flags.items() if k.startswith("prot_")):
        return data, []
    out = dict(data)
    out.update({k: v for k, v in flags.items() if canonical_field(k) not in keys})
    return out, [f"the alarm '{text}' read as: " + ", ".join(k for k, v in flags.items() if v and k.startswith("prot_"))]
