"""The Health view of a pack: per-cell resistance, capacity and verdicts, pack figures and the cited findings.

Opened from the command palette ("Pack health") over the live recording, the recordings in the data directory, or
files typed in. The analysis (tui.commands.health.health_of, the same as `bmsdoc health`) runs in a thread worker,
so a month of recordings never freezes the screen.
"""

from __future__ import annotations

import shlex
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Static

VERDICT_STYLE = {"ok": "green", "high-resistance": "bold red", "low-capacity": "bold dark_orange",
                 "imbalanced": "bold magenta"}
SEVERITY_STYLE = {"critical": "bold red", "warning": "bold dark_orange", "info": "cyan"}


class HealthScreen(Screen):
    DEFAULT_CSS = """
    HealthScreen { layout: vertical; }
    HealthScreen #health-form { height: auto; padding: 0 1; }
    HealthScreen #health-sources { width: 3fr; }
    HealthScreen #health-pack { width: 1fr; }
    HealthScreen #health-status { height: auto; padding: 0 1; color: $text-muted; }
    HealthScreen #health-body { height: 1fr; }
    HealthScreen #health-cells { height: auto; max-height: 26; }
    HealthScreen #health-figures, HealthScreen #health-findings { height: auto; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "close", "Back", tooltip="Back to the area you came from"),
                Binding("ctrl+r", "analyse", "Analyse", tooltip="Analyse the sources again")]

    def __init__(self, sources: list[str] | None = None, pack: str | None = None) -> None:
        super().__init__()
        self.sources = list(sources or [])
        self.pack = pack
        self.report: Any = None
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static(Text("Pack health — per-cell resistance, capacity and balance over recordings", style="bold"),
                     id="health-title")
        with Horizontal(id="health-form"):
            yield Input(" ".join(shlex.quote(s) for s in self.sources), id="health-sources",
                        placeholder="per-cell CSV, recording (.sqlite) or fleet history; several separated by spaces")
            yield Input(self.pack or "", id="health-pack", placeholder="pack name (fleet)")
            yield Button("Analyse", id="health-go", variant="primary")
        yield Static("", id="health-status")
        with VerticalScroll(id="health-body"):
            yield DataTable(id="health-cells", zebra_stripes=True, cursor_type="row")
            yield Static("", id="health-figures")
            yield Static("", id="health-findings")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        t = self.query_one("#health-cells", DataTable)
        t.add_columns("cell", "resistance mΩ", "capacity Ah", "offset at rest V", "verdict")
        if self.sources:
            self.action_analyse()
        else:
            self._status("Type the files to analyse, then Enter.")
            self.query_one("#health-sources", Input).focus()

    def action_close(self) -> None:
        self.app.pop_screen()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_analyse()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "health-go":
            self.action_analyse()

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#health-status", Static).update(Text(text, style=style))

    def action_analyse(self) -> None:
        raw = self.query_one("#health-sources", Input).value
        try:
            sources = shlex.split(raw)
        except ValueError as e:
            self._status(f"sources: {e}", "red")
            return
        if not sources:
            self._status("No source given: type a CSV or a recording.", "red")
            return
        pack = self.query_one("#health-pack", Input).value.strip() or None
        self.sources, self.pack = sources, pack
        self._status(f"Analysing {len(sources)} source(s)…")
        kb = getattr(self.app, "kb", None)
        self.run_worker(lambda: self._work(sources, pack, kb), thread=True, exclusive=True, group="health")

    def _work(self, sources: list[str], pack: str | None, kb: Any) -> None:
        from kb.errors import UserError
        from tui.commands.health import health_of

        try:
            rep = health_of(sources, pack=pack, kb=kb)
        except UserError as e:
            self.app.call_from_thread(self._show_error, str(e))
            return
        except Exception as e:  # a defect must not take the app down: say what happened
            self.app.call_from_thread(self._show_error, f"the analysis failed ({type(e).__name__}: {e})")
            return
        self.app.call_from_thread(self.show, rep)

    def _show_error(self, text: str) -> None:
        self.error = text
        self.report = None
        self._status(text, "bold red")

    def show(self, rep: Any) -> None:
        self.report, self.error = rep, ""
        fig = rep.figures
        self._status(f"{rep.series} cell groups, {rep.chemistry or 'chemistry unknown'}, {fig['recordings']} "
                     f"recording(s), {fig['samples']} samples")
        t = self.query_one("#health-cells", DataTable)
        t.clear()
        for c in rep.cells:
            t.add_row(str(c.cell), _f(c.resistance_mohm, ".2f"), _f(c.capacity_ah, ".2f"), _f(c.offset_v, "+.3f"),
                      Text(c.verdict, style=VERDICT_STYLE.get(c.verdict, "")), key=str(c.cell))
        figs = Text()
        figs.append("Pack  ", style="bold")
        figs.append(f"resistance {_f(fig['resistance_mohm'], '.1f')} mΩ ({fig['resistance_steps']} steps) · "
                    f"capacity {_f(fig['capacity_ah'], '.2f')} Ah (median cell {_f(fig['capacity_median_ah'], '.2f')}) · "
                    f"rest delta {_f(fig['rest_delta_v'], '.3f')} V\n      in {fig['ah_in']:.1f} Ah / "
                    f"{_f(fig['wh_in'], '.0f')} Wh · out {fig['ah_out']:.1f} Ah / {_f(fig['wh_out'], '.0f')} Wh · "
                    f"{_f(fig['equivalent_full_cycles'], '.2f')} equivalent full cycles")
        trend = fig.get("trend") or []
        if len(trend) > 1:
            figs.append("\nTrend ", style="bold")
            figs.append("  ".join(f"{x['recording']}: {_f(x['resistance_mohm'], '.0f')} mΩ, "
                                  f"{_f(x['rest_delta_v'], '.3f')} V" for x in trend[-6:]))
        self.query_one("#health-figures", Static).update(figs)
        out = Text()
        if not rep.findings:
            out.append("No warnings: resistance, capacity and balance look even." if rep.cells else
                       "No warnings. Pack figures only: no cell voltages in these logs.", style="green")
        for f in rep.sorted_findings():
            out.append(f"\n{f.severity.upper()} ", style=SEVERITY_STYLE.get(f.severity, ""))
            out.append(f"{f.title}\n", style="bold")
            out.append(f"  {f.message}\n")
            for r in f.remedy:
                out.append(f"  • {r}\n")
            out.append("  " + " ".join(f"[^{c}]" for c in f.citations) + "\n", style="italic cyan")
        for n in rep.notes:
            out.append(f"\nnote: {n}", style="dim")
        self.query_one("#health-findings", Static).update(out)


def _f(v: Any, spec: str) -> str:
    return "—" if v is None else format(v, spec)
