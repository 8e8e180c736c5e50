from textual.app import ComposeResult
from textual.widgets import Static

from tui.screens.base import AreaScreen


class DashboardScreen(AreaScreen):
    AREA = "live"

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        yield Static("todo")
        yield from self.compose_footer()
