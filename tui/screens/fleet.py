"""The Fleet area: every pack the fleet service (`bmsdoc fleet`) looks after, with its status, worst finding and
ages, sortable; Enter opens a pack's findings, questions and recorded history.

It reads the fleet store (drivers.mqtt.store, the recordings database the service writes) every two seconds, in a
thread worker, so a service on this machine shows up live. Opened from the command palette ("Fleet").
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

STATUS_STYLE = {"critical": "bold red", "warning": "bold dark_orange", "info": "cyan", "ok": "green",
                "stale": "dim", "unknown": "dim"}
SORTS = ("status", "pack", "age", "since")


def _at(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


class FleetScreen(Screen):
    DEFAULT_CSS = """
    FleetScreen { layout: vertical; }
    FleetScreen #fleet-status { height: auto; padding: 0 1; color: $text-muted; }
    FleetScreen #fleet-packs { height: 1fr; }
    FleetScreen #fleet-detail { height: 1fr; padding: 0 1; border-top: solid $panel; }
    """
    BINDINGS = [Binding("escape", "close", "Back", tooltip="Back to the area you came from"),
                Binding("s", "cycle_sort", "Sort", tooltip="Sort by status, name, age of the check, oldest finding"),
                Binding("ctrl+r", "refresh", "Refresh", tooltip="Read the fleet store again")]

    def __init__(self, db: str | None = None, *, interval: float = 2.0) -> None:
        super().__init__()
        self.db = db
        self.interval = interval
        self.sort = "status"
        self.rows: list[dict[str, Any]] = []
        self.error = ""
        self.opened: str | None = None
        self.detail: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Fleet — the packs bmsdoc fleet diagnoses on the broker", style="bold"), id="fleet-title")
        yield Static("", id="fleet-status")
        yield DataTable(id="fleet-packs", zebra_stripes=True, cursor_type="row")
        with VerticalScroll(id="fleet-detail"):
            yield Static("Enter on a pack shows its findings, questions and history.", id="fleet-detail-text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#fleet-packs", DataTable)
        for key, label in (("pack", "pack"), ("status", "status"), ("age", "checked"), ("since", "for"),
                           ("worst", "worst finding")):
            table.add_column(label, key=key)
        table.focus()
        self.action_refresh()
        self.set_interval(self.interval, self.action_refresh)

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._render_rows()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key in SORTS:
            self.sort = key
            self._render_rows()

    def action_refresh(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="fleet-load")
    def _load(self) -> None:
        from drivers.mqtt import status
        from kb.errors import UserError

        try:
            rows, error = status.from_store(self.db), ""
        except UserError as e:
            rows, error = [], str(e)
        detail = self._history(self.opened) if self.opened else None
        self.app.call_from_thread(self._loaded, rows, error, detail)

    def _history(self, pack: str) -> dict[str, Any] | None:
        from drivers.mqtt import store
        from kb.errors import UserError

        try:
            packs = {p["pack"]: p for p in store.packs(self.db)}
            if pack not in packs:
                return None
            return {**packs[pack], "history": store.history(pack, self.db)}
        except UserError:
            return None

    def _loaded(self, rows: list[dict[str, Any]], error: str, detail: dict[str, Any] | None) -> None:
        self.rows, self.error = rows, error
        if detail is not None:
            self.detail = detail
            self._render_detail()
        self._render_rows()

    def _render_rows(self) -> None:
        from drivers.mqtt import status

        table = self.query_one("#fleet-packs", DataTable)
        keep = self.opened
        table.clear()
        now = time.time()
        ordered = status.sort_rows(self.rows, self.sort)
        for r in ordered:
            w = r["worst"] or {}
            since = status._unix(w.get("since"))
            title = f"{w.get('rule')}: {w.get('title')}" if w else "-"
            if r["findings"] > 1:
                title += f" (+{r['findings'] - 1})"
            table.add_row(r["pack"], Text(r["status"], style=STATUS_STYLE.get(r["status"], "")),
                          status.age(None if r["checked"] is None else now - r["checked"]),
                          status.age(None if since is None else now - since), title, key=r["pack"])
        if keep is not None and keep in {r["pack"] for r in ordered}:
            table.move_cursor(row=[r["pack"] for r in ordered].index(keep))
        bad = sum(1 for r in self.rows if r["status"] in ("warning", "critical"))
        note = self.error or (f"{len(self.rows)} packs, {bad} with a warning or critical finding; sorted by "
                              f"{self.sort} (s: next order, or click a column)" if self.rows else
                              "no packs yet: start the service with bmsdoc fleet --broker mqtt://HOST")
        self.query_one("#fleet-status", Static).update(note)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.opened = str(event.row_key.value)
        self.detail = self._history(self.opened)
        self._render_detail()

    def _render_detail(self) -> None:
        d = self.detail
        out = Text()
        if d is None:
            out.append(f"{self.opened}: no recorded data", style="dim")
        else:
            out.append(f"{d['pack']}: {d['status']}", style=STATUS_STYLE.get(d["status"], "bold"))
            checked = f"checked {_at(d['checked'])} UTC" if d["checked"] else "not checked yet"
            out.append(f"  ({checked}; bmsdoc history {d['session']})\n")
            for f in d["findings"]:
                out.append(f"{f['severity'].upper():<8} ", style=STATUS_STYLE.get(f["severity"], ""))
                out.append(f"{f['rule']}: {f['message']} [{', '.join(f['citations'])}] since {f.get('since')}\n")
            qs = [q for q in d["questions"] if isinstance(q, dict)]
            if qs:
                out.append("Questions that would decide more:\n", style="bold")
                for q in qs[:5]:
                    out.append(f"  ? {q.get('ask')}\n")
            h = d["history"]
            if h["findings"] or h["events"]:
                out.append("History:\n", style="bold")
            for f in h["findings"]:
                end = f"cleared {_at(f['cleared'])}" if f["cleared"] else "still active"
                out.append(f"  {_at(f['time'])}  {f['severity'] or '?':<8} {f['rule']} ({end})\n")
            for e in h["events"]:
                out.append(f"  {_at(e['time'])}  {e['kind']} {e['detail'] or ''}\n")
        self.query_one("#fleet-detail-text", Static).update(out)
