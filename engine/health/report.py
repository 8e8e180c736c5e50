"""The health report as Markdown or HTML, with its figures (matplotlib, Agg; PNG and SVG):
cell voltages under load, per-cell resistance bars, rest delta over time, per-cell capacity.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np

from engine.health.analyze import HealthReport
from kb.errors import UserError

COLOURS = {"ok": "tab:blue", "high-resistance": "tab:red", "low-capacity": "tab:orange", "imbalanced": "tab:purple"}


def write_plots(rep: HealthReport, out_dir: str | Path, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """The four figures (those the data allow) into out_dir; returns the PNG paths (or the first format's)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(out_dir)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--plots: cannot create '{d}' ({e.strerror})") from None
    figs: list[tuple[str, Any]] = []
    pl = rep.plot
    if pl.get("cells") is not None and len(pl.get("t_s", [])):
        fig, (av, ai) = plt.subplots(2, 1, sharex=True, figsize=(11, 6), constrained_layout=True,
                                     gridspec_kw={"height_ratios": [3, 1]})
        t = np.asarray(pl["t_s"]) / 60
        for c in rep.cells:
            flagged = c.verdict != "ok"
            av.plot(t, pl["cells"][:, c.cell - 1], lw=1.2 if flagged else 0.5, color=COLOURS[c.verdict] if flagged
                    else "0.6", label=f"cell {c.cell}: {c.verdict}" if flagged else None, zorder=3 if flagged else 2)
        av.set_ylabel("cell voltage (V)")
        av.set_title(f"Cell voltages under load — {pl['name']}", fontsize=9)
        if any(c.verdict != "ok" for c in rep.cells):
            av.legend(fontsize=8)
        ai.plot(t, pl["current"], lw=0.6, color="tab:gray")
        ai.axhline(0, lw=0.5, color="black")
        ai.set_ylabel("current (A)\n+ charge")
        ai.set_xlabel("minutes from start")
        figs.append(("cell-voltages", fig))
    elif pl.get("pack_v") is not None and len(pl.get("t_s", [])):
        fig, (av, ai) = plt.subplots(2, 1, sharex=True, figsize=(11, 5), constrained_layout=True)
        t = np.asarray(pl["t_s"]) / 60
        av.plot(t, pl["pack_v"], lw=0.7, color="tab:blue")
        av.set_ylabel("pack voltage (V)")
        av.set_title(f"Pack voltage under load — {pl['name']} (no cell voltages in this log)", fontsize=9)
        ai.plot(t, pl["current"], lw=0.6, color="tab:gray")
        ai.axhline(0, lw=0.5, color="black")
        ai.set_ylabel("current (A)\n+ charge")
        ai.set_xlabel("minutes from start")
        figs.append(("pack-voltage", fig))
    if rep.cells and any(c.resistance_mohm is not None for c in rep.cells):
        figs.append(("resistance", _bars(plt, rep, "resistance_mohm", "resistance (mΩ)", "Per-cell internal resistance")))
    if rep.cells and any(c.capacity_ah is not None for c in rep.cells):
        figs.append(("capacity", _bars(plt, rep, "capacity_ah", "capacity (Ah)", "Per-cell capacity (coulomb counting between rests)")))
    if pl.get("delta"):
        fig, ax = plt.subplots(figsize=(11, 3.5), constrained_layout=True)
        xs = list(range(1, len(pl["delta"]) + 1))
        ax.plot(xs, [p["delta_v"] * 1000 for p in pl["delta"]], "o-", ms=3, lw=0.8)
        ax.axhspan(15, 25, color="tab:orange", alpha=0.15, label="balance-trigger band 15-25 mV [^9]")
        ax.set_xlabel("rest point (oldest first, across recordings)")
        ax.set_ylabel("rest delta (mV)")
        ax.set_title("Cell delta at rest over time", fontsize=9)
        ax.legend(fontsize=8)
        figs.append(("delta", fig))
    written: list[Path] = []
    try:
        for name, fig in figs:
            for k, fmt in enumerate(formats):
                p = d / f"{name}.{fmt}"
                fig.savefig(p, dpi=110)
                if k == 0:
                    written.append(p)
    except OSError as e:
        raise UserError(f"--plots: cannot write into '{d}' ({e.strerror})") from None
    finally:
        for _, fig in figs:
            plt.close(fig)
    return written


def _bars(plt, rep: HealthReport, attr: str, ylabel: str, title: str):
    fig, ax = plt.subplots(figsize=(11, 3.5), constrained_layout=True)
    xs = [c.cell for c in rep.cells]
    ys = [getattr(c, attr) or 0.0 for c in rep.cells]
    ax.bar(xs, ys, color=[COLOURS[c.verdict] for c in rep.cells])
    med = float(np.median([y for y in ys if y])) if any(ys) else 0.0
    ax.axhline(med, color="black", lw=0.7, ls="--", label=f"median {med:.2f}")
    ax.set_xticks(xs)
    ax.set_xlabel("cell group")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return fig


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def markdown(rep: HealthReport, plots: list[Path], base: Path) -> str:
    lines = [f"# Pack health{' — ' + rep.pack if rep.pack else ''}", "",
             f"{rep.series} cell groups, chemistry {rep.chemistry or 'unknown'}, {len(rep.recordings)} recording(s).", ""]
    lines += ["## Findings", ""]
    if not rep.findings:
        lines.append("No warnings: resistance, capacity and balance look even.")
    for f in rep.sorted_findings():
        cites = "".join(f"[^{c}]" for c in f.citations)
        lines.append(f"- **{f.severity}** {f.title}: {f.message} {cites}")
        for r in f.remedy:
            lines.append(f"  - {r}")
    lines += ["", "## Cells", "", "| cell | resistance mΩ | capacity Ah | offset at rest V | verdict |", "|---|---|---|---|---|"]
    for c in rep.cells:
        lines.append(f"| {c.cell} | {_fmt(c.resistance_mohm)} | {_fmt(c.capacity_ah)} | {_fmt(c.offset_v)} | {c.verdict} |")
    lines += ["", "## Pack", "", "| figure | value |", "|---|---|"]
    for k, v in rep.figures.items():
        if k != "trend":
            lines.append(f"| {k.replace('_', ' ')} | {_fmt(v)} |")
    lines += ["", "## Recordings", "", "| recording | samples | pack resistance mΩ | rest delta V | Ah out |", "|---|---|---|---|---|"]
    for s in rep.recordings:
        lines.append(f"| {s.name} | {s.samples} | {_fmt(s.resistance_mohm)} | {_fmt(s.rest_delta_v)} | {_fmt(s.ah_out)} |")
    if plots:
        lines += ["", "## Figures", ""]
        lines += [f"![{p.stem}]({_rel(p, base)})" for p in plots]
    if rep.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in rep.notes]
    return "\n".join(lines) + "\n"


def to_html(rep: HealthReport, plots: list[Path], base: Path) -> str:
    e = html.escape
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>Pack health</title>",
           "<style>body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:2px 8px}.warning{color:#b35c00}.critical{color:#b00}</style></head><body>",
           f"<h1>Pack health{' — ' + e(rep.pack) if rep.pack else ''}</h1>",
           f"<p>{rep.series} cell groups, chemistry {e(rep.chemistry or 'unknown')}, {len(rep.recordings)} recording(s).</p>",
           "<h2>Findings</h2><ul>"]
    if not rep.findings:
        out.append("<li>No warnings: resistance, capacity and balance look even.</li>")
    for f in rep.sorted_findings():
        cites = " ".join(f"[^{e(c)}]" for c in f.citations)
        rem = "".join(f"<li>{e(r)}</li>" for r in f.remedy)
        out.append(f"<li class='{e(f.severity)}'><b>{e(f.severity)}</b> {e(f.title)}: {e(f.message)} {cites}<ul>{rem}</ul></li>")
    out.append("</ul><h2>Cells</h2><table><tr><th>cell</th><th>resistance mΩ</th><th>capacity Ah</th>"
               "<th>offset at rest V</th><th>verdict</th></tr>")
    for c in rep.cells:
        out.append(f"<tr><td>{c.cell}</td><td>{_fmt(c.resistance_mohm)}</td><td>{_fmt(c.capacity_ah)}</td>"
                   f"<td>{_fmt(c.offset_v)}</td><td>{e(c.verdict)}</td></tr>")
    out.append("</table><h2>Pack</h2><table>")
    for k, v in rep.figures.items():
        if k != "trend":
            out.append(f"<tr><td>{e(k.replace('_', ' '))}</td><td>{e(_fmt(v))}</td></tr>")
    out.append("</table><h2>Recordings</h2><table><tr><th>recording</th><th>samples</th><th>pack resistance mΩ</th>"
               "<th>rest delta V</th><th>Ah out</th></tr>")
    for s in rep.recordings:
        out.append(f"<tr><td>{e(s.name)}</td><td>{s.samples}</td><td>{_fmt(s.resistance_mohm)}</td>"
                   f"<td>{_fmt(s.rest_delta_v)}</td><td>{_fmt(s.ah_out)}</td></tr>")
    out.append("</table>")
    if plots:
        out.append("<h2>Figures</h2>" + "".join(f"<p><img src='{e(_rel(p, base))}' alt='{e(p.stem)}' style='max-width:100%'></p>" for p in plots))
    if rep.notes:
        out.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in rep.notes) + "</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _rel(p: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(p.resolve(), base.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return p.resolve().as_uri()


def write_report(rep: HealthReport, path: str | Path, plots_dir: str | Path | None = None) -> tuple[Path, list[Path]]:
    p = Path(path)
    kind = p.suffix.lower()
    if kind not in (".html", ".htm", ".md"):
        raise UserError(f"--report: '{path}' must end in .html or .md")
    # the report shows PNGs; an explicit --plots DIR also gets the SVGs
    plots = write_plots(rep, plots_dir, ("png", "svg")) if plots_dir else \
        write_plots(rep, p.with_name(p.stem + "-plots"), ("png",))
    text = markdown(rep, plots, p.parent) if kind == ".md" else to_html(rep, plots, p.parent)
    try:
        p.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"--report: cannot write '{path}' ({e.strerror})") from None
    return p, plots
