"""The Textual app: six areas as App.MODES, the live state every area reads, the command palette, citations.

Only the App lives here. Screens are in tui/screens (one per area), widgets in tui/widgets. Live data arrives from
one async worker (group "live") that posts LiveReading/LiveStatus messages; the handlers below own the state in
`self.live` and bump `live_tick`, which screens watch. Readings are coalesced (LiveReading.can_replace), and the
engine's check runs once per handled reading, so a 10 Hz stream never builds a backlog.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from tui.messages import LiveReading, LiveStatus
from tui.screens.dashboard import DashboardScreen
from tui.widgets.areabar import AREAS


def _area(module: str, cls: str):
    """A mode factory that imports its screen when the area is first opened: first paint imports only the Live
    area (Select, Commission, Handbook, Chat and Diagnose pull in Markdown, the advisor, the chat engine...)."""

    def make() -> Screen:
        import importlib

        return getattr(importlib.import_module(module), cls)()

    return make


TREND_LEN = 120
DEFAULT_DEMO = ("jk", "healthy-ride")
# Findings hysteresis: a finding shows at once, and clears only after it has been absent from HOLD_READINGS
# readings in a row spanning HOLD_SECONDS (an intermittent sense lead must not make the list flicker).
HOLD_READINGS = 3
HOLD_SECONDS = 5.0


@dataclass
class Held:
    finding: Any
    seq: int  # the last reading it was in
    at: float  # time.monotonic() of that reading


@dataclass
class LiveState:
    """Everything the screens show about the live source. Owned by the App's message handlers."""

    spec: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # long description
    source_short: str = ""
    status: str = "idle"  # idle | connecting | connected | reconnecting | disconnected | error | ended | pasted
    detail: str = ""
    reconnects: int = 0
    reading: Any = None
    report: Any = None
    check_error: str = ""
    seq: int = 0  # readings handled
    received: int = 0  # readings posted by the worker (seq < received: coalesced)
    first_seen: dict[str, int] = field(default_factory=dict)  # rule id -> seq at which it first fired
    held: dict[str, Held] = field(default_factory=dict)  # the findings shown: active, or absent only briefly
    current: deque = field(default_factory=lambda: deque(maxlen=TREND_LEN))
    delta: deque = field(default_factory=lambda: deque(maxlen=TREND_LEN))
    temp: deque = field(default_factory=lambda: deque(maxlen=TREND_LEN))
    recording: bool = False
    recording_path: str = ""
    notes: list[str] = field(default_factory=list)  # what the paste parser understood or converted
    lag_ms: deque = field(default_factory=lambda: deque(maxlen=600))  # post -> handled, per reading
    work_ms: deque = field(default_factory=lambda: deque(maxlen=600))  # check + state update, per reading
    clock: Any = time.monotonic  # the hysteresis clock (tests replace it)

    def reset(self, spec: dict[str, Any], source: str, short: str) -> None:
        self.spec, self.source, self.source_short = spec, source, short
        self.status, self.detail, self.reconnects = "connecting", "", 0
        self.reading = self.report = None
        self.check_error = ""
        self.notes = []
        self.seq = self.received = 0
        self.first_seen.clear()
        self.held.clear()
        self.current.clear()
        self.delta.clear()
        self.temp.clear()

    def update_findings(self, report: Any, now: float) -> None:
        """Hold the findings of the reading just checked (see HOLD_READINGS / HOLD_SECONDS)."""
        # one story per root cause: what a root finding accounts for is shown inside it, not as its own card
        active = {f.rule: f for f in report.root_findings()} if report is not None else {}
        for rule, f in active.items():
            self.held[rule] = Held(f, self.seq, now)
            self.first_seen.setdefault(rule, self.seq)
        for rule, h in list(self.held.items()):
            if rule not in active and self.seq - h.seq >= HOLD_READINGS and now - h.at >= HOLD_SECONDS:
                del self.held[rule]
                self.first_seen.pop(rule, None)

    def intermittent(self) -> set[str]:
        """Rules shown though the latest reading does not break them (absent only briefly)."""
        return {rule for rule, h in self.held.items() if h.seq != self.seq}

    def findings(self) -> list[Any]:
        """Newest and most severe first (held ones included)."""
        if self.report is None:
            return []
        rank = {"critical": 0, "warning": 1, "info": 2}
        return sorted((h.finding for h in self.held.values()),
                      key=lambda f: (rank.get(f.severity, 3), -self.first_seen.get(f.rule, 0), f.rule))


def describe_spec(spec: dict[str, Any]) -> tuple[str, str]:
    kind = spec.get("kind")
    if kind == "demo":
        fam, sc = spec.get("family", "jk"), spec.get("scenario", "healthy-ride")
        return f"virtual {fam.upper()} BMS, scenario {sc}", f"demo {fam}/{sc}"
    if kind == "ble":
        addr = spec.get("address", "?")
        name = spec.get("name") or addr
        return f"Bluetooth BMS {name} ({addr})", f"BLE {name}"[:28]
    if kind == "recording":
        return f"recording {spec.get('label') or spec.get('session')}", f"rec {spec.get('label') or spec.get('session')}"[:28]
    if kind == "paste":
        return "a pasted reading", "pasted reading"
    if kind == "replay":
        name = spec.get("name", "replay")
        return f"replay of {name}", name
    return "no source", "no source"


class BmsDocApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "bmsdoc"
    SUB_TITLE = "smart BMS integration and troubleshooting"
    MODES = {
        "live": DashboardScreen,
        "diagnose": _area("tui.screens.diagnose", "DiagnoseScreen"),
        "select": _area("tui.screens.select", "SelectScreen"),
        "commission": _area("tui.screens.commission", "CommissionScreen"),
        "handbook": _area("tui.screens.handbook", "HandbookScreen"),
        "chat": _area("tui.screens.chat", "ChatScreen"),
    }
    DEFAULT_MODE = "live"
    BINDINGS = [
        *[Binding(key, f"switch_area('{mode}')", label, show=False, id=f"area-{mode}", tooltip=f"Open the {label} area")
          for mode, key, label in AREAS],
        Binding("7", "fleet", "Fleet", show=False, id="area-fleet", tooltip="Every pack on the MQTT broker, worst first"),
        Binding("8", "health", "Health", show=False, id="area-health",
                tooltip="Pack health over time from this machine's recordings"),
        Binding("f1,question_mark", "help", "Help", id="help", tooltip="Keys and how to use this screen"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True, tooltip="Quit bmsdoc"),
    ]

    live_tick: reactive[int] = reactive(0, init=False)

    def __init__(self, *, data_dir: str | Path | None = None, source: dict[str, Any] | None = None,
                 autostart: bool = True, kb: Any = None, animate: bool = True) -> None:
        if data_dir is not None:  # checklists, recordings, reports and settings go there (engine.datadir)
            from engine.datadir import set_data_dir

            set_data_dir(data_dir)
        super().__init__()
        self._kb = kb
        self._kb_lock = threading.Lock()
        self.kb_error = ""
        self.live = LiveState()
        self.initial_source = source
        self.autostart = autostart
        self.pending_citation: str | None = None  # handbook page to open: "cite:LABEL" or "section:ID"
        self.came_from: str | None = None  # the area a citation was opened from (the handbook's Back returns there)
        self.pending_diagnosis: dict[str, Any] | None = None
        self.generation = 0  # bumped per source; stream messages carry it
        self._recorder: Any = None  # tui.recording.LiveRecorder while recording
        if not animate:
            self.animation_level = "none"

    # ------------------------------------------------------------------ knowledge base

    @property
    def kb(self) -> Any:
        """The knowledge base (loaded once, by the start-up thread or by whoever needs it first). None when it is
        invalid; kb_error then says why."""
        if self._kb is None and not self.kb_error:
            with self._kb_lock:
                if self._kb is None and not self.kb_error:
                    from kb.errors import KBInvalid, UserError
                    from kb.load import load_kb

                    try:
                        self._kb = load_kb()
                    except KBInvalid as e:
                        self.kb_error = f"the knowledge base has {len(e.problems)} problem(s): {e.problems[0]}"
                    except UserError as e:
                        self.kb_error = str(e)
        return self._kb

    # ------------------------------------------------------------------ start-up

    def on_mount(self) -> None:
        # nothing heavy before the first paint: the knowledge base loads in a thread started once the first frame
        # is drawn (a thread started earlier competes for the GIL with that frame), then the source starts
        self.call_after_refresh(self._load_kb_at_start)

    @work(thread=True, exclusive=True, group="start-up", exit_on_error=False)
    def _load_kb_at_start(self) -> None:
        self.kb  # noqa: B018 (loads it)
        if self.autostart:  # import what the live source and its checks need here, not on the UI loop
            import drivers.live  # noqa: F401
            import engine.check  # noqa: F401
            import tui.screens.sources  # noqa: F401
        self.call_from_thread(self._on_kb_loaded)

    def _on_kb_loaded(self) -> None:
        if self.kb is None:
            self.notify(self.kb_error or "the knowledge base could not be loaded", title="Knowledge base",
                        severity="error", timeout=10)
        if self.autostart:
            self.start_source(self.initial_source or self.configured_source())

    def on_unmount(self) -> None:
        rec, self._recorder = self._recorder, None
        if rec is not None:  # quitting while recording ends the session cleanly
            try:
                rec.close()
            except Exception:
                pass

    def configured_source(self) -> dict[str, Any]:
        """The BMS the user saved (settings.json in the data dir), else the virtual BMS demo."""
        path = settings_path()
        try:
            import json

            data = json.loads(path.read_text(encoding="utf-8"))
            spec = data.get("source")
            if isinstance(spec, dict) and spec.get("kind") == "ble" and spec.get("address"):
                return spec
        except (OSError, ValueError, AttributeError):
            pass
        return {"kind": "demo", "family": DEFAULT_DEMO[0], "scenario": DEFAULT_DEMO[1]}

    # ------------------------------------------------------------------ areas, help, citations

    def action_switch_area(self, mode: str) -> None:
        if mode in self.MODES and mode != self.current_mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_fleet(self) -> None:
        """The Fleet area (tui/screens/fleet.py) over the fleet store in the data directory."""
        from tui.screens.fleet import FleetScreen

        self.push_screen(FleetScreen())

    def action_health(self, *sources: str) -> None:
        """The Health view (tui/screens/health.py) over the given files, else the recordings of this machine."""
        from tui.screens.health import HealthScreen

        if not sources:
            from drivers import record

            default = self.live.recording_path or str(record.default_path())
            sources = (default,) if Path(default).exists() else ()
        self.push_screen(HealthScreen(list(sources)))

    def action_open_citation(self, label: str) -> None:
        self.open_citation(label)

    def on_mark_view_link_clicked(self, event: Any) -> None:  # tui.widgets.markview.MarkView.LinkClicked
        self._markdown_link(event, event.view)

    def on_markdown_link_clicked(self, event: Any) -> None:  # textual.widgets.Markdown.LinkClicked
        self._markdown_link(event, event.markdown)  # (handled by name: no Markdown import before first paint)

    def _markdown_link(self, event: Any, doc: Any) -> None:
        """One dispatcher for every Markdown widget outside the handbook: citations and sections open there."""
        href = event.href
        if href.startswith("cite:"):
            self.open_citation(href[5:])
        elif href.startswith("section:"):
            self.open_handbook(href)
        elif href.startswith("#"):
            doc.goto_anchor(href[1:])
        else:
            self.notify(f"link: {href}", title="Link")

    def open_citation(self, label: str) -> None:
        """Open the handbook browser at a source note (from any screen)."""
        label = str(label).strip().removeprefix("[^").removesuffix("]").removeprefix("^")
        self.open_handbook(f"cite:{label}")

    def open_handbook(self, page: str) -> None:
        while self.screen.is_modal and len(self.screen_stack) > 1:
            self.pop_screen()
        self.pending_citation = page
        if self.current_mode != "handbook":
            self.came_from = self.current_mode
        if self.current_mode == "handbook":
            self.screen.show_pending()  # type: ignore[attr-defined]
        else:
            self.switch_mode("handbook")

    def start_diagnosis(self, *, finding: Any = None, symptom: str | None = None) -> None:
        self.pending_diagnosis = {"finding": finding, "symptom": symptom}
        if self.current_mode == "diagnose":
            self.screen.take_pending()  # type: ignore[attr-defined]
        else:
            self.switch_mode("diagnose")

    # ------------------------------------------------------------------ live source

    def start_source(self, spec: dict[str, Any]) -> None:
        """Switch the live source: demo scenario, BLE address, recording or pasted reading."""
        long, short = describe_spec(spec)
        if self.live.recording:
            self.set_recording(False)
        self.live.reset(spec, long, short)
        self.generation += 1  # messages still queued from the previous source are dropped
        self.workers.cancel_group(self, "live")
        if spec.get("kind") == "paste":
            self._apply_paste(spec)
            return
        self.live_tick += 1
        self._run_source(spec)

    def stop_source(self) -> None:
        self.generation += 1
        self.workers.cancel_group(self, "live")
        self.live.status, self.live.detail = "ended", "stopped"
        self.live_tick += 1

    def _apply_paste(self, spec: dict[str, Any]) -> None:
        reading = spec.get("reading")
        notes: list[str] = []
        if reading is None:
            from kb.errors import UserError

            try:
                from drivers.paste import parse_to_reading

                reading, parsed = parse_to_reading(spec.get("text", ""))
                notes = list(getattr(parsed, "notes", []) or [])
            except UserError as e:
                self.live.status, self.live.detail = "error", str(e)
                self.live_tick += 1
                self.notify(str(e), title="Paste", severity="error")
                return
        self.live.notes = notes
        self._handle_reading(reading)
        self.live.status = "pasted"
        self.live_tick += 1

    @work(exclusive=True, group="live", exit_on_error=False, name="live-source")
    async def _run_source(self, spec: dict[str, Any]) -> None:
        from tui.screens.sources import stream_events

        n, gen = 0, self.generation
        async for kind, payload in stream_events(spec):
            if kind == "reading":
                n += 1
                self.post_message(LiveReading(payload, at=time.monotonic(), n=n, generation=gen))
            else:
                self.post_message(LiveStatus(kind, *payload, generation=gen))

    @on(LiveStatus)
    def _on_live_status(self, message: LiveStatus) -> None:
        if message.generation is not None and message.generation != self.generation:
            return
        live = self.live
        previous = live.status
        live.status, live.detail = message.status, message.detail
        if message.status == "reconnecting":
            live.reconnects = max(live.reconnects + (previous != "reconnecting"), message.attempt)
            self.notify(message.detail or "connection lost, reconnecting", title="Connection", severity="warning")
        elif message.status in ("error", "disconnected") and previous != message.status:
            self.notify(message.detail or f"the BMS {message.status}", title="Connection", severity="error", timeout=8)
        elif message.status == "connected" and previous == "reconnecting":
            self.notify("reconnected", title="Connection")
        if live.recording and self._recorder is not None and message.status != previous:
            try:
                self._recorder.event(message.status, message.detail)
            except Exception as e:
                self._recording_failed(e)
        if message.status == "connected" and live.spec.get("kind") == "ble" and previous != "connected":
            save_settings({"source": {k: v for k, v in live.spec.items() if k in ("kind", "address", "name")}})
        self.live_tick += 1

    @on(LiveReading)
    def _on_live_reading(self, message: LiveReading) -> None:
        if message.generation is not None and message.generation != self.generation:
            return
        self.live.received = max(self.live.received + 1, message.n)
        if self.live.status in ("connecting", "reconnecting", "idle"):
            self.live.status = "connected"
        t0 = time.monotonic()
        self._handle_reading(message.reading)
        self.live_tick += 1
        if message.at is not None:  # queue wait + check + screen update, for the benchmark and the status line
            self.live.lag_ms.append((time.monotonic() - message.at) * 1000.0)
            self.live.work_ms.append((time.monotonic() - t0) * 1000.0)

    def _handle_reading(self, reading: Any) -> None:
        live = self.live
        live.seq += 1
        live.reading = reading
        d = reading.derived() if reading is not None else {}
        if reading.current is not None:
            live.current.append(float(reading.current))
        if "cell_delta" in d:
            live.delta.append(float(d["cell_delta"]) * 1000.0)
        if "temp_max" in d:
            live.temp.append(float(d["temp_max"]))
        live.report = self.check(reading)
        live.update_findings(live.report, live.clock())
        rec = self._recorder
        if live.recording and rec is not None:
            try:
                rec.reading(reading, live.report.findings if live.report is not None else ())
            except Exception as e:  # a full disk or a locked store stops the recording, never the app
                self._recording_failed(e)

    def check(self, reading: Any) -> Any:
        if self.kb is None:
            self.live.check_error = self.kb_error
            return None
        from kb.errors import UserError

        try:
            from engine.check import check

            self.live.check_error = ""
            return check(reading, self.kb)
        except UserError as e:
            self.live.check_error = str(e)
            return None

    # ------------------------------------------------------------------ recording

    def set_recording(self, on_: bool) -> None:
        from tui.screens.sources import recorder_for

        live = self.live
        if on_ == live.recording:
            return
        if on_:
            rec, err = recorder_for(self, live.spec)
            if rec is None:
                self.notify(err, title="Recording", severity="warning")
                return
            self._recorder = rec
            live.recording, live.recording_path = True, str(rec.path)
            self.notify(f"recording session {rec.session} to {rec.path}", title="Recording")
        else:
            rec, self._recorder = self._recorder, None
            live.recording = False
            if rec is not None:
                try:
                    rec.close()
                except Exception as e:  # a recorder failing to close must not take the app down
                    self.notify(f"closing the recording failed: {e}", title="Recording", severity="error")
                else:
                    self.notify(f"recording stopped: session {rec.session}, {rec.seq} readings "
                                "(s > Recording replays it; bmsdoc history lists it)", title="Recording")
        self.live_tick += 1

    def _recording_failed(self, error: Exception) -> None:
        rec, self._recorder = self._recorder, None
        self.live.recording = False
        try:
            rec.close()
        except Exception:
            pass
        self.notify(f"recording stopped: {error}", title="Recording", severity="error", timeout=10)

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for mode, key, label in AREAS:
            yield SystemCommand(f"Open {label}", f"Switch to the {label} area (key {key})",
                                lambda m=mode: self.action_switch_area(m))
        yield SystemCommand("Help", "Keys and what each area does (F1 or ?)", self.action_help)
        yield SystemCommand("Pack health", "Per-cell resistance, weak vs unbalanced cells, capacity and cycles over "
                            "recordings", self.action_health)
        yield SystemCommand("Fleet", "Every pack bmsdoc fleet diagnoses on the MQTT broker: status, worst finding, "
                            "history", self.action_fleet)
        yield SystemCommand("Choose live source", "Demo scenario, Bluetooth scan, address, recording or paste",
                            self._palette_source_picker)
        from tui.screens.sources import demo_scenarios

        for fam, sc, desc in demo_scenarios():
            yield SystemCommand(f"Demo: {fam} {sc}", desc or f"Run the virtual {fam.upper()} BMS on scenario {sc}",
                                lambda f=fam, s=sc: self.start_source({"kind": "demo", "family": f, "scenario": s}),
                                discover=False)
        if isinstance(screen, Screen) and hasattr(screen, "palette_commands"):
            for title, help_, cb in screen.palette_commands():
                yield SystemCommand(title, help_, cb)
        kb = self.kb
        if kb is not None:
            from tui.widgets.kbtext import label_key

            for label in sorted(kb.sources, key=label_key):
                yield SystemCommand(f"Source [^{label}]", kb.sources[label].summary[:90],
                                    lambda c=label: self.open_citation(c), discover=False)
        yield SystemCommand("Quit", "Quit bmsdoc (ctrl+q)", self.exit)

    def _palette_source_picker(self) -> None:
        if self.current_mode != "live":
            self.switch_mode("live")
        self.call_after_refresh(lambda: getattr(self.screen, "action_pick_source", lambda: None)())


def settings_path() -> Path:
    from engine.datadir import data_dir

    return data_dir() / "settings.json"


def save_settings(data: dict[str, Any]) -> None:
    """Remember the BMS the user connected to: the next launch starts on it instead of the demo."""
    import json

    path = settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # not remembering a BMS is no reason to interrupt the session


def run_app() -> int:
    app = BmsDocApp()
    app.run()
    return int(app.return_code or 0)
