"""`bmsdoc checklist`: the commissioning guardrails as an ordered checklist, with progress saved per pack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui.commands import argtypes


def register(sub) -> None:
    p = sub.add_parser("checklist", help="the commissioning checklist, with progress saved per pack",
                       description="Walk the commissioning guardrails step by step. Progress is saved per pack; "
                                   "with no action and a terminal, it asks about each open step in turn.")
    p.add_argument("--pack", default="my-pack", help="name of the pack (progress is saved under it)")
    p.add_argument("--reading", metavar="FILE", help="a reading (JSON/YAML or a paste, at most 4 MB) for the "
                                                    "automatic checks")
    p.add_argument("--mark", action="append", default=[], metavar="STEP=STATUS[:NOTE]",
                   help="set a step to done, skipped, failed or pending (repeatable)")
    p.add_argument("--taps", metavar="STEP=V1,V2,...", help="balance-tap voltages from B- for a measuring step "
                                                            "(at most 64, each 0-1000 V)")
    p.add_argument("--series", type=argtypes.series, metavar="N",
                   help="the pack's series count (e.g. 20 or 20S; saved with the pack): confirms the balance taps")
    p.add_argument("--export", metavar="FILE", help="write the report as Markdown (.md) or HTML (.html)")
    p.add_argument("--reset", action="store_true", help="forget the saved progress of this pack")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from engine.checklist import Progress, check_taps, export, get_checklist, status_json
    from kb.load import load_kb
    from tui.cli import emit_json

    kb = load_kb()
    cl = get_checklist(kb)
    if args.reset:
        Progress.reset(args.pack, cl.id)
    reading = _reading(args.reading) if args.reading else None
    acted = bool(args.mark or args.taps or args.reset or args.series)
    marks = [_parse_mark(m) for m in args.mark]  # every flag is checked before anything is saved
    tap_step, taps = _parse_taps(cl, args.taps) if args.taps else (None, [])
    if args.mark or args.taps or args.series:
        # read-modify-write under the pack's lock: ten concurrent --mark runs keep all ten marks
        with Progress.locked(args.pack, cl, kb.kb_version) as progress:
            for step, status, note in marks:
                progress.mark(step, status, note)
            if args.series:
                progress.series = args.series
            if tap_step is not None:
                series = progress.series or (reading.series if reading is not None else None)
                result = check_taps(tap_step.measure, taps, series)
                progress.steps[tap_step.id].taps = taps
                # nothing wrong but nothing confirmed (ok None): the step is open again, never done
                status = {True: "done", False: "failed", None: "pending"}[result.ok]
                progress.mark(tap_step.id, status, result.message)
                if not args.json:
                    print(_tap_word(result) + result.message)
    else:
        progress = Progress.load(args.pack, cl, kb.kb_version)
    interactive = not (acted or args.export or args.json) and sys.stdin.isatty()
    if interactive:
        _walk(kb, cl, progress, reading)
    if args.export:
        path = export(kb, cl, progress, Path(args.export), reading,
                      f"the reading in {args.reading}" if reading is not None else None)
        if not args.json:
            print(f"report written to {path}")
    if args.json:
        emit_json(status_json(kb, cl, progress, reading))
    elif not interactive:
        _print_status(kb, cl, progress, reading)
    return 0


def _tap_word(result) -> str:
    return {True: "ok: ", False: "problem: ", None: "not confirmed: "}[result.ok]


def _parse_mark(m: str) -> tuple[str, str, str]:
    from kb.errors import UserError
    from kb.untrusted import shown

    step, _, rest = m.partition("=")
    status, _, note = rest.partition(":")
    if not rest:
        raise UserError(f"--mark takes STEP=STATUS, e.g. wake=done, not '{shown(m, 60)}'")
    if len(note) > MAX_NOTE:
        raise UserError(f"--mark: a note of {len(note):,} characters (at most {MAX_NOTE})")
    return step.strip(), status.strip().lower(), note.strip()


def _parse_taps(cl, text: str):
    from kb.errors import UserError
    from kb.untrusted import shown

    step_id, _, vals = text.partition("=")
    step = next((s for s in cl.steps if s.id == step_id.strip()), None)
    if step is None or step.measure is None:
        raise UserError(f"'{shown(step_id, 40)}' is not a step that measures taps")
    return step, _floats(vals)


MAX_NOTE = 2000
MAX_TAPS = 64
MAX_TAP_V = 1000.0


def _floats(text: str) -> list[float]:
    import math

    from kb.errors import UserError
    from kb.untrusted import shown

    out = []
    for tok in text.replace(";", ",").replace(" ", ",").split(","):
        if not tok.strip():
            continue
        word = tok.strip().lower().removesuffix("v").replace(",", ".")
        try:
            x = float(word) if len(word) <= 20 else math.inf
        except ValueError:
            raise UserError(f"'{shown(tok, 30)}' is not a voltage") from None
        if not math.isfinite(x) or abs(x) > MAX_TAP_V:
            raise UserError(f"'{shown(tok, 30)}' is not a tap voltage (0 to {MAX_TAP_V:g} V)")
        out.append(x)
        if len(out) > MAX_TAPS:
            raise UserError(f"at most {MAX_TAPS} tap voltages")
    return out


def _reading(path: str):
    from tui.commands.check import load_reading

    return load_reading(path)


MARKS = {"done": "[x]", "skipped": "[-]", "failed": "[!]", "pending": "[ ]"}


def _print_status(kb, cl, progress, reading) -> None:
    from engine.checklist import auto_checks, step_citations

    print(f"{cl.title} — pack '{progress.pack}': {progress.done}/{len(cl.steps)} complete\n")
    for i, step in enumerate(cl.steps, 1):
        st = progress.steps[step.id]
        print(f"{MARKS[st.status]} {i:2d}. {step.title}  ({step.id}) {''.join(f'[^{c}]' for c in step_citations(kb, step))}")
        for r in auto_checks(kb, cl, step, reading) if reading is not None else []:
            print(f"        check: {r.text}: {({True: 'pass', False: 'FAIL', None: 'not in the reading'})[r.result]}")
        if st.note:
            print(f"        note: {st.note}")


def _walk(kb, cl, progress, reading) -> None:
    from engine.checklist import Progress, auto_checks, check_taps, step_citations

    print(f"{cl.title} — pack '{progress.pack}'. Answer d(one), s(kip), f(ailed), or q(uit) to stop; "
          "progress is saved after each step.\n")
    for i, step in enumerate(cl.steps, 1):
        st = progress.steps[step.id]
        if st.status in ("done", "skipped"):
            continue
        g = kb.guides[step.guide]
        print(f"{i}. {step.title} {''.join(f'[^{c}]' for c in step_citations(kb, step))}")
        for s in g.steps:
            print(f"   - {s}")
        for r in auto_checks(kb, cl, step, reading):
            print(f"   check: {r.text}: {({True: 'pass', False: 'FAIL', None: 'not in the reading'})[r.result]}")
        if step.measure:
            try:
                raw = input(f"   {step.measure.prompt} (empty to skip): ").strip()
            except EOFError:
                print()
                return
            if raw:
                try:
                    taps = _floats(raw)
                except Exception as e:  # UserError: say it and move on to the status question
                    print(f"   {e}")
                    taps = []
                if taps:
                    res = check_taps(step.measure, taps, progress.series)
                    print("   " + _tap_word(res) + res.message)
                    st.taps = taps
        while True:
            try:
                ans = input("   [d/s/f/q] > ").strip().lower()
            except EOFError:
                print()
                return
            if ans in ("q", "quit"):
                return
            status = {"d": "done", "done": "done", "s": "skipped", "skip": "skipped", "f": "failed", "failed": "failed"}.get(ans)
            if status:
                with Progress.locked(progress.pack, cl, progress.kb_version) as saved:
                    saved.mark(step.id, status)
                    saved.steps[step.id].taps = st.taps
                progress.steps[step.id] = saved.steps[step.id]
                break
            print("   answer d, s, f or q")
        print()
    print(f"{progress.done}/{len(cl.steps)} steps complete.")
