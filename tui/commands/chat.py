"""`bmsdoc chat`: ask the handbook in plain words (interactive), or one turn with a question and --json."""

from __future__ import annotations

import argparse
import sys


def register(sub) -> None:
    p = sub.add_parser("chat", help="ask the handbook in plain words (answers cite footnotes)",
                       description="A grounded offline chat: symptoms run the diagnosis flows, pasted readings are "
                                   "checked, selection questions run the advisor, other questions are answered from "
                                   "the knowledge base with citations (or it says the handbook does not cover them).")
    p.add_argument("question", nargs="?", help="one question (omit for an interactive session on stdin)")
    p.add_argument("--json", action="store_true", help="one turn as JSON (needs a question)")
    p.set_defaults(func=run)


def _dialogue():
    from drivers.paste import parse_to_reading
    from engine.chat import Dialogue

    return Dialogue(paste_parser=parse_to_reading)


def _show(r: dict) -> str:
    out = [r["answer"]]
    if r["citations"]:
        out.append("Sources: " + "".join(f"[^{c}]" for c in r["citations"]))
    if r["follow_up"] and r["follow_up"] not in r["answer"]:
        out.append(r["follow_up"])
    if r["options"]:
        out.append("Answer with: " + " | ".join(f"{i}) {o}" for i, o in enumerate(r["options"], 1)))
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    from tui.cli import emit_json

    d = _dialogue()
    if args.question:
        r = d.turn(args.question)
        if args.json:
            emit_json(r)
        else:
            print(_show(r))
        return 0
    if args.json:
        from kb.errors import UserError

        raise UserError("--json needs a question: bmsdoc chat \"question\" --json")
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
