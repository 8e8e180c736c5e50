"""Citations everywhere: a modal that lists some source notes (Enter opens one in the handbook browser)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


def open_citations(app, labels: list[str], title: str = "Sources") -> None:
    """One citation opens directly; several open a picker."""
    labels = list(dict.fromkeys(labels))
    if not labels:
        app.notify("no sources for this item", severity="warning")
    elif len(labels) == 1:
        app.open_citation(labels[0])
    else:
        app.push_screen(CitationPicker(labels, title))


class CitationPicker(ModalScreen[None]):
    DEFAULT_CSS = """
    CitationPicker { align: center middle; }
    CitationPicker > Vertical { width: 80%; max-width: 100; height: auto; max-height: 80%; border: thick $primary;
                                 background: $surface; padding: 0 1; }
    CitationPicker OptionList { height: auto; max-height: 20; border: none; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Close", id="close-sources", tooltip="Close without opening a source")]

    def __init__(self, labels: list[str], title: str = "Sources") -> None:
        super().__init__()
        self.labels = labels
        self.title_text = title

    def compose(self) -> ComposeResult:
        kb = self.app.kb
        with Vertical():
            yield Label(f"[b]{self.title_text}[/]: Enter opens the source note in the handbook")
            opts = []
            for c in self.labels:
                summary = kb.sources[c].summary if kb is not None and c in kb.sources else "(unknown source)"
                opts.append(Option(f"[b]\\[^{c}][/] {summary}", id=c))
            yield OptionList(*opts, id="citation-list")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.app.open_citation(event.option.id or "")  # closes this picker too
