"""`bmsdoc log`: analyse ride logs for BMS trips, regen peaks, sag, resistance and imbalance.

  bmsdoc log analyze FILE [--bms F --series N --rated A --charge-limit A --map ...] [--json] [--plot FILE.png|svg]
  bmsdoc log trend FILE FILE [...]      pack resistance across logs, in the order given

The TUI's log screen uses analyze_file() and the same LogAnalysis (its plot data is analysis.plot).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from tui.commands import argtypes

BIG_FILE_BYTES = 2_000_000  # show a progress bar above this (when stderr is a terminal)
SHOWN_PER_GROUP = 3  # human output: events of one kind and rule beyond this are counted, not listed


def register(sub) -> None:
    p = sub.add_parser("log", help="analyse ride logs (VESC Tool, LogUI, recorded sessions, any CSV)",
                       description="Find BMS trips, regen peaks, sag, pack resistance and imbalance in ride logs.")
    lsub = p.add_subparsers(dest="log_command", metavar="ACTION", parser_class=type(p))
    a = lsub.add_parser("analyze", help="events and findings of one log",
                        description="Analyse one ride log: cuts under load or regen (latched or not), regen and "
                                    "discharge peaks, sag and pack resistance, cell spread, temperatures; each "
                                    "event with the rule, remedy and handbook citations.")
    a.add_argument("file", metavar="FILE", help="VESC Tool RT CSV or VESC Express/LogUI CSV (streamed, up to 8 GB), "
                                                "any CSV with --map (up to 400 MB), or a recorded bmsdoc session")
    _context_args(a)
    a.add_argument("--map", metavar="MAPPING", help="columns of another CSV: time=COL,voltage=COL,current=COL"
                                                    "[,current_sign=discharge_positive][,time_unit=ms]")
    a.add_argument("--session", type=int, metavar="ID", help="which session of a bmsdoc recording (default: newest)")
    a.add_argument("--json", action="store_true", help="machine-readable output")
    a.add_argument("--plot", metavar="FILE.png|svg", help="write voltage, current and events to an image")
    a.add_argument("--all", action="store_true", help="list every event (default: a few of each kind)")
    a.add_argument("--kb", metavar="DIR", help=argparse.SUPPRESS)  # another content root (tests, reviews)
    a.set_defaults(func=run)
    t = lsub.add_parser("trend", help="pack resistance across several logs",
                        description="Estimate the pack resistance of each log (in the order given) and the change "
                                    "from the first to the last: rising resistance is an early warning.")
    t.add_argument("files", metavar="FILE", nargs="+")
    t.add_argument("--map", metavar="MAPPING", help="column mapping for CSVs bmsdoc does not know (see analyze)")
    t.add_argument("--series", type=argtypes.series, metavar="N", help="series count (adds resistance per group)")
    t.add_argument("--json", action="store_true", help="machine-readable output")
    t.set_defaults(func=run_trend)
    p.set_defaults(func=lambda args: _usage(p))


def _context_args(a: argparse.ArgumentParser) -> None:
    a.add_argument("--bms", metavar="FAMILY", help="BMS family: jk, ant, jbd/llt, daly, charge-only")
    a.add_argument("--series", type=argtypes.series, metavar="N", help="series count (e.g. 20 or 20S)")
    a.add_argument("--chemistry", metavar="CHEM", help="li-ion (default) or lifepo4")
    a.add_argument("--rated", type=argtypes.positive_amps, metavar="A", help="the board's continuous current rating")
    a.add_argument("--charge-limit", type=argtypes.positive_amps, metavar="A", help="the BMS charge over-current limit (limits regen too)")
    a.add_argument("--discharge-limit", type=argtypes.positive_amps, metavar="A", help="the BMS discharge over-current limit")


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def context_of(args: argparse.Namespace) -> dict[str, Any]:
    # VESC logs say nothing of the chemistry: Li-ion unless told (as --help says), so Li-ion rules can judge sag
    pairs = {"bms": args.bms, "series": args.series, "chemistry": getattr(args, "chemistry", None) or "li-ion",
             "rated_continuous": getattr(args, "rated", None), "charge_ocp": getattr(args, "charge_limit", None),
             "discharge_ocp": getattr(args, "discharge_limit", None)}
    return {k: v for k, v in pairs.items() if v is not None}


# ---------------------------------------------------------------- shared with the TUI


def analyze_file(path: str, context: dict[str, Any] | None = None, mapping: str | None = None,
                 progress: Callable[[float], None] | None = None, kb: Any = None, session: int | None = None):
    """Load and analyse one log: the path the command line and the TUI's log screen share."""
    from drivers.logs import load_log
    from engine.logs import analyze

    data = load_log(path, mapping=mapping, progress=progress, session=session)
    return analyze(data, context or {}, kb=kb)


def check_plot_path(path: str) -> None:
    from kb.errors import UserError

    if os.path.splitext(path)[1].lower() not in (".png", ".svg"):
        raise UserError(f"--plot: '{path}' must end in .png or .svg")


def write_plot(analysis, path: str) -> str:
    """Voltage and current over time with event markers (matplotlib, Agg). Returns the path written."""
    from kb.errors import UserError

    check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = analysis.plot
    fig, (av, ai) = plt.subplots(2, 1, sharex=True, figsize=(11, 6), constrained_layout=True)
    av.plot(s.t_s, s.voltage, lw=0.8, color="tab:blue")
    av.set_ylabel("pack voltage (V)")
    ai.plot(s.t_s, s.current, lw=0.8, color="tab:gray")
    ai.axhline(0, lw=0.5, color="black")
    ai.set_ylabel("battery current (A)\n+ regen / − discharge")
    ai.set_xlabel("time from start (s)")
    colours = {"critical": "tab:red", "warning": "tab:orange", "info": "tab:green"}
    for e in analysis.events:
        if not e.rule and e.kind not in ("regen_peak", "discharge_peak"):
            continue
        c = colours[e.severity]
        for ax in (av, ai):
            ax.axvline(e.t_s, color=c, lw=1.0, ls="--", alpha=0.8)
        av.annotate(e.kind.replace("_", " "), (e.t_s, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                    va="top", ha="right", fontsize=7, color=c)
    r = analysis.resistance_ohm
    title = f"{analysis.source} — {analysis.samples} samples, {analysis.duration_s:.0f} s"
    if r is not None:
        title += f", pack resistance ≈ {r:.3f} Ω"
    av.set_title(title, fontsize=9)
    try:
        fig.savefig(path, dpi=120)
    except OSError as e:
        raise UserError(f"--plot: cannot write '{path}' ({e.strerror})") from None
    finally:
        plt.close(fig)
    return path


# ---------------------------------------------------------------- progress


class _Bar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, label: str):
        self.label = label
        self.last = -1

    def __call__(self, frac: float) -> None:
        pct = int(frac * 100)
        if pct == self.last:
            return
        self.last = pct
        width = 30
        done = int(frac * width)
        sys.stderr.write(f"\r{self.label} [{'#' * done}{' ' * (width - done)}] {pct:3d}%")
        sys.stderr.flush()

    def close(self) -> None:
        if self.last >= 0:
            sys.stderr.write("\r" + " " * (len(self.label) + 40) + "\r")
            sys.stderr.flush()


def _progress_for(path: str) -> _Bar | None:
    try:
        big = os.path.getsize(path) >= BIG_FILE_BYTES
    except OSError:
        return None
    return _Bar(f"reading {os.path.basename(path)}") if big and sys.stderr.isatty() else None


# ---------------------------------------------------------------- commands


def run(args: argparse.Namespace) -> int:
    from tui.cli import emit_json

    if args.plot:
        check_plot_path(args.plot)  # before the work, not after it
    kb = None
    if args.kb:
        from kb.load import load_kb

        kb = load_kb(args.kb)
    bar = _progress_for(args.file)
    try:
        analysis = analyze_file(args.file, context_of(args), args.map, bar, kb=kb, session=args.session)
    finally:
        if bar:
            bar.close()
    if args.plot:
        write_plot(analysis, args.plot)
    if args.json:
        emit_json(analysis.to_json())
        return 0
    print_analysis(analysis, show_all=args.all)
    if args.plot:
        print(f"\nPlot written to {args.plot}")
    return 0


def run_trend(args: argparse.Namespace) -> int:
    from drivers.logs import load_log
    from engine.logs import resistance_trend
    from tui.cli import emit_json

    logs = []
    for f in args.files:
        bar = _progress_for(f)
        try:
            logs.append(load_log(f, mapping=args.map, progress=bar))
        finally:
            if bar:
                bar.close()
    trend = resistance_trend(logs, series=args.series)
    if args.json:
        emit_json(trend)
        return 0
    for row in trend["logs"]:
        r = row["resistance_ohm"]
        per = f"  ({row['per_group_mohm']:.1f} mΩ per group)" if row.get("per_group_mohm") is not None else ""
        shown = f"{r:.4f} Ω{per}" if r is not None else f"no estimate ({row['note']})"
        print(f"{row['source']}: {shown}")
    if trend["change_pct"] is not None:
        print(f"\nChange from first to last: {trend['change_pct']:+.0f} %")
    return 0


def _clock(t: float) -> str:
    m, s = divmod(t, 60.0)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:04.1f}" if h else f"{m}:{s:04.1f}"


FORMAT_NAMES = {"vesc-rt-csv": "VESC Tool RT CSV", "logui-csv": "VESC Express/LogUI CSV",
                "bmsdoc-session": "recorded bmsdoc session", "generic-csv": "CSV (mapped columns)"}


def print_analysis(a, show_all: bool = False) -> None:
    fmt = FORMAT_NAMES.get(a.format, a.format)
    print(f"{a.source}: {fmt}, {a.samples:,} samples over {_clock(a.duration_s)} (knowledge base {a.kb_version})")
    p = a.peaks
    print(f"Peaks: discharge {p['discharge_a']:.1f} A at {_clock(p['discharge_t_s'])}, regen {p['regen_a']:.1f} A "
          f"at {_clock(p['regen_t_s'])}; pack voltage {p['voltage_min']:.1f}–{p['voltage_max']:.1f} V")
    r = a.resistance
    if r.ohm is not None:
        per = ""
        if a.context.get("series"):
            per = f", {1000 * r.ohm / a.context['series']:.1f} mΩ per series group"
        print(f"Pack resistance: {r.ohm:.3f} Ω{per} (from load steps in {r.windows} window(s))")
    else:
        print(f"Pack resistance: no estimate ({r.note})")
    trips = a.trips()
    print()
    if trips:
        print(f"BMS TRIPS: {len(trips)} event(s) look like the pack being cut or faulting (details below).")
    else:
        print("No BMS trip in this log: no cut under load or regen, no latched protection.")
    print("\nEvents:")
    groups: dict[tuple[str, str | None], int] = {}
    hidden: dict[tuple[str, str | None], int] = {}
    for e in a.events:
        key = (e.kind, e.rule)
        groups[key] = groups.get(key, 0) + 1
        if not show_all and groups[key] > SHOWN_PER_GROUP:
            hidden[key] = hidden.get(key, 0) + 1
            continue
        vals = ", ".join(f"{k} {_fmt(v)}" for k, v in e.values.items() if not isinstance(v, list))
        print(f"  {_clock(e.t_s):>9}  {e.kind.replace('_', ' ')}: {vals}")
        if e.rule:
            print(f"             {e.severity.upper()} [{e.rule}] {e.message}")
            for step in e.remedy:
                print(f"               - {step}")
            print(f"             sources: {' '.join(f'[^{c}]' for c in e.citations)}")
    for (kind, rule), n in hidden.items():
        print(f"  ... and {n} more {kind.replace('_', ' ')} event(s)" + (f" [{rule}]" if rule else "")
              + " (--all or --json to list them)")
    base = [f for f in a.findings if f.get("t_s") is None]
    if base:
        print("\nAbout the setup you described:")
        for f in base:
            print(f"  {f['severity'].upper()} [{f['rule']}] {f['message']} "
                  f"{' '.join(f'[^{c}]' for c in f['citations'])}")
    if a.missing_context:
        flags = {"series": "--series", "rated_continuous": "--rated", "charge_ocp": "--charge-limit",
                 "discharge_ocp": "--discharge-limit", "bms": "--bms", "chemistry": "--chemistry"}
        shown = ", ".join(flags.get(f, f) for f in a.missing_context)
        print(f"\nGive {shown} to check more.")
    if a.notes:
        print("\nNotes: " + "; ".join(a.notes))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
