"""Live dashboard: source, cells on a fixed scale, pack figures, trends, and the findings as they happen."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import Sparkline, Static

from tui.screens.base import AreaScreen
from tui.widgets.cells import CellBars
from tui.widgets.findings import FindingCard, FindingsList
from tui.widgets.magnitude import MagnitudeSpark


def current_markup(reading: Any) -> str:
    """Charge, regen and discharge told apart at a glance (current > 0 is charging or regen)."""
    i = reading.current
    if i is None:
        return "[$text-muted]current —[/]"
    if abs(i) < 0.05:
        return f"[b]{i:+.1f} A[/] [$text-muted]idle[/]"
    if i < 0:
        return f"[b $accent]▼ {-i:.1f} A DISCHARGE[/]"
    word = "REGEN" if reading.state == "riding" else "CHARGE"
    return f"[b $success]▲ {i:.1f} A {word}[/]"


def fet_markup(name: str, on_: bool | None) -> str:
    if on_ is None:
        return f"{name} [$text-muted]?[/]"
    return f"{name} [b $success]● on[/]" if on_ else f"{name} [b $error]○ OFF[/]"


def pack_markup(reading: Any) -> str:
    if reading is None:
        return "[$text-muted]waiting for a reading…[/]"
    d = reading.derived()
    parts = []
    fam = (reading.bms or "").upper()
    if fam or reading.model:
        parts.append(f"[b]{escape(fam)}[/] {escape(reading.model or '')}".strip())
    if reading.series:
        parts.append(f"{reading.series}S {escape(reading.chemistry or '')}".strip())
    if reading.state:
        parts.append(escape(reading.state))
    line1 = " · ".join(parts) or "pack"
    pv = reading.pack_voltage if reading.pack_voltage is not None else d.get("cells_sum")
    pv_s = f"[b]{pv:.2f} V[/]" if pv is not None else "[$text-muted]— V[/]"
    soc = f"SoC [b]{reading.soc:.0f} %[/]" if reading.soc is not None else "SoC [$text-muted]—[/]"
    line2 = f"{pv_s}  {current_markup(reading)}  {soc}"
    temps = " ".join(f"{t:.0f}" for t in (reading.temperatures or []))
    mos = f"  MOS [b]{reading.mos_temp:.0f}[/]" if reading.mos_temp is not None else ""
    line3 = f"Temps [b]{temps or '—'}[/] °C{mos}"
    bal = reading.balancing
    bal_s = "[$text-muted]?[/]" if bal is None else ("[b $accent]◆ balancing[/]" if bal else "idle")
    if bal and reading.balance_current is not None:
        bal_s += f" {reading.balance_current:.2f} A"
    line4 = f"{fet_markup('Charge FET', reading.charge_fet)}  {fet_markup('Discharge FET', reading.discharge_fet)}  Balancer {bal_s}"
    extra = ""
    alarm = getattr(reading, "alarm_text", None)
    if alarm and alarm != "no alarm":
        label = "BMS protection" if getattr(reading, "protection_active", False) else "BMS alarm"
        extra = f"\n[b $error]{label}: {escape(alarm)}[/] [$text-muted]({escape(reading.alarm_code or '')})[/]"
    elif reading.fault:
        extra = f"\n[b $error]Fault: {escape(reading.fault)}[/]"
    return "\n".join([line1, line2, line3, line4]) + extra


class Trend(Horizontal):
    """A labelled Sparkline with its latest value (autoscaled: trends only, never for cell bars)."""

    DEFAULT_CSS = """
    Trend { height: 1; }
    Trend > .trend-label { width: 9; color: $text-muted; }
    Trend > Sparkline, Trend > MagnitudeSpark { width: 1fr; }
    Trend > .trend-value { width: 11; text-align: right; }
    """

    def __init__(self, label: str, unit: str, id: str, magnitude: bool = False) -> None:
        super().__init__(id=id)
        self.label, self.unit = label, unit
        self.magnitude = magnitude  # bars of |value| from zero (current) instead of an autoscaled trend

    def compose(self) -> ComposeResult:
        yield Static(self.label, classes="trend-label")
        if self.magnitude:
            yield MagnitudeSpark(id=f"{self.id}-spark")
        else:
            yield Sparkline([], id=f"{self.id}-spark")
        yield Static("—", classes="trend-value")

    def set_data(self, data: list[float]) -> None:
        if self.magnitude:
            self.query_one(MagnitudeSpark).data = data
        else:
            self.query_one(Sparkline).data = data if len(data) > 1 else []  # one point would fill the whole row
        self.query_one(".trend-value", Static).update(f"{data[-1]:.1f} {self.unit}" if data else "—")


class DashboardScreen(AreaScreen):
    AREA = "live"
    AUTO_FOCUS = "FindingsList"
    HELP = """
The live dashboard runs on the virtual BMS demo until you choose a source (`s`): a demo scenario, a Bluetooth scan,
an address, a recording or a pasted reading. Cell bars share one fixed scale; `L`/`H` mark the lowest and highest
cell. Findings are the rules this reading breaks, most severe and newest first: Enter expands one, `o` opens its
sources, `d` starts a diagnosis from it.
"""
    BINDINGS = [
        Binding("s", "pick_source", "Source", id="live-source", tooltip="Choose a demo scenario, BLE BMS, recording or paste"),
        Binding("r", "record", "Rec", id="live-record", tooltip="Record this session on/off"),
        Binding("d", "diagnose", "Diagnose", id="live-diagnose", tooltip="Diagnose the selected (or worst) finding"),
        Binding("x", "stop", "Stop", id="live-stop", tooltip="Stop the live source"),
        Binding("j,down", "next_finding", "Next", show=False, id="live-next", tooltip="Next finding"),
        Binding("k,up", "prev_finding", "Prev", show=False, id="live-prev", tooltip="Previous finding"),
    ]

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        yield Static("", id="live-source")
        with Horizontal(id="live-main"):
            with Vertical(id="live-cells-pane"):
                yield Static("[b]Cells[/]", classes="pane-title", id="live-cells-title")
                yield CellBars(id="live-cells")
            with Vertical(id="live-right"):
                yield Static("", id="live-pack")
                with Vertical(id="live-trends"):
                    yield Trend("|current|", "A", id="trend-current", magnitude=True)
                    yield Trend("delta", "mV", id="trend-delta")
                    yield Trend("temp max", "°C", id="trend-temp")
                yield Static("[b]Findings[/]", classes="pane-title", id="live-findings-title")
                yield FindingsList(id="live-findings")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.watch(self.app, "live_tick", self._on_tick, init=True)

    def on_screen_resume(self) -> None:
        self._refresh()

    def _on_tick(self, _tick: int = 0) -> None:
        if self.app.screen is self:  # hidden screens catch up when resumed
            self._refresh()

    def _refresh(self) -> None:
        live = self.app.live
        reading, report = live.reading, live.report
        status = live.status + (f" ({escape(live.detail)})" if live.detail else "")
        rec = f" · [b $error]REC[/] {escape(live.recording_path)}" if live.recording else ""
        count = f" · {live.seq} reading{'s' if live.seq != 1 else ''}" if live.seq else ""
        self.query_one("#live-source", Static).update(
            f"[b]Source:[/] {escape(live.source or 'none')} · {status}{count}{rec}  [$text-muted](s to change)[/]")
        findings = live.findings()
        delta_sev = ""
        for f in findings:
            if "cell_delta" in f.evidence:
                delta_sev = f.severity
                break
        cells = self.query_one(CellBars)
        cells.set_cells(reading.cells if reading else None, reading.chemistry if reading else None, delta_sev)
        self.query_one("#live-cells-title", Static).update(
            f"[b]Cells[/] [$text-muted]fixed scale {escape(cells.scale_text())}[/]")
        if reading is None and live.status in ("error", "disconnected", "ended"):
            self.query_one("#live-pack", Static).update(
                f"[b $error]No live data:[/] {escape(live.detail or live.status)}\n"
                "[$text-muted]Press s to run a demo scenario, paste a reading or connect to a BMS.[/]")
        else:
            notes = "".join(f"\n[$text-muted]{escape(n)}[/]" for n in live.notes[:3])
            self.query_one("#live-pack", Static).update(pack_markup(reading) + notes)
        self.query_one("#trend-current", Trend).set_data(list(live.current))
        self.query_one("#trend-delta", Trend).set_data(list(live.delta))
        self.query_one("#trend-temp", Trend).set_data(list(live.temp))
        newest = max(live.first_seen.values(), default=0)
        new_rules = {r for r, s in live.first_seen.items() if s == newest and s > 1 and live.seq - s < 50}
        flist = self.query_one(FindingsList)
        if report is None:
            why = live.check_error or ("waiting for a reading…" if reading is None else "")
            flist.show([], set(), why or "no findings")
        else:
            flist.show(findings, new_rules, quiet=live.intermittent())
        n = len(findings)
        title = f"[b]Findings[/] ({n})" if report is not None else "[b]Findings[/]"
        questions = list(getattr(report, "questions", []) or []) if report is not None else []
        if questions:  # the most decisive missing fact, as the rider would be asked it
            q = questions[0]
            title += f" [$text-muted]· to check further: {escape(q.ask)} ({q.severity})[/]"
        self.query_one("#live-findings-title", Static).update(title)

    # ------------------------------------------------------------------ actions

    def action_pick_source(self) -> None:
        from tui.screens.sources import SourcePicker

        def chosen(spec: dict[str, Any] | None) -> None:
            if spec:
                self.app.start_source(spec)

        self.app.push_screen(SourcePicker(), chosen)

    def action_record(self) -> None:
        self.app.set_recording(not self.app.live.recording)

    def action_stop(self) -> None:
        self.app.stop_source()

    def _selected_finding(self) -> Any:
        focused = self.app.focused
        if isinstance(focused, FindingCard):
            return focused.finding
        fs = self.app.live.findings()
        return fs[0] if fs else None

    def action_diagnose(self) -> None:
        f = self._selected_finding()
        if f is None:
            self.app.start_diagnosis()
        else:
            self.app.start_diagnosis(finding=f)

    @on(FindingCard.DiagnoseRequested)
    def _diagnose_card(self, event: FindingCard.DiagnoseRequested) -> None:
        event.stop()
        self.app.start_diagnosis(finding=event.finding)

    def _cards(self) -> list[FindingCard]:
        return list(self.query(FindingCard))

    def action_next_finding(self) -> None:
        self._move(1)

    def action_prev_finding(self) -> None:
        self._move(-1)

    def _move(self, step: int) -> None:
        cards = self._cards()
        if not cards:
            return
        focused = self.app.focused
        i = cards.index(focused) + step if focused in cards else 0
        cards[max(0, min(len(cards) - 1, i))].focus()

    def palette_commands(self) -> Iterable[tuple[str, str, object]]:
        yield ("Live: choose source", "Demo scenario, Bluetooth scan, address, recording or paste", self.action_pick_source)
        yield ("Live: recording on/off", "Record this session to the session store", self.action_record)
        yield ("Live: stop source", "Stop the live source", self.action_stop)
        yield ("Live: diagnose worst finding", "Open the diagnosis for the selected or worst finding", self.action_diagnose)
