"""The help screen: global keys, the areas, and the keys of the screen it was opened from."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown

from tui.widgets.areabar import AREAS

INTRO = """\
# bmsdoc: help

bmsdoc checks smart-BMS readings against a field handbook and explains what to do, always with the handbook's
footnotes (`[^4]`, `[^ant-cutoff]`) as sources. **Click a citation (or press `o`) to open its source note.**
"""

GENERAL = """
## Areas

| key | area | what it does |
|---|---|---|
| `1` | Live | the live dashboard: cells, current, FETs, trends, findings as they happen |
| `2` | Diagnose | a guided diagnosis, one question at a time, answered from the reading where possible |
| `3` | Select | rank the BMS families for a pack's needs |
| `4` | Commission | the commissioning checklist with saved progress per pack |
| `5` | Handbook | browse and search the knowledge; every citation opens here |
| `6` | Chat | ask in plain words, or paste a reading |
| `7` | Fleet | every pack `bmsdoc fleet` watches on an MQTT broker, worst first; open one for its findings |
| `8` | Health | per-cell resistance, weak vs unbalanced cells, capacity and trends from the recordings |

## Everywhere

| key | does |
|---|---|
| `1`-`8` | switch area (in a text box, press `escape` first; or click the area bar) |
| `F1` / `?` | this help |
| `ctrl+p` | command palette: every area, demo scenarios, sources, screen commands |
| `tab` / `shift+tab` | move between panes |
| `ctrl+q` | quit |

With no Bluetooth BMS configured the Live area runs the **virtual BMS demo**; press `s` there to choose a demo
scenario, scan for a real BMS, connect by address, open a recording or paste a reading.
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; max-width: 110; height: 90%; border: thick $primary; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,f1,question_mark", "dismiss", "Close", id="close-help", tooltip="Close the help")]

    def __init__(self, origin: Screen | None = None) -> None:
        super().__init__()
        self.origin = origin

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(INTRO + self._screen_keys() + GENERAL, open_links=False, id="help-text")

    def _screen_keys(self) -> str:
        origin = self.origin
        if origin is None:
            return ""
        title = next((label for mode, _k, label in AREAS if mode == getattr(origin, "AREA", "")), "")
        lines = [f"\n## This screen: {title}\n", getattr(origin, "HELP", "").strip(), ""]
        rows = []
        for b in origin.BINDINGS:
            if isinstance(b, Binding) and b.description:
                keys = " / ".join(f"`{k.strip()}`" for k in b.key.split(","))
                rows.append(f"| {keys} | {b.description} | {b.tooltip or ''} |")
        if rows:
            lines += ["| key | action | |", "|---|---|---|", *rows]
        return "\n".join(lines) + "\n"
