"""Diagnose: pick a symptom (or start from a finding) and walk the flow one step at a time.

The session is engine.flows' plain data; this screen only renders it and forwards answers. Steps the live or pasted
reading answers are shown answered, with the value. Any earlier answer can be changed (everything after it is
recomputed by the runner); "why this question?" and the conclusion's remedy and sources come from the flow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.screens.base import AreaScreen
from tui.widgets.kbtext import cite_md
from tui.widgets.markview import MarkView


def _md_text(text: str) -> str:
    """Flow text shown as Markdown text: characters Markdown would read as markup are escaped."""
    out = str(text)
    for ch in "\\`*_[]<>#":
        out = out.replace(ch, "\\" + ch)
    return out


class DiagnoseScreen(AreaScreen):
    AREA = "diagnose"
    AUTO_FOCUS = "#dx-symptoms"
    HELP = """
Pick the symptom on the left (or press `d` on a finding in the Live area). Each step is one question; steps the
reading already answers show the value it gave. Answer with the options (Enter) or type a number. `w` says why the
question is asked, `b` goes back one step, and selecting an earlier answer in the path lets you change it. At the
conclusion, `e` exports the session report.
"""
    BINDINGS = [
        Binding("w", "why", "Why?", id="dx-why", tooltip="Why is this question asked?"),
        Binding("b", "back", "Back", id="dx-back", tooltip="Go back one step (change the last answer)"),
        Binding("e", "export", "Export", id="dx-export", tooltip="Export the session report (Markdown)"),
        Binding("o", "sources", "Sources", id="dx-sources", tooltip="Open the sources of the step or conclusion"),
        Binding("n", "restart", "Restart", id="dx-restart", tooltip="Start this diagnosis again"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runner: Any = None  # engine.flows adapter (see _runner)
        self.session: Any = None
        self.flow_id: str | None = None
        self.finding: Any = None
        self.last_export = ""
        self.show_why = False  # the "why this question?" text is shown in the step pane

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Horizontal(id="dx-main"):
            with Vertical(id="dx-left"):
                yield Static("[b]Symptoms[/]", classes="pane-title")
                yield OptionList(id="dx-symptoms")
            with Vertical(id="dx-right"):
                yield Static("", id="dx-title", classes="pane-title")
                yield OptionList(id="dx-path")
                yield MarkView(id="dx-step")  # wraps at any width; the why is shown here, never over the options
                yield OptionList(id="dx-options")
                yield Input(placeholder="type the value and press Enter", id="dx-value", compact=True)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#dx-value").display = False
        self._fill_symptoms()
        self.take_pending()

    def on_screen_resume(self) -> None:
        self.take_pending()

    # ------------------------------------------------------------------ symptom list

    def _fill_symptoms(self) -> None:
        lst = self.query_one("#dx-symptoms", OptionList)
        lst.clear_options()
        if self.kb is None:
            lst.add_option(Option("(knowledge base unavailable)", disabled=True))
            return
        from tui.screens.flowapi import list_flows

        for fid, title in list_flows(self.kb):
            lst.add_option(Option(escape(title), id=fid))

    def take_pending(self) -> None:
        pending = self.app.pending_diagnosis
        self.app.pending_diagnosis = None
        if not pending:
            return
        self.finding = pending.get("finding")
        from tui.screens.flowapi import flow_for

        fid = pending.get("symptom") or (flow_for(self.kb, self.finding) if self.finding is not None else None)
        if fid:
            self.start(fid)
        elif self.finding is not None:
            self.notify(f"no guided diagnosis starts from '{self.finding.title}': pick the closest symptom",
                        title="Diagnose", severity="warning")
            self.query_one("#dx-symptoms").focus()

    @on(OptionList.OptionSelected, "#dx-symptoms")
    def _symptom(self, event: OptionList.OptionSelected) -> None:
        self.finding = None
        if event.option.id:
            self.start(event.option.id)

    # ------------------------------------------------------------------ the session

    def start(self, flow_id: str) -> None:
        from kb.errors import UserError
        from tui.screens.flowapi import Runner

        try:
            self.runner = Runner(self.kb, flow_id, self.app.live.reading)
        except UserError as e:
            self.notify(str(e), title="Diagnose", severity="error")
            return
        self.flow_id = flow_id
        self.last_export = ""
        lst = self.query_one("#dx-symptoms", OptionList)
        for i in range(lst.option_count):
            if lst.get_option_at_index(i).id == flow_id:
                lst.highlighted = i
        self.render_session()
        opts = self.query_one("#dx-options", OptionList)
        if opts.display and opts.option_count:  # the rider answers next: put the keyboard there
            opts.focus()
            opts.highlighted = 0

    def render_session(self) -> None:
        r = self.runner
        if r is None:
            return
        title = f"[b]{escape(r.title)}[/]"
        if self.finding is not None:
            title += f" [$text-muted]· from finding: {escape(self.finding.title)}[/]"
        self.query_one("#dx-title", Static).update(title)
        path = self.query_one("#dx-path", OptionList)
        path.display = True
        path.clear_options()
        for i, a in enumerate(r.path()):
            src = " [$accent](from the reading)[/]" if a["auto"] else ""
            path.add_option(Option(f"[b $success]✔[/] {escape(a['question'])} → [b]{escape(a['answer'])}[/]{src}",
                                   id=f"path-{i}"))
        step = r.current()
        opts = self.query_one("#dx-options", OptionList)
        value = self.query_one("#dx-value", Input)
        opts.clear_options()
        md = self.query_one("#dx-step", MarkView)
        if step is None:
            return
        if step["kind"] == "conclude":
            self.show_why = False
            opts.display = False
            value.display = False
            md.update(self.conclusion_md(step))
            md.focus()
        else:
            lines = [f"### {_md_text(step['question'])}", ""]
            if step.get("how"):
                lines += [_md_text(step["how"]), ""]
            if step.get("unit"):
                lines += [f"*Answer in {step['unit']}*", ""]
            if step.get("citations"):
                lines += [f"Sources: {cite_md(step['citations'])}", ""]
            if self.show_why:
                why = self.runner.why() or "no explanation recorded for this step"
                lines += ["---", "", "**Why this question?** *(w hides it)*", ""]
                lines += [_md_text(x) if x.strip() else "" for x in why.splitlines()]
            md.update("\n".join(lines))
            if self.show_why:
                md.call_after_refresh(md.scroll_end, animate=False)
            choices = step.get("options") or []
            opts.display = bool(choices)
            value.display = not choices
            for i, c in enumerate(choices):
                opts.add_option(Option(escape(str(c["label"])), id=f"opt-{i}"))
            if choices:
                opts.highlighted = 0
                opts.focus()
            else:
                value.value = ""
                value.focus()
        self.refresh_bindings()

    def conclusion_md(self, step: dict[str, Any]) -> str:
        lines = [f"## Conclusion: {_md_text(step['question'])}", ""]
        if step.get("text"):
            lines += [_md_text(step["text"]), ""]
        if step.get("remedy"):
            lines += ["**Remedy:**", ""]
            lines += [f"{i}. {_md_text(x)}" for i, x in enumerate(step["remedy"], 1)]
            lines.append("")
        lines.append(f"**Sources:** {cite_md(step.get('citations') or [])}")
        if self.last_export:
            lines += ["", f"*Report written to `{self.last_export}`*"]
        return "\n".join(lines)

    @on(OptionList.OptionSelected, "#dx-options")
    def _option(self, event: OptionList.OptionSelected) -> None:
        self.answer(event.option_index)

    @on(Input.Submitted, "#dx-value")
    def _value(self, event: Input.Submitted) -> None:
        self.answer(event.value)

    def answer(self, value: Any) -> None:
        from kb.errors import UserError

        try:
            self.runner.answer(value)
        except UserError as e:
            self.notify(str(e), title="Answer", severity="error")
            return
        self.show_why = False
        self.render_session()

    @on(OptionList.OptionSelected, "#dx-path")
    def _change(self, event: OptionList.OptionSelected) -> None:
        i = int((event.option.id or "path-0")[5:])
        self.runner.rewind(i)
        self.notify("answer this step again; everything after it is recomputed", title="Change answer")
        self.render_session()

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("why", "back", "restart", "sources", "export") and self.runner is None:
            return False
        if action == "export" and (self.runner is None or not self.runner.concluded()):
            return False
        if isinstance(self.app.focused, Input) and action in ("why", "back", "export", "sources", "restart"):
            return False
        return True

    def action_why(self) -> None:
        """Show (or hide) why the question is asked, in the step pane: the options stay where they are."""
        focused = self.app.focused
        self.show_why = not self.show_why
        self.render_session()
        if focused is not None and focused.display:
            focused.focus()

    def action_back(self) -> None:
        if self.runner.back():
            self.render_session()

    def action_restart(self) -> None:
        if self.flow_id:
            self.start(self.flow_id)

    def action_sources(self) -> None:
        from tui.widgets.citations import open_citations

        step = self.runner.current() if self.runner else None
        open_citations(self.app, (step or {}).get("citations") or [], "Sources")

    def action_export(self) -> None:
        from engine.datadir import data_dir
        from kb.errors import UserError

        path = data_dir() / "reports" / f"diagnosis-{self.flow_id}.md"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.runner.report_markdown(), encoding="utf-8")
        except (OSError, UserError) as e:
            self.notify(f"export failed: {e}", severity="error")
            return
        self.last_export = str(path)
        self.notify(f"report written to {path}", title="Export")
        self.render_session()

    def palette_commands(self) -> Iterable[tuple[str, str, object]]:
        if self.kb is not None:
            from tui.screens.flowapi import list_flows

            for fid, title in list_flows(self.kb):
                yield (f"Diagnose: {title}", "Start this guided diagnosis", lambda f=fid: self.start(f))
