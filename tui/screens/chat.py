"""Chat: ask in plain words (or paste a reading); answers come from engine.chat's Dialogue, with citations.

The dialogue runs in a thread worker (input locked meanwhile) and posts its answer back; the history is a list of
plain dicts kept on the screen, one widget per message with a role class (elia's pattern).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.widgets import Button, Markdown, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from tui.screens.base import AreaScreen
from tui.widgets.kbtext import cite_md

WELCOME = ("Ask about your BMS in plain words: *why does my scooter cut out when braking?*, *which BMS for a 20S "
           "70 A pack?*, or paste a reading (cell voltages, FET states...). Answers cite the handbook; click a "
           "citation to read the source note.")


def answer_md(result: dict[str, Any]) -> str:
    text = str(result.get("answer") or "").strip() or "(no answer)"
    cites = [str(c) for c in result.get("citations") or []]
    findings = result.get("findings") or []
    parts = [text]
    if findings:
        parts.append("")
        parts.append("**Findings in that reading:**")
        parts.append("")
        for f in findings:
            sev = getattr(f, "severity", None) or (f.get("severity") if isinstance(f, dict) else "")
            title = getattr(f, "title", None) or (f.get("title") if isinstance(f, dict) else str(f))
            fc = getattr(f, "citations", None) or (f.get("citations") if isinstance(f, dict) else []) or []
            parts.append(f"- **{str(sev).upper()}** {title} {cite_md(fc)}")
    if cites and not all(f"cite:{c})" in text for c in cites):
        parts += ["", f"Sources: {cite_md(cites)}"]
    follow = result.get("follow_up")
    if follow:
        parts += ["", f"*{follow}*"]
    return "\n".join(parts)


class ChatMessage(Vertical):
    DEFAULT_CSS = """
    ChatMessage { height: auto; margin: 0 0 1 0; padding: 0 1; }
    ChatMessage.-user { border-left: thick $accent; background: $boost; }
    ChatMessage.-assistant { border-left: thick $primary; }
    ChatMessage.-error { border-left: thick $error; }
    ChatMessage Markdown { margin: 0; }
    """

    def __init__(self, role: str, text: str) -> None:
        super().__init__(classes=f"-{role}")
        self.role = role
        self.text = text

    def compose(self) -> ComposeResult:
        if self.role == "user":
            yield Static(escape(self.text))
        else:
            yield Markdown(self.text, open_links=False)


class ChatScreen(AreaScreen):
    AREA = "chat"
    AUTO_FOCUS = "#chat-input"
    HELP = """
Type a question and press `ctrl+j` (or the Send button) to ask. Enter makes a new line, so you can paste a whole
reading. When the answer offers choices, pick one below the conversation. `ctrl+o` opens the last answer's
sources; `ctrl+n` starts a new conversation.
"""
    BINDINGS = [
        Binding("ctrl+j", "send", "Send", id="chat-send", priority=True, tooltip="Send the question"),
        Binding("ctrl+o", "sources", "Sources", id="chat-sources", tooltip="Open the last answer's sources"),
        Binding("ctrl+n", "new", "New chat", id="chat-new", tooltip="Start a new conversation"),
    ]

    class Answered(Message):
        def __init__(self, result: dict[str, Any] | None, error: str = "") -> None:
            super().__init__()
            self.result = result
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, Any]] = []  # {"role", "text", "result"}
        self.dialogue: Any = None
        self.busy = False
        self.last_citations: list[str] = []

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with VerticalScroll(id="chat-log"):
            yield ChatMessage("assistant", WELCOME)
        yield OptionList(id="chat-options")
        with Horizontal(id="chat-entry"):
            yield TextArea(id="chat-input", soft_wrap=True, show_line_numbers=False)
            yield Button("Send", id="chat-send-button", variant="primary", compact=True)
        yield Static("", id="chat-status")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self.query_one("#chat-options").display = False

    def on_screen_resume(self) -> None:
        # coming back to Chat (Esc then a digit left it): the keyboard is in the question box again, so typed text
        # is never lost or taken for area keys
        area = self.query_one("#chat-input", TextArea)
        if not area.disabled:
            area.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "send":
            return not self.busy
        if action == "sources":
            return bool(self.last_citations)
        return True

    @on(Button.Pressed, "#chat-send-button")
    def action_send(self) -> None:
        area = self.query_one("#chat-input", TextArea)
        self.ask(area.text)

    def ask(self, text: str) -> None:
        text = text.strip()
        if not text or self.busy:
            return
        self.query_one("#chat-input", TextArea).text = ""
        self.query_one("#chat-options").display = False
        self._append("user", text)
        self.busy = True
        self.query_one("#chat-input", TextArea).disabled = True
        self.query_one("#chat-status", Static).update("[$warning]thinking…[/]")
        self.refresh_bindings()
        self._turn(text)

    @work(thread=True, exclusive=True, group="chat", exit_on_error=False)
    def _turn(self, text: str) -> None:
        from kb.errors import UserError

        try:
            if self.dialogue is None:  # the same dialogue as `bmsdoc chat` (pasted readings included)
                from tui.commands.chat import make_dialogue

                self.dialogue = make_dialogue(getattr(self.app, "kb", None))
            result = self.dialogue.turn(text)
            self.post_message(self.Answered(dict(result)))
        except UserError as e:
            self.post_message(self.Answered(None, str(e)))
        except Exception as e:  # the UI stays up whatever the dialogue does; one line, no traceback
            self.post_message(self.Answered(None, f"{type(e).__name__}: {e}"))

    @on(Answered)
    def _answered(self, event: Answered) -> None:
        self.busy = False
        area = self.query_one("#chat-input", TextArea)
        area.disabled = False
        area.focus()
        self.query_one("#chat-status", Static).update("")
        if event.result is None:
            self._append("error", f"**Could not answer:** {event.error}")
        else:
            self.last_citations = [str(c) for c in event.result.get("citations") or []]
            self._append("assistant", answer_md(event.result), event.result)
            opts = [str(o) for o in event.result.get("options") or []]
            lst = self.query_one("#chat-options", OptionList)
            lst.clear_options()
            if opts:
                lst.add_options([Option(escape(o), id=f"opt-{i}") for i, o in enumerate(opts)])
                lst.display = True
                self._options = opts
        self.refresh_bindings()

    @on(OptionList.OptionSelected, "#chat-options")
    def _option(self, event: OptionList.OptionSelected) -> None:
        self.ask(self._options[event.option_index])

    def _append(self, role: str, text: str, result: dict[str, Any] | None = None) -> None:
        self.history.append({"role": role, "text": text, "result": result})
        log = self.query_one("#chat-log", VerticalScroll)
        log.mount(ChatMessage(role, text))
        log.call_after_refresh(log.scroll_end, animate=False)

    def action_sources(self) -> None:
        from tui.widgets.citations import open_citations

        open_citations(self.app, self.last_citations, "Sources of the last answer")

    def action_new(self) -> None:
        self.dialogue = None
        self.history.clear()
        self.last_citations = []
        log = self.query_one("#chat-log", VerticalScroll)
        log.remove_children()
        log.mount(ChatMessage("assistant", WELCOME))
        self.query_one("#chat-options").display = False

    def palette_commands(self) -> Iterable[tuple[str, str, object]]:
        yield ("Chat: new conversation", "Forget the conversation so far", self.action_new)
        if self.app.live.reading is not None:
            yield ("Chat: ask about the live reading", "Paste the current live reading into the chat",
                   self.ask_about_live)

    def ask_about_live(self) -> None:
        r = self.app.live.reading
        if r is None:
            return
        import json

        self.ask("Check this reading: " + json.dumps(r.given()))
