"""What every area screen shares: the area bar on top, the footer below, and screen-specific palette commands."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from tui.widgets.areabar import AreaBar


class AreaScreen(Screen):
    AREA = ""
    TITLE_TEXT = ""
    BINDINGS = [Binding("escape", "leave_input", "Leave input", show=False, id="leave-input",
                        tooltip="Leave the text box (then 1-6 switch areas)"),
                # priority: focus moves as the Tab key is read, so the keys typed right after it (20<Tab>70 at
                # normal speed) reach the next field; a non-priority Tab is handled only after they were forwarded
                Binding("tab", "app.focus_next", "Next field", show=False, priority=True, id="focus-next"),
                Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True,
                        id="focus-previous")]

    def action_leave_input(self) -> None:
        from textual.widgets import Input, TextArea

        if isinstance(self.focused, (Input, TextArea)):
            self.focus_next()
            if isinstance(self.focused, (Input, TextArea)):
                self.set_focus(None)

    def compose_bar(self) -> ComposeResult:
        yield AreaBar(self.AREA)

    def compose_footer(self) -> ComposeResult:
        yield Footer(compact=True, show_command_palette=True)

    def palette_commands(self) -> Iterable[tuple[str, str, object]]:
        """(title, help, callback) for the command palette while this screen is shown."""
        return ()

    @property
    def kb(self):
        return self.app.kb
