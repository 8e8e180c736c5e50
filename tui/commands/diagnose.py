"""`bmsdoc diagnose [SYMPTOM]`: a guided diagnosis in a plain terminal, one question at a time.

Plain text only (numbered options, no colour, no cursor tricks) so it works over SSH and with screen readers.
`--answers FILE --json` runs a flow from a script; `--reading FILE` lets a reading answer the checks it can.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable
from typing import Any

MIN_SCORE = 0.3  # a symptom match below this is a guess, not an answer
WORDS = "Answer with a number or the words; 'why' explains the question, 'back' undoes the last answer, " \
        "'how' shows the path so far, 'quit' stops."


def register(sub) -> None:
    p = sub.add_parser("diagnose", help="guided diagnosis of a symptom, one question at a time",
                       description="Walk a diagnosis flow from a symptom to a cited conclusion. Type the symptom in "
                                   "your own words (or a flow id); with none, pick from the list.")
    p.add_argument("symptom", nargs="*", metavar="SYMPTOM", help="what happens, e.g. 'cuts out when braking', or a flow id")
    p.add_argument("--list", action="store_true", help="list the diagnosis flows")
    p.add_argument("--reading", metavar="FILE", help="a reading (JSON/YAML, or a pasted BMS screen; at most 4 MB) that answers checks")
    p.add_argument("--answers", metavar="FILE", help="answers by step id (YAML/JSON mapping, at most 4 MB) for a scripted run")
    p.add_argument("--json", action="store_true", help="print the result as JSON (no questions are asked)")
    p.add_argument("--kb", metavar="DIR", help=argparse.SUPPRESS)  # another content directory (tests, authoring)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.flows import Session, flows_of
    from kb.errors import UserError
    from kb.load import load_kb
    from tui.cli import emit_json

    kb = load_kb(args.kb) if args.kb else load_kb()
    flows = flows_of(kb)
    if not flows:
        raise UserError("this knowledge base has no diagnosis flows")
    if args.list:
        return _list(flows, args.json)
    reading = _load_reading(args.reading) if args.reading else None
    answers = _load_answers(args.answers) if args.answers else {}
    text = " ".join(args.symptom).strip()
    scripted = bool(args.answers or args.json)
    if not text:
        if scripted:
            raise UserError("name the symptom or flow id to run (see bmsdoc diagnose --list)")
        flow_id = _pick(kb, flows)
        if flow_id is None:
            return 0
    else:
        flow_id, note = resolve(kb, text)
        if note and not scripted:
            print(note)
    session = Session(kb, flow_id, reading=reading, answers=answers)
    if args.json:
        emit_json({"kb_version": kb.kb_version, "title": session.flow.title} | session.result_json())
        return 0
    if args.answers:
        _print_outcome(kb, session)
        return 0
    return interact(kb, session)


# ---------------------------------------------------------------- finding the flow


def resolve(kb, text: str) -> tuple[str, str]:
    """The flow for a symptom or flow id, and a line saying how it was matched ("" for an exact id)."""
    from engine.flows import flows_of, match_symptom
    from kb.errors import UserError

    flows = flows_of(kb)
    key = text.strip().lower()
    if key in flows:
        return key, ""
    matches = match_symptom(kb, text)
    if matches and matches[0].score >= MIN_SCORE:
        m = matches[0]
        others = [x.flow for x in matches[1:3] if x.score >= MIN_SCORE]
        also = f"; also close: {', '.join(others)}" if others else ""
        return m.flow, f"Diagnosing '{m.title}' (matched \"{m.phrase}\"{also})."
    import difflib

    close = [m.flow for m in matches[:3]]
    close += [c for c in difflib.get_close_matches(key, list(flows), n=3, cutoff=0.5) if c not in close]
    if close:
        hint = f"closest: {', '.join(close)}"
    else:  # nothing in common: say what bmsdoc can diagnose, by flow id and title
        hint = "the symptoms bmsdoc knows: " + "; ".join(f"{f.id} ({f.title})" for f in flows.values())
    raise UserError(f"no diagnosis flow matches '{text}' ({hint}; see bmsdoc diagnose --list)")


def _list(flows: dict, as_json: bool) -> int:
    from tui.cli import emit_json

    if as_json:
        emit_json([{"id": f.id, "title": f.title, "summary": f.summary, "symptoms": list(f.symptoms),
                    "conclusions": len(f.conclusions())} for f in flows.values()])
        return 0
    width = max(len(fid) for fid in flows)
    for f in flows.values():
        print(f"{f.id:<{width}}  {f.title}")
    return 0


def _pick(kb, flows: dict) -> str | None:
    items = list(flows.values())
    print("Which problem? Type its number, or describe it in your own words.")
    for i, f in enumerate(items, 1):
        print(f"  {i}) {f.title}")
    while True:
        raw = _ask("> ")
        if raw is None or raw.lower() in ("q", "quit", "exit"):
            return None
        if _small_int(raw) is not None:
            if 1 <= _small_int(raw) <= len(items):
                return items[_small_int(raw) - 1].id
        elif raw:
            from kb.errors import UserError

            try:
                fid, note = resolve(kb, raw)
            except UserError as e:
                print(str(e))
                continue
            print(note)
            return fid
        print(f"Type a number from 1 to {len(items)}.")


# ---------------------------------------------------------------- input files


def _load_reading(path: str):
    from tui.commands.check import decode, parse_reading, read_bytes, read_input

    data, notes = read_input(decode(read_bytes(path)))
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    return parse_reading(data)


def _load_answers(path: str) -> dict[str, Any]:
    from kb.errors import UserError
    from kb.untrusted import shown
    from tui.commands.check import _yaml_or_none, decode, read_bytes

    data = _yaml_or_none(decode(read_bytes(path)))  # the reading boundary: size, depth, alias and digit limits
    if not isinstance(data, dict):
        raise UserError(f"{shown(path, 200)}: answers must be a mapping of step id to answer, e.g. 'when: braking'")
    return {str(k): v for k, v in data.items()}


# ---------------------------------------------------------------- the conversation


def _ask(prompt: str, read: Callable[[str], str] = input) -> str | None:
    try:
        return read(prompt).strip()
    except EOFError:
        print()
        return None


def _say(text: str, indent: str = "") -> None:
    """Wrap each line at 88 columns; continuation lines keep the line's own indentation."""
    for para in str(text).split("\n"):
        inner = indent + " " * (len(para) - len(para.lstrip()))
        print(textwrap.fill(para.strip(), width=88, initial_indent=inner, subsequent_indent=inner + "  ") if para else "")


def _show_prompt(p, n: int) -> None:
    head = f"Question {n}: "
    if p.instruction:
        _say(p.instruction)
    _say(head + p.question)
    if p.help:
        _say(p.help, "  ")
    if p.type == "number":
        unit = f" {p.unit}" if p.unit else ""
        print(f"  Type a number from {p.min:g} to {p.max:g}{unit}.")
    else:
        for i, o in enumerate(p.options, 1):
            print(f"  {i}) {o['label']}")


def _typed(p, raw: str) -> Any:
    """A number typed at a list of options picks that option; anything else is passed on as it is."""
    i = _small_int(raw) if p.options else None
    if i is not None and 1 <= i <= len(p.options):
        return p.options[i - 1]["value"]
    return raw


def _small_int(raw: str) -> int | None:
    """'3' -> 3; None for anything else: '²' and '٣' pass str.isdigit() but are no menu numbers, and a
    5,000-digit number is not one either."""
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else None


def _auto_lines(entries) -> None:
    from engine.flows import evidence_value

    for e in entries:
        got = ", ".join(f"{k} = {evidence_value(v)}" for k, v in e.evidence.items())
        _say(f"- {e.question} {e.answer} (from the reading: {got})")


def interact(kb, session) -> int:
    from kb.errors import UserError

    print(session.flow.title)
    _say(WORDS)
    print()
    shown = 0
    while True:
        path = session.path
        if len(path) > shown:
            _auto_lines([e for e in path[shown:] if e.auto])
        shown = len(path)
        p = session.next_step()
        if p is None:
            print()
            _print_conclusion(kb, session)
            return 0
        _show_prompt(p, len(path) + 1)
        while True:
            raw = _ask("> ")
            if raw is None:
                print("Stopped before a conclusion.")
                return 0
            word = raw.lower()
            if word in ("q", "quit", "exit"):
                print("Stopped before a conclusion.")
                return 0
            if word in ("why", "w", "?"):
                _say(session.why(p.id), "  ")
                continue
            if word == "how":
                _say(session.how(), "  ")
                continue
            if word in ("help", "h"):
                _say(WORDS, "  ")
                continue
            if word in ("back", "b"):
                if session.back():
                    shown = min(shown, len(session.path))
                    print("(went back one answer)")
                    break
                print("  Nothing to go back to: this is the first question.")
                continue
            if not raw:
                print(f"  Answer with {p.allowed}.")
                continue
            try:
                session.answer(p.id, _typed(p, raw))
            except UserError as e:
                print(f"  {e}")
                continue
            break
        print()


def _print_conclusion(kb, session) -> None:
    c = session.conclusion
    _say(f"Conclusion ({c.severity}): {c.title}")
    _say(c.text, "  ")
    print("What to do:")
    for i, r in enumerate(c.remedy, 1):
        _say(f"{i}. {r}", "  ")
    print("Sources: " + " ".join(f"[^{x}]" for x in c.citations))
    for label in c.citations:
        src = kb.sources.get(label)
        if src is not None:
            _say(f"[^{label}] {src.summary}", "  ")
    print()
    _say(session.how())


def _print_outcome(kb, session) -> None:
    if session.conclusion is not None:
        _print_conclusion(kb, session)
        return
    p = session.next_step()
    _say(session.how())
    print()
    _show_prompt(p, len(session.path) + 1)
    print(f"(not concluded: add an answer for '{p.id}' to the answers file)")
