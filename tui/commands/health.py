"""`bmsdoc health SOURCE... [--pack NAME] [--json] [--report FILE.html|FILE.md] [--plots DIR]`

Pack health over time from recordings (bmsdoc SQLite, fleet history), per-cell CSVs
(`time_s,current_a,cell1_v,...`) and other logs (VESC, LogUI, --map CSV: pack figures only).
The TUI's Health view calls health_of() and renders the same HealthReport.
"""

from __future__ import annotations

import argparse
from typing import Any

CHEMISTRIES = ("li-ion", "lfp")


def register(sub) -> None:
    p = sub.add_parser("health", help="pack health over time: per-cell resistance, weak vs unbalanced cells, capacity",
                       description="Per-cell internal resistance from load steps, weak (high resistance or low "
                                   "capacity) versus out-of-balance cells, capacity by coulomb counting between rests, "
                                   "energy in and out, equivalent full cycles and the balance trend across "
                                   "recordings; findings cite the handbook.")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="per-cell CSV (time_s,current_a,cell1_v,...), a bmsdoc recording or fleet history (SQLite), "
                        "or another log with --map; default: the recordings in your data directory")
    p.add_argument("--pack", metavar="NAME", help="the pack's sessions in a recording or fleet history")
    p.add_argument("--map", metavar="MAPPING", help="columns of another CSV: time=COL,voltage=COL,current=COL")
    p.add_argument("--chemistry", choices=CHEMISTRIES, help="li-ion or lfp (default: from the voltages)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--report", metavar="FILE.html|FILE.md", help="write a report with figures")
    p.add_argument("--plots", metavar="DIR", help="write the figures (PNG and SVG) into DIR")
    p.add_argument("--kb", metavar="DIR", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def health_of(sources: list[str], *, pack: str | None = None, mapping: str | None = None,
              chemistry: str | None = None, kb: Any = None):
    """Read every source and analyse the pack: the path the command line and the TUI share."""
    from drivers.health_sources import recordings
    from engine.health import analyze

    notes: list[str] = []
    rep = analyze(recordings(sources, pack=pack, mapping=mapping, notes=notes), kb, chemistry=chemistry, pack=pack)
    rep.notes = notes + rep.notes
    return rep


def _default_sources() -> list[str]:
    from drivers import record
    from kb.errors import UserError

    p = record.default_path()
    if not p.exists():
        raise UserError("no SOURCE given and nothing recorded yet (give a CSV or a recording, or record with "
                        "bmsdoc watch --record)")
    return [str(p)]


def run(args: argparse.Namespace) -> int:
    from kb.errors import UserError
    from tui.cli import emit_json

    if args.report and not args.report.lower().endswith((".html", ".htm", ".md")):
        raise UserError(f"--report: '{args.report}' must end in .html or .md")
    kb = None
    if args.kb:
        from kb.load import load_kb

        kb = load_kb(args.kb)
    sources = args.sources or _default_sources()
    rep = health_of(sources, pack=args.pack, mapping=args.map, chemistry=args.chemistry, kb=kb)
    written: list[str] = []
    if args.report:
        from engine.health.report import write_report

        path, plots = write_report(rep, args.report, args.plots)
        written = [str(path)] + [str(p) for p in plots]
    elif args.plots:
        from engine.health.report import write_plots

        written = [str(p) for p in write_plots(rep, args.plots)]
    if args.json:
        d = rep.to_json()
        if written:
            d["written"] = written
        emit_json(d)
        return 0
    print_report(rep)
    if written:
        print("\nWritten: " + ", ".join(written))
    return 0


def _f(v: Any, spec: str = ".2f") -> str:
    return "—" if v is None else format(v, spec)


def print_report(rep) -> None:
    fig = rep.figures
    head = f"Pack health{' of ' + rep.pack if rep.pack else ''}: {rep.series} cell groups"
    hours = fig["duration_h"]
    span = f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.1f} min"
    head += f", {rep.chemistry or 'chemistry unknown'}, {fig['recordings']} recording(s), {span}"
    print(head)
    print(f"  pack resistance {_f(fig['resistance_mohm'], '.1f')} mΩ ({fig['resistance_steps']} load steps), "
          f"capacity {_f(fig['capacity_ah'])} Ah (median cell {_f(fig['capacity_median_ah'])} Ah), "
          f"rest delta {_f(fig['rest_delta_v'], '.3f')} V")
    print(f"  in {fig['ah_in']:.2f} Ah / {_f(fig['wh_in'], '.0f')} Wh, out {fig['ah_out']:.2f} Ah / "
          f"{_f(fig['wh_out'], '.0f')} Wh, {_f(fig['equivalent_full_cycles'])} equivalent full cycles")
    if rep.cells:
        print("\ncell  resistance mΩ  capacity Ah  offset V  verdict")
        for c in rep.cells:
            print(f"{c.cell:>4}  {_f(c.resistance_mohm, '13.2f'):>13}  {_f(c.capacity_ah, '11.3f'):>11}  "
                  f"{_f(c.offset_v, '+8.3f'):>8}  {c.verdict}")
    print()
    if not rep.findings:
        print("No warnings: resistance, capacity and balance look even." if rep.cells else
              "No warnings. Pack figures only: these logs carry no cell voltages, so no cell can be judged.")
    for f in rep.sorted_findings():
        print(f"{f.severity.upper()}: {f.title} [{f.rule}]")
        print(f"  {f.message}")
        for r in f.remedy:
            print(f"  - {r}")
        print(f"  citations: {' '.join('[^' + c + ']' for c in f.citations)}")
    for n in rep.notes:
        print(f"note: {n}")
