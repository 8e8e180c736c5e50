"""Select a BMS: a form for the pack's needs (validated), then the ranking with verdicts, reasons, pitfalls, sources."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import Button, Input, Label, Markdown, OptionList, Select, Static
from textual.widgets.option_list import Option

from tui.screens.base import AreaScreen
from tui.widgets.kbtext import cite_md

VERDICT_VAR = {"recommended": "$success", "acceptable": "$warning", "avoid": "$error"}
VERDICT_ICON = {"recommended": "✔", "acceptable": "~", "avoid": "✖"}

CHOICES = {
    "space": [("no room for a FET board", "none"), ("cramped deck", "cramped"), ("normal", "normal"), ("roomy", "roomy")],
    "uptime": [("a cut-out is dangerous", "critical"), ("normal", "normal")],
    "budget": [("low", "low"), ("normal", "normal"), ("high", "high")],
    "full_protection": [("mandatory", "yes"), ("not required", "no")],
    "integration": [("none", "none"), ("VESC CAN", "vesc-can")],
}
NUMBERS = [  # (field, label, placeholder, required)
    ("series", "Series", "e.g. 20", True),
    ("continuous", "Continuous A", "e.g. 60", True),
    ("peak", "Peak A", "optional", False),
    ("regen", "Regen A", "optional", False),
]


class NeedInput(Input):
    """A number field of the form. A paste of several values ("20 70 150", a copied table row) fills this field
    and the ones after it, in order; one that does not fit is refused as a whole with one line saying why."""

    def _on_paste(self, event: events.Paste) -> None:
        values = [v for v in re.split(r"[\s,;|]+", event.text.strip()) if v]
        if len(values) <= 1:
            super()._on_paste(event)
            return
        event.stop()
        self.screen.spread_paste(self, values)  # type: ignore[attr-defined]


def parse_number(field: str, text: str, integer: bool = False) -> float | int | None:
    from kb.errors import UserError

    t = text.strip().lower().removesuffix("a").removesuffix("s").strip()
    if not t:
        return None
    try:
        v = float(t.replace(",", "."))
    except ValueError:
        raise UserError(f"{field}: '{text}' is not a number") from None
    if integer:
        if v != int(v):
            raise UserError(f"{field}: '{text}' is not a whole number")
        return int(v)
    return v


def ranking_md(ranked: Any) -> str:
    verdict = ranked.verdict
    lines = [f"## {VERDICT_ICON.get(verdict, '')} {ranked.name}: {verdict} (score {ranked.score})", ""]
    if ranked.reasons:
        lines += ["**Why:**", ""]
        lines += [f"- {p.text} {cite_md(p.citations)}" for p in ranked.reasons]
        lines.append("")
    if ranked.pitfalls:
        lines += ["**Pitfalls:**", ""]
        lines += [f"- {p.text} {cite_md(p.citations)}" for p in ranked.pitfalls]
        lines.append("")
    if not ranked.reasons and not ranked.pitfalls:
        lines += ["No criterion applies to these needs.", ""]
    return "\n".join(lines)


class SelectScreen(AreaScreen):
    AREA = "select"
    AUTO_FOCUS = "#need-series"
    HELP = """
Fill in the pack's needs (series and continuous current are required; the rest sharpen the ranking) and press
Enter or `ctrl+r`. Each family gets a verdict, a score, the reasons and the pitfalls, each with its sources; pick a
family in the ranking to read it, `o` opens its sources.
"""
    BINDINGS = [
        Binding("ctrl+r", "rank", "Rank", id="select-rank", tooltip="Rank the BMS families for these needs"),
        Binding("o", "sources", "Sources", id="select-sources", tooltip="Open the selected family's sources"),
        Binding("ctrl+l", "clear", "Clear", id="select-clear", tooltip="Clear the form"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.selection: Any = None
        self.current: Any = None

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Horizontal(id="sel-main"):
            with VerticalScroll(id="sel-form"):
                yield Static("[b]Pack needs[/] [$text-muted]esc leaves the form[/]", classes="pane-title")
                for name, label, ph, req in NUMBERS:
                    with Horizontal(classes="form-row"):
                        yield Label(label + (" *" if req else ""), classes="form-label")
                        yield NeedInput(placeholder=ph, id=f"need-{name}", compact=True,
                                        restrict=r"[0-9.,aAsS ]*", max_length=8)
                for name, opts in CHOICES.items():
                    with Horizontal(classes="form-row"):
                        yield Label(name.replace("_", " ").capitalize(), classes="form-label")
                        yield Select(opts, prompt="any", id=f"need-{name}", compact=True)
                yield Button("Rank", id="sel-rank", variant="primary", compact=True)
                yield Static("", id="sel-error")
            with Vertical(id="sel-result"):
                yield Static("[b]Ranking[/]", classes="pane-title")
                yield OptionList(id="sel-ranking")
                with VerticalScroll(id="sel-detail-scroll"):
                    yield Markdown("Fill in the pack's needs and press **Enter** to rank the BMS families.",
                                   open_links=False, id="sel-detail")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        if self.kb is None:
            self._error(f"the advisor needs the knowledge base: {self.app.kb_error}")

    # ------------------------------------------------------------------ the form

    def read_needs(self) -> Any:
        """Needs from the form, or raise UserError with a one-line message."""
        from engine.select import Needs
        from kb.errors import UserError

        values: dict[str, Any] = {}
        for name, label, _ph, req in NUMBERS:
            text = self.query_one(f"#need-{name}", Input).value
            v = parse_number(label, text, integer=name == "series")
            if v is None and req:
                raise UserError(f"{label} is required", name)
            values[name] = v
        for name in CHOICES:
            v = self.query_one(f"#need-{name}", Select).value
            if v is Select.NULL:
                continue
            values[name] = (v == "yes") if name == "full_protection" else v
        return Needs(**values)

    def spread_paste(self, start: Input, values: list[str]) -> None:
        """Put pasted values into `start` and the number fields after it, or refuse the paste (nothing changes)."""
        from kb.errors import UserError

        names = [n for n, *_ in NUMBERS]
        first = names.index((start.id or "need-series").removeprefix("need-"))
        fields = NUMBERS[first:]
        if len(values) > len(fields):
            self.notify(f"the paste has {len(values)} values but only {len(fields)} number fields from "
                        f"{fields[0][1]} on ({', '.join(f[1] for f in fields)}): nothing was changed",
                        title="Paste", severity="error", timeout=8)
            return
        try:
            for (name, label, _ph, _req), v in zip(fields, values):
                parse_number(label, v, integer=name == "series")
        except UserError as e:
            self.notify(f"{e}: the paste was not used", title="Paste", severity="error", timeout=8)
            return
        for (name, _label, _ph, _req), v in zip(fields, values):
            self.query_one(f"#need-{name}", Input).value = v
        last = self.query_one(f"#need-{fields[len(values) - 1][0]}", Input)
        last.focus()
        self.notify(", ".join(f"{f[1]} {v}" for f, v in zip(fields, values)), title="Pasted")

    def _error(self, text: str, field: str | None = None) -> None:
        self.query_one("#sel-error", Static).update(f"[b $error]{escape(text)}[/]" if text else "")
        for name, *_ in NUMBERS:
            self.query_one(f"#need-{name}", Input).set_class(field == name, "-invalid")
        if text:
            self._clear_ranking()  # a ranking for other needs must not stay beside an error

    def _clear_ranking(self, hint: str = "Fill in the pack's needs and press **Enter** to rank the BMS families.") -> None:
        self.selection = None
        self.current = None
        self.query_one("#sel-ranking", OptionList).clear_options()
        self.query_one("#sel-detail", Markdown).update(hint)

    @on(Input.Submitted)
    @on(Button.Pressed, "#sel-rank")
    def action_rank(self) -> None:
        from kb.errors import UserError

        if self.kb is None:
            self._error(f"the advisor needs the knowledge base: {self.app.kb_error}")
            return
        try:
            from engine.select import select

            needs = self.read_needs()
            self.selection = select(needs, self.kb)
        except UserError as e:
            field = e.args[1] if len(e.args) > 1 else next((n for n, *_ in NUMBERS if str(e).lower().startswith(n)), None)
            self._error(str(e.args[0]) if e.args else str(e), field)
            return
        self._error("")
        self._show_ranking()

    def _show_ranking(self) -> None:
        lst = self.query_one("#sel-ranking", OptionList)
        lst.clear_options()
        for r in self.selection.ranking:
            var = VERDICT_VAR.get(r.verdict, "$text")
            lst.add_option(Option(f"[b {var}]{VERDICT_ICON.get(r.verdict, '')} {r.verdict:<11}[/] {r.score:>4}  "
                                  f"{escape(r.name)}", id=r.family))
        lst.highlighted = 0
        self._show_family(0)

    @on(OptionList.OptionHighlighted, "#sel-ranking")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_family(event.option_index)

    def _show_family(self, index: int) -> None:
        if self.selection is None or not 0 <= index < len(self.selection.ranking):
            return
        self.current = self.selection.ranking[index]
        self.query_one("#sel-detail", Markdown).update(ranking_md(self.current))

    def action_sources(self) -> None:
        from tui.widgets.citations import open_citations

        if self.current is None:
            self.notify("rank the families first", severity="warning")
            return
        open_citations(self.app, self.current.citations, f"Sources for {self.current.name}")

    def action_clear(self) -> None:
        for name, *_ in NUMBERS:
            self.query_one(f"#need-{name}", Input).value = ""
        for name in CHOICES:
            self.query_one(f"#need-{name}", Select).clear()
        self._error("")
        self._clear_ranking()
        self.query_one("#need-series", Input).focus()

    def palette_commands(self) -> Iterable[tuple[str, str, object]]:
        yield ("Select: rank", "Rank the BMS families for the needs in the form", self.action_rank)
        yield ("Select: clear the form", "Start again with an empty form", self.action_clear)
