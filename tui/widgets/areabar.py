"""The top bar: the areas (clickable, keys 1-8: six modes, then the Fleet and Health views) and the live
connection state. Below 100 columns it packs tighter and the connection shows as its icon only."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

AREAS = [  # (mode, key, label)
    ("live", "1", "Live"),
    ("diagnose", "2", "Diagnose"),
    ("select", "3", "Select"),
    ("commission", "4", "Commission"),
    ("handbook", "5", "Handbook"),
    ("chat", "6", "Chat"),
]
VIEWS = [  # (action, key, label): views opened over the current area (tui/screens/fleet.py, health.py)
    ("fleet", "7", "Fleet"),
    ("health", "8", "Health"),
]
NARROW = 100  # columns

STATUS_STYLE = {
    "connected": ("●", "$success"),
    "streaming": ("●", "$success"),
    "connecting": ("◌", "$warning"),
    "scanning": ("◌", "$warning"),
    "reconnecting": ("◌", "$warning"),
    "disconnected": ("○", "$error"),
    "error": ("✖", "$error"),
    "ended": ("■", "$text-muted"),
    "pasted": ("■", "$accent"),
    "idle": ("○", "$text-muted"),
}


class AreaBar(Horizontal):
    """One row: area tabs on the left, source and connection on the right."""

    DEFAULT_CSS = """
    AreaBar { height: 1; dock: top; background: $panel; }
    AreaBar #areas { width: 1fr; }
    AreaBar #link { width: auto; max-width: 50%; padding: 0 1; text-align: right; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        yield Static(self._areas_text(NARROW), id="areas")
        yield Static("", id="link")

    def _areas_text(self, width: int) -> str:
        pad = " " if width >= NARROW else ""
        parts = []
        for mode, key, label in AREAS:
            text = f" {key} {label}{pad}"
            if mode == self.current:
                parts.append(f"[b reverse]{text}[/]")
            else:
                parts.append(f"[@click=app.switch_area('{mode}')]{text}[/]")
        for action, key, label in VIEWS:
            parts.append(f"[@click=app.{action}()]{f' {key} {label}{pad}'}[/]")
        return "".join(parts)

    def on_mount(self) -> None:
        self.watch(self.app, "live_tick", self._refresh_link, init=True)

    def _refresh_link(self, _tick: int = 0) -> None:
        live = getattr(self.app, "live", None)
        if live is None:
            return
        icon, colour = STATUS_STYLE.get(live.status, ("○", "$text-muted"))
        rec = " [b $error]REC[/]" if live.recording else ""
        extra = f" ×{live.reconnects}" if live.reconnects else ""
        wide = self.size.width >= NARROW
        src = (live.source_short or "no source") + " " if wide else ""
        status = f" {live.status}{extra}" if wide else ""
        self.query_one("#link", Static).update(f"{src}[{colour}]{icon}{status}[/]{rec}")

    def on_resize(self) -> None:
        self.query_one("#areas", Static).update(self._areas_text(self.size.width))
        self._refresh_link()
