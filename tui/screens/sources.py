"""Choosing the live source, and the adapter from drivers.live's event stream to (kind, payload) pairs.

The picker is a modal with one tab per kind of source: the virtual BMS demo, a Bluetooth scan, an address, a
recorded session, a pasted reading. It returns a source spec (a plain dict) that `App.start_source` runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, LoadingIndicator, OptionList, Select, TabbedContent, TabPane, TextArea
from textual.widgets.option_list import Option

from tui.messages import ScanResult

FAMILIES = ("jk", "jbd", "ant", "daly")


# ---------------------------------------------------------------------- adapter to the drivers


def demo_scenarios() -> list[tuple[str, str, str]]:
    """(family, scenario, description) for every demo scenario the virtual BMS offers."""
    from drivers.sim import SCENARIOS

    return [("jk", name, sc.description) for name, sc in SCENARIOS.items()]  # every family plays every scenario


async def stream_events(spec: dict[str, Any]) -> AsyncIterator[tuple[str, Any]]:
    """Yield ("reading", Reading) and (status, (detail, attempt)) pairs from drivers.live.

    The "replay" kind (a list of readings at `hz`, looped when `loop` is true) needs no driver: tests, snapshots
    and the benchmark use it for a deterministic stream.
    """
    if spec.get("kind") == "replay":
        import asyncio

        readings = list(spec.get("readings") or [])
        delay = 1.0 / float(spec.get("hz", 10))
        yield "connected", ("replay", 0)
        while True:
            for r in readings:
                yield "reading", r
                await asyncio.sleep(delay)
            if not spec.get("loop"):
                break
        yield "ended", ("end of the replay", 0)
        return
    if spec.get("kind") == "recording":
        from tui.recording import replay

        async for item in replay(spec):
            yield item
        return
    from drivers import live

    async for ev in live.events(spec):
        if ev.kind == "reading":
            yield "reading", ev.reading
        else:
            yield ev.kind, (ev.detail, ev.attempt)


def recorder_for(app, spec: dict[str, Any]) -> tuple[Any, str]:
    """A recorder of the live session (tui.recording, over drivers.record), or (None, why not)."""
    from tui.recording import recorder_for as make

    return make(app, spec)


def recordings() -> list[tuple[str, str]]:
    """(session id, label) of recorded sessions, newest first."""
    from tui.recording import recordings as listed

    return listed()


# ---------------------------------------------------------------------- the picker


class SourcePicker(ModalScreen[dict | None]):
    DEFAULT_CSS = """
    SourcePicker { align: center middle; }
    SourcePicker > Vertical { width: 90%; max-width: 100; height: 90%; max-height: 28; border: thick $primary;
                              background: $surface; }
    SourcePicker TabbedContent { height: 1fr; }
    SourcePicker OptionList { height: 1fr; border: none; }
    SourcePicker TextArea { height: 1fr; }
    SourcePicker .row { height: auto; }
    SourcePicker #demo-family { width: 16; }
    SourcePicker .hint { color: $text-muted; }
    SourcePicker LoadingIndicator { height: 1; }
    SourcePicker #scan-status { height: auto; }
    """
    BINDINGS = [
        Binding("escape", "dismiss", "Cancel", id="source-cancel", tooltip="Keep the current source"),
        Binding("ctrl+j", "use_paste", "Use paste", id="source-paste", tooltip="Use the pasted reading"),
    ]
    AUTO_FOCUS = "#demo-list"

    def compose(self) -> ComposeResult:
        with Vertical():
            with TabbedContent(id="source-tabs"):
                with TabPane("Demo", id="tab-demo"):
                    with Horizontal(classes="row"):
                        yield Label("Family ", classes="hint")
                        yield Select([(f.upper(), f) for f in FAMILIES], value="jk", allow_blank=False, id="demo-family",
                                     compact=True)
                    scen = demo_scenarios()
                    if scen:
                        yield OptionList(*[Option(f"[b]{s}[/]  [dim]{d}[/]", id=s) for _f, s, d in scen], id="demo-list")
                    else:
                        yield OptionList(Option("the virtual BMS offers no scenario", disabled=True), id="demo-list")
                with TabPane("Bluetooth", id="tab-ble"):
                    yield Label("Scan for smart BMS nearby, or type an address.", classes="hint")
                    with Horizontal(classes="row"):
                        yield Button("Scan", id="scan", variant="primary")
                        yield Input(placeholder="address, e.g. C8:47:8C:00:00:01", id="ble-address")
                        yield Button("Connect", id="connect")
                    yield LoadingIndicator(id="scan-busy")
                    yield Label("", id="scan-status")
                    yield OptionList(id="scan-list")
                with TabPane("Recording", id="tab-rec"):
                    recs = recordings()
                    if recs:
                        yield OptionList(*[Option(escape(label), id=sid) for sid, label in recs], id="rec-list")
                    else:
                        msg = "no recorded sessions yet: press r on the dashboard to record one"
                        yield OptionList(Option(msg, disabled=True), id="rec-list")
                with TabPane("Paste", id="tab-paste"):
                    yield Label("Paste a reading (app screenshot text, JSON, key: value lines); ctrl+j uses it.",
                                classes="hint")
                    yield TextArea(id="paste-text", soft_wrap=True)
                    yield Button("Use this reading", id="paste-use", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#scan-busy").display = False

    @on(OptionList.OptionSelected, "#demo-list")
    def _demo(self, event: OptionList.OptionSelected) -> None:
        fam = self.query_one("#demo-family", Select).value
        self.dismiss({"kind": "demo", "family": fam if fam != Select.NULL else "jk", "scenario": event.option.id})

    @on(OptionList.OptionSelected, "#rec-list")
    def _recording(self, event: OptionList.OptionSelected) -> None:
        self.dismiss({"kind": "recording", "session": event.option.id, "label": f"session {event.option.id}"})

    @on(OptionList.OptionSelected, "#scan-list")
    def _scanned(self, event: OptionList.OptionSelected) -> None:
        addr, _, name = (event.option.id or "").partition("|")
        self.dismiss({"kind": "ble", "address": addr, "name": name})

    @on(Button.Pressed, "#connect")
    @on(Input.Submitted, "#ble-address")
    def _connect(self) -> None:
        addr = self.query_one("#ble-address", Input).value.strip()
        if not addr:
            self.notify("type a Bluetooth address first", severity="warning")
            return
        self.dismiss({"kind": "ble", "address": addr})

    @on(Button.Pressed, "#paste-use")
    def action_use_paste(self) -> None:
        text = self.query_one("#paste-text", TextArea).text
        if not text.strip():
            self.notify("paste a reading first", severity="warning")
            return
        self.dismiss({"kind": "paste", "text": text})

    @on(Button.Pressed, "#scan")
    def _scan(self) -> None:
        self.query_one("#scan-busy").display = True
        self.query_one("#scan-status", Label).update("scanning for 5 s…")
        self.query_one("#scan", Button).disabled = True
        self._run_scan()

    @work(exclusive=True, group="scan", exit_on_error=False)
    async def _run_scan(self) -> None:
        try:
            from drivers import live

            devices = await live.scan()  # type: ignore[attr-defined]
            self.post_message(ScanResult(list(devices)))
        except Exception as e:  # BLE stacks fail in many ways (no adapter, permissions): one line, no traceback
            self.post_message(ScanResult([], f"{type(e).__name__}: {e}"))

    @on(ScanResult)
    def _scan_done(self, event: ScanResult) -> None:
        self.query_one("#scan-busy").display = False
        self.query_one("#scan", Button).disabled = False
        status = self.query_one("#scan-status", Label)
        lst = self.query_one("#scan-list", OptionList)
        lst.clear_options()
        if event.error:
            status.update(f"scan failed: {event.error}")
            self.app.notify(f"Bluetooth scan failed: {event.error}", title="Scan", severity="error")
            return
        status.update(f"{len(event.devices)} BMS found" if event.devices else "no BMS found nearby")
        for d in event.devices:
            addr = getattr(d, "address", "") or ""
            name = getattr(d, "name", "") or ""
            fam = getattr(d, "family", "") or ""
            rssi = getattr(d, "rssi", None)
            extra = f"  {rssi} dBm" if rssi is not None else ""
            lst.add_option(Option(f"[b]{name or '?'}[/] {addr} {fam}{extra}", id=f"{addr}|{name}"))
        if event.devices:
            lst.focus()
