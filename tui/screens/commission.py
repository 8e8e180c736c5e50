"""Commission: the commissioning checklist per pack, with saved progress, checks against the live reading, export."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import Input, Label, Markdown, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from kb.errors import UserError
from tui.screens.base import AreaScreen
from tui.widgets.kbtext import cite_md

TAP_CHARS = frozenset("0123456789 .,;-")


class DetailPane(VerticalScroll):
    """The selected step's text. Digits, spaces and separators typed here are tap voltages: they go to the taps
    box when the step measures taps, and are ignored otherwise (never a step mark or an area switch)."""

    def on_key(self, event: events.Key) -> None:
        if event.character is None or event.character not in TAP_CHARS:
            return
        event.stop()
        event.prevent_default()
        self.screen.typed_in_detail(event.character)  # type: ignore[attr-defined]

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.screen.typed_in_detail(event.text)  # type: ignore[attr-defined]


STATUS_ICON = {"pending": "[$text-muted]○[/]", "done": "[b $success]✔[/]", "skipped": "[$text-muted]–[/]",
               "failed": "[b $error]✖[/]"}


class CommissionScreen(AreaScreen):
    AREA = "commission"
    AUTO_FOCUS = "#cl-steps"
    HELP = """
Name the pack (progress is saved per pack), then walk the steps. Checks marked *live* are answered from the
current reading on the Live dashboard. For a step that measures balance taps, type the tap voltages from B-
(`0, 4.1, 8.2, ...`) and press Enter. Space marks a step done, `f` failed, `z` skipped, `u` pending again;
`e` exports the report (Markdown) to the data directory.
"""
    BINDINGS = [
        Binding("space", "mark('done')", "Done", id="cl-done", tooltip="Mark the selected step done"),
        Binding("f", "mark('failed')", "Failed", id="cl-failed", tooltip="Mark the selected step failed"),
        Binding("z", "mark('skipped')", "Skip", id="cl-skip", tooltip="Mark the selected step skipped"),
        Binding("u", "mark('pending')", "Undo", show=False, id="cl-undo", tooltip="Mark the selected step pending again"),
        Binding("e", "export", "Export", id="cl-export", tooltip="Export the checklist report"),
        Binding("o", "sources", "Sources", id="cl-sources", tooltip="Open the selected step's sources"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.checklist: Any = None
        self.progress: Any = None
        self.pack = "my-pack"
        self.error = ""
        self.last_export = ""
        self._hinted = -10.0  # when the "mark steps in the list" hint was last shown

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Horizontal(id="cl-top"):
            yield Label("Pack ", classes="form-label-short")
            yield Input(value=self.pack, id="cl-pack", compact=True, max_length=60)
            yield Label(" Series ", classes="form-label-short")
            yield Input(placeholder="20S", id="cl-series", compact=True, max_length=4, restrict=r"[0-9sS]*",
                        tooltip="The pack's series count: the balance taps are checked against it (Enter saves)")
            yield ProgressBar(total=1, show_eta=False, id="cl-progress")
            yield Static("", id="cl-count")
        with Horizontal(id="cl-main"):
            yield OptionList(id="cl-steps")
            with Vertical(id="cl-detail-pane"):
                with DetailPane(id="cl-detail-scroll"):
                    yield Markdown("", open_links=False, id="cl-detail")
                yield Input(placeholder="balance-tap voltages from B-: 0, 4.1, 8.2, … (Enter)", id="cl-taps", compact=True,
                            select_on_focus=False)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#cl-taps").display = False
        self.load_pack(self.pack)
        self.watch(self.app, "live_tick", self._on_tick, init=False)

    def _on_tick(self, _t: int = 0) -> None:
        # the live reading changes the automatic checks; refresh at most when this screen is visible
        if self.app.screen is self and self.checklist is not None and self.app.live.seq % 10 == 1:
            self._show_detail()

    def on_screen_resume(self) -> None:
        if self.checklist is not None:
            self._show_detail()

    # ------------------------------------------------------------------ loading and saving

    def load_pack(self, pack: str) -> bool:
        from kb.errors import UserError

        kb = self.kb
        if kb is None:
            return self._fail(f"the checklist needs the knowledge base: {self.app.kb_error}")
        try:
            from engine.checklist import Progress, get_checklist

            self.checklist = get_checklist(kb)
            self.progress = Progress.load(pack, self.checklist, kb.kb_version)
        except UserError as e:
            return self._fail(str(e))
        self.pack = pack
        self.error = ""
        self.query_one("#cl-series", Input).value = f"{self.progress.series}S" if self.progress.series else ""
        first_open = next((i for i, st in enumerate(self.checklist.steps)
                           if self.progress.steps[st.id].status == "pending"), 0)
        self._fill_steps(keep=first_open)
        return True

    def _fail(self, text: str) -> bool:
        self.error = text
        self.notify(text, title="Checklist", severity="error")
        self.query_one("#cl-detail", Markdown).update(f"**The checklist cannot open:**\n\n```\n{text}\n```")
        return False

    def _fill_steps(self, keep: int | None = None) -> None:
        lst = self.query_one("#cl-steps", OptionList)
        idx = lst.highlighted if keep is None else keep
        lst.clear_options()
        for i, step in enumerate(self.checklist.steps, 1):
            st = self.progress.steps[step.id]
            lst.add_option(Option(f"{STATUS_ICON[st.status]} {i:>2}. {escape(step.title)}", id=step.id))
        lst.highlighted = min(idx or 0, len(self.checklist.steps) - 1)
        total = len(self.checklist.steps)
        bar = self.query_one("#cl-progress", ProgressBar)
        bar.update(total=total, progress=self.progress.done)
        self.query_one("#cl-count", Static).update(f" {self.progress.done}/{total} steps")
        self._show_detail()

    @on(Input.Submitted, "#cl-series")
    def _series_changed(self, event: Input.Submitted) -> None:
        import argparse

        from tui.commands.argtypes import series

        text = event.value.strip()
        try:
            self.progress.series = series(text) if text else None
            self.progress.save()
        except argparse.ArgumentTypeError as e:
            self.notify(str(e), title="Series", severity="error")
            return
        except (UserError, OSError) as e:
            self.notify(f"could not save progress: {e}", severity="error")
            return
        self.notify(f"pack '{self.pack}': {self.progress.series or 'no'} series", title="Series")
        self._show_detail()
        self.query_one("#cl-steps").focus()

    def typed_in_detail(self, text: str) -> None:
        step = self.selected_step()
        taps = self.query_one("#cl-taps", Input)
        if step is not None and step.measure is not None and taps.display:
            taps.focus()
            taps.insert_text_at_cursor(text)
        elif text.strip() and time.monotonic() - self._hinted > 4.0:  # one hint, not one per key
            self._hinted = time.monotonic()
            self.notify("marking steps works in the step list (Tab to it): space done, f failed, z skip",
                        title="Checklist", timeout=4)

    @on(Input.Submitted, "#cl-pack")
    def _pack_changed(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if name and self.load_pack(name):
            self.notify(f"checklist for pack '{name}': {self.progress.done}/{len(self.checklist.steps)} done",
                        title="Checklist")
            self.query_one("#cl-steps").focus()

    # ------------------------------------------------------------------ the selected step

    def selected_step(self) -> Any:
        if self.checklist is None:
            return None
        i = self.query_one("#cl-steps", OptionList).highlighted
        return self.checklist.steps[i] if i is not None and 0 <= i < len(self.checklist.steps) else None

    @on(OptionList.OptionHighlighted, "#cl-steps")
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        step = self.selected_step()
        if step is None:
            return
        from engine.checklist import auto_checks, check_taps, step_citations

        kb, live = self.kb, self.app.live
        st = self.progress.steps[step.id]
        guide = kb.guides[step.guide]
        lines = [f"## {escape(step.title)}", "", f"Status: **{st.status}**" + (f" ({st.at})" if st.at else ""), "",
                 guide.summary, ""]
        lines += [f"- {s}" for s in guide.steps]
        if step.checks:
            src = live.source_short or "no live source"
            if live.spec.get("kind") == "demo":
                src += ": the virtual BMS, not your pack"
            lines += ["", f"**Checks against the live reading** ({escape(src)}):", ""]
            results = auto_checks(kb, self.checklist, step, live.reading)
            for r in results:
                if r.result is None:
                    verdict = f"not measured (needs {', '.join(r.missing)})" if r.missing else "not measured"
                else:
                    verdict = "✔ pass" if r.result else "✖ FAIL"
                lines.append(f"- {r.text}: **{verdict}**")
        taps_input = self.query_one("#cl-taps", Input)
        taps_input.display = step.measure is not None
        if step.measure is not None:
            lines += ["", f"**Measure:** {step.measure.prompt}", ""]
            if not self.progress.series:
                lines.append("*Type the pack's series count in the Series box: without it the lead order "
                             "cannot be confirmed.*")
            if st.taps:
                res = check_taps(step.measure, st.taps, self.progress.series)
                icon = {True: "✔", False: "✖", None: "?"}[res.ok]
                lines.append(f"Taps {', '.join(f'{t:g}' for t in st.taps)} V: **{icon} {res.message}**")
        if st.note:
            lines += ["", f"Note: {st.note}"]
        lines += ["", f"Sources: {cite_md(step_citations(kb, step))}"]
        if self.last_export:
            lines += ["", f"*Last export: `{self.last_export}`*"]
        self.query_one("#cl-detail", Markdown).update("\n".join(lines))

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("mark", "export", "sources") and self.checklist is None:
            return False
        if action == "mark" and getattr(self.app.focused, "id", None) != "cl-steps":
            return False  # typed elsewhere (pack name, taps, the detail pane) a key never marks a step
        return True

    def action_mark(self, status: str) -> None:
        step = self.selected_step()
        if step is None:
            return
        from kb.errors import UserError

        try:
            self.progress.mark(step.id, status)
            self.progress.save()
        except (UserError, OSError) as e:
            self.notify(f"could not save progress: {e}", severity="error")
            return
        lst = self.query_one("#cl-steps", OptionList)
        i = lst.highlighted or 0
        nxt = i + 1 if status == "done" and i + 1 < len(self.checklist.steps) else i
        self._fill_steps(keep=nxt)

    @on(Input.Submitted, "#cl-taps")
    def _taps(self, event: Input.Submitted) -> None:
        step = self.selected_step()
        if step is None or step.measure is None:
            return
        from engine.checklist import check_taps

        try:
            taps = [float(x.replace(",", ".")) for x in re.split(r"[\s;]+|,(?=\s)|,(?!\d)", event.value.strip()) if x]
        except ValueError:
            self.notify(f"'{event.value}' is not a list of voltages (e.g. 0, 4.1, 8.2)", severity="error")
            return
        res = check_taps(step.measure, taps, self.progress.series)
        st = self.progress.steps[step.id]
        st.taps = taps
        self.progress.mark(step.id, {True: "done", False: "failed", None: "pending"}[res.ok])  # unconfirmed: open
        self.progress.save()
        self.notify(res.message, title="Balance taps",
                    severity={True: "information", False: "error", None: "warning"}[res.ok])
        self._fill_steps()

    def action_export(self) -> None:
        from engine.checklist import export
        from engine.datadir import data_dir
        from kb.errors import UserError

        path = data_dir() / "reports" / f"{self.progress.path_for(self.pack, self.checklist.id).stem}.md"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            export(self.kb, self.checklist, self.progress, path, self.app.live.reading, self.reading_source())
        except (UserError, OSError) as e:
            self.notify(f"export failed: {e}", severity="error")
            return
        self.last_export = str(path)
        self.notify(f"report written to {path}", title="Export")
        self._show_detail()

    def reading_source(self) -> str | None:
        """Where the automatic checks' reading comes from, as the report says it."""
        live = self.app.live
        if live.reading is None:
            return None
        if live.spec.get("kind") == "demo":
            return f"the demo reading ({live.source}), not a measurement of this pack"
        return f"the live reading from {live.source}"

    def action_sources(self) -> None:
        from engine.checklist import step_citations
        from tui.widgets.citations import open_citations

        step = self.selected_step()
        if step is not None:
            open_citations(self.app, step_citations(self.kb, step), f"Sources of '{step.title}'")

    def palette_commands(self) -> Iterable[tuple[str, str, object]]:
        yield ("Commission: export report", "Write the checklist report for this pack", self.action_export)
        yield ("Commission: mark step done", "Mark the selected step done", lambda: self.action_mark("done"))
