"""Findings as expandable cards: one line collapsed (severity, title), the message, evidence, remedy and sources
when expanded. The list is rebuilt only when the set of findings changes; otherwise cards update in place."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.widgets import Static

from tui.widgets.kbtext import SEVERITY_ICON, cite_markup, fmt_value

SEVERITY_VAR = {"critical": "$error", "warning": "$warning", "info": "$accent"}


def finding_body_markup(f: Any) -> str:
    lines = [escape(f.message)]
    if f.evidence:
        ev = "  ".join(f"{escape(k)}=[b]{escape(fmt_value(v))}[/]" for k, v in f.evidence.items())
        lines.append(f"[$text-muted]Evidence:[/] {ev}")
    for a in getattr(f, "assumed", None) or []:  # assumed defaults and inferred facts are never silent
        lines.append(f"[$text-muted]{'Assumed' if ' assumed ' in a else 'Inferred'}:[/] {escape(a)}")
    if f.remedy:
        lines.append("[$text-muted]Remedy:[/]")
        lines += [f" {i}. {escape(r)}" for i, r in enumerate(f.remedy, 1)]
    lines.append(f"[$text-muted]Sources:[/] {cite_markup(f.citations)}")
    return "\n".join(lines)


class FindingCard(Vertical, can_focus=True):
    BINDINGS = [
        Binding("enter,space", "toggle", "Expand", id="finding-toggle", tooltip="Show message, evidence, remedy and sources"),
        Binding("o", "sources", "Sources", id="finding-sources", tooltip="Open this finding's sources in the handbook"),
        Binding("d", "diagnose", "Diagnose", id="finding-diagnose", tooltip="Start a diagnosis from this finding"),
    ]

    class Toggled(Message):
        def __init__(self, card: FindingCard) -> None:
            super().__init__()
            self.card = card

    class DiagnoseRequested(Message):
        def __init__(self, finding: Any) -> None:
            super().__init__()
            self.finding = finding

    def __init__(self, finding: Any, expanded: bool = False, new: bool = False, quiet: bool = False) -> None:
        super().__init__(classes=f"finding -{finding.severity}")
        self.finding = finding
        self.expanded = expanded
        self.new = new
        self.quiet = quiet  # held: not in the latest reading, but absent only briefly

    def compose(self) -> ComposeResult:
        yield Static(self._head(), classes="finding-head")
        yield Static(finding_body_markup(self.finding), classes="finding-body")

    def on_mount(self) -> None:
        self.set_class(self.expanded, "-expanded")

    def _head(self) -> str:
        f = self.finding
        var = SEVERITY_VAR.get(f.severity, "$text")
        arrow = "▾" if self.expanded else "▸"
        new = " [b $accent]new[/]" if self.new else ""
        quiet = " [$text-muted](intermittent: not in the last reading)[/]" if self.quiet else ""
        return (f"{arrow} [b {var}]{SEVERITY_ICON.get(f.severity, '')} {f.severity.upper()}[/] {escape(f.title)}"
                f"{new}{quiet}")

    def update_finding(self, finding: Any, new: bool, quiet: bool = False) -> None:
        changed_body = finding.message != self.finding.message or finding.evidence != self.finding.evidence
        self.finding, self.new, self.quiet = finding, new, quiet
        self.query_one(".finding-head", Static).update(self._head())
        if changed_body and self.expanded:
            self.query_one(".finding-body", Static).update(finding_body_markup(finding))

    def action_toggle(self) -> None:
        self.expanded = not self.expanded
        self.set_class(self.expanded, "-expanded")
        self.query_one(".finding-head", Static).update(self._head())
        if self.expanded:
            self.query_one(".finding-body", Static).update(finding_body_markup(self.finding))
            self.scroll_visible()
        self.post_message(self.Toggled(self))

    def on_click(self, event) -> None:
        # clicks on a citation link run their action; a click elsewhere toggles the card
        if not getattr(event, "style", None) or not event.style.meta.get("@click"):
            self.focus()
            self.action_toggle()

    def action_sources(self) -> None:
        from tui.widgets.citations import open_citations

        open_citations(self.app, list(self.finding.citations), f"Sources of '{self.finding.title}'")

    def action_diagnose(self) -> None:
        self.post_message(self.DiagnoseRequested(self.finding))


class FindingsList(VerticalScroll):
    """The live findings: most severe first, newest first within a severity."""

    DEFAULT_CSS = """
    FindingsList { height: 1fr; }
    FindingsList > .empty { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._order: list[str] | None = None  # None: nothing shown yet (the first show always renders)
        self._empty_text = ""
        self.expanded: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static("no findings yet", classes="empty")

    def show(self, findings: list[Any], new_rules: set[str],
             empty_text: str = "no findings: nothing in this reading breaks a rule", quiet: set[str] = frozenset()) -> None:
        order = [f.rule for f in findings]
        if order == self._order and (order or empty_text == self._empty_text):
            for card, f in zip(self.query(FindingCard), findings):
                card.update_finding(f, f.rule in new_rules, f.rule in quiet)
            return
        focused_rule = None
        if isinstance(self.app.focused, FindingCard) and self.app.focused.parent is self:
            focused_rule = self.app.focused.finding.rule
        self._order, self._empty_text = order, empty_text
        with self.app.batch_update():
            self.remove_children()
            if not findings:
                self.mount(Static(escape(empty_text), classes="empty"))
                return
            cards = [FindingCard(f, f.rule in self.expanded, f.rule in new_rules, f.rule in quiet) for f in findings]
            self.mount_all(cards)
        if focused_rule is not None:
            for c in cards:
                if c.finding.rule == focused_rule:
                    self.call_after_refresh(c.focus)

    @on(FindingCard.Toggled)
    def _toggled(self, event: FindingCard.Toggled) -> None:
        rule = event.card.finding.rule
        (self.expanded.add if event.card.expanded else self.expanded.discard)(rule)
