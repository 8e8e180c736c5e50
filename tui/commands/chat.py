"""`bmsdoc chat`: ask the handbook in plain words.

`bmsdoc chat "question"` answers one turn (`--json`: one JSON object); `bmsdoc chat --json` with no question reads
turns from stdin, one per line, and prints one JSON object per turn (JSON lines) from one conversation, so dialogues
are scriptable; `bmsdoc chat` on a terminal is an interactive session.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub) -> None:
    p = sub.add_parser("chat", help="ask the handbook in plain words (answers cite footnotes)",
                       description="A grounded offline chat: it reads the facts in your words (family, series, volts, "
                                   "amps, FET states, goals), answers with the number, verdict or action first, keeps "
                                   "the context across turns, runs the diagnosis flows, checks pasted readings and ranks "
                                   "BMS families; every answer cites the handbook (or says it does not cover it).")
    p.add_argument("question", nargs="?", help="one question (omit it to read turns from stdin)")
    p.add_argument("--json", action="store_true",
                   help="JSON output: one object for a question, one object per line for turns read from stdin")
    p.set_defaults(func=run)


def make_dialogue(kb=None):
    """The one Dialogue the CLI and the TUI use: the paste parser (drivers.paste, slow to import) loads only when a
    turn looks like a reading."""
    from engine.chat import Dialogue

    def parse(text: str):
        from drivers.paste import parse_to_reading

        return parse_to_reading(text)

    return Dialogue(kb=kb, paste_parser=parse)


def _show(r: dict) -> str:
    out = [r["answer"]]
    if r["citations"] and not all(f"[^{c}]" in r["answer"] for c in r["citations"]):
        out.append("Sources: " + "".join(f"[^{c}]" for c in r["citations"]))
    if r["follow_up"] and r["follow_up"] not in r["answer"]:
        out.append(r["follow_up"])
    if r["options"]:
        out.append("Answer with: " + " | ".join(f"{i}) {o}" for i, o in enumerate(r["options"], 1)))
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    from kb.errors import UserError
    from tui.cli import emit_json

    if args.question is not None:
        if not args.question.strip():
            raise UserError('nothing to ask: give a question, e.g. bmsdoc chat "why does my jk cut out when braking?", '
                            "or run bmsdoc chat --json and write one turn per line on stdin")
        d = make_dialogue()
        r = d.turn(args.question)
        if args.json:
            emit_json(r)
        else:
            print(_show(r))
        return 0
    d = make_dialogue()
    if args.json:  # JSON lines: one object per turn, flushed so a script can read each answer before the next turn
        from kb.untrusted import clean

        for line in sys.stdin:
            if not line.strip():
                continue
            r = d.turn(line.rstrip("\n"))
            sys.stdout.write(clean(json.dumps(r, ensure_ascii=False, default=str)) + "\n")
            sys.stdout.flush()
        return 0
    interactive = sys.stdin.isatty()
    if interactive:
        print("Ask about your BMS (empty line or ctrl-d to quit).")
    while True:
        try:
            line = input("> " if interactive else "")
        except EOFError:
            break
        if not line.strip():
            if interactive:
                break
            continue
        print(_show(d.turn(line)) + "\n", flush=True)
    return 0
