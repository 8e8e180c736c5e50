"""Handbook: browse the knowledge by section, search it, and read any source note (every citation opens here)."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import Input, Markdown, OptionList
from textual.widgets.option_list import Option

from tui.screens.base import AreaScreen
from tui.widgets.kbtext import section_md, source_md, sources_index_md
from tui.widgets.markview import MarkView


class HandbookScreen(AreaScreen):
    AREA = "handbook"
    AUTO_FOCUS = "#hb-toc"
    HELP = """
Pick a section on the left (families, guardrails, regen, balancing, charging, troubleshooting) or type in the search
box. Links such as `[^4]` open that source note; the note lists every part of the knowledge base that cites it.
"""
    BINDINGS = [
        Binding("slash", "search", "Search", id="hb-search", tooltip="Search the whole knowledge base"),
        Binding("n", "sources", "Sources", id="hb-sources", tooltip="List every source note"),
        Binding("b", "back", "Back", id="hb-back", tooltip="Back to the previous page"),
        Binding("escape", "clear_search", "Clear", show=False, id="hb-clear", tooltip="Clear the search"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page = ""  # "section:ID" | "cite:LABEL" | "sources"
        self.history: list[str] = []
        self._index = None
        self._hits = []
        self.shown = ""  # the page the document shows
        self._pages: dict[str, str] = {}  # page -> its Markdown text (built once per knowledge base)

    def compose(self) -> ComposeResult:
        yield from self.compose_bar()
        with Horizontal(id="hb-main"):
            with Vertical(id="hb-nav"):
                yield Input(placeholder="Search (/)", id="hb-query")
                yield OptionList(id="hb-toc")
            yield MarkView(id="hb-doc")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        self._fill_toc()
        if self.kb is not None:
            self._build_index()  # in a thread: the first search does not wait for it
        if self.app.pending_citation:
            self.show_pending()
        elif self.kb is not None and self.kb.manifest.sections:
            self.open_page(f"section:{self.kb.manifest.sections[0].id}", remember=False)

    def on_screen_resume(self) -> None:
        if self.app.pending_citation:
            self.show_pending()

    # ------------------------------------------------------------------ navigation

    def _fill_toc(self) -> None:
        toc = self.query_one("#hb-toc", OptionList)
        toc.clear_options()
        kb = self.kb
        if kb is None:
            toc.add_option(Option("(knowledge base unavailable)", disabled=True))
            self.query_one("#hb-doc", MarkView).update(f"# Handbook unavailable\n\n```\n{self.app.kb_error}\n```")
            return
        for s in kb.manifest.sections:
            toc.add_option(Option(s.title, id=f"section:{s.id}"))
        toc.add_option(None)
        toc.add_option(Option(f"Source notes ({len(kb.sources)})", id="sources"))

    def show_pending(self) -> None:
        page = self.app.pending_citation
        self.app.pending_citation = None
        if page:
            self.history.clear() if self.app.came_from else None
            self.open_page(page, remember=not self.app.came_from)
            self.query_one("#hb-doc").focus()

    def open_page(self, page: str, remember: bool = True) -> None:
        kb = self.kb
        if kb is None:
            return
        anchor = ""
        if "#" in page:
            page, anchor = page.split("#", 1)
        if remember and self.page and self.page != page:
            self.history.append(self.page)
        self.page = page
        doc = self.query_one("#hb-doc", MarkView)
        doc.update(self.page_text(page))  # one widget per heading block: milliseconds, no worker needed
        self.shown = page
        if anchor:
            self.call_after_refresh(doc.goto_anchor, anchor)

    def page_text(self, page: str) -> str:
        """The Markdown of a page, built once (the knowledge base does not change while the app runs)."""
        text = self._pages.get(page)
        if text is None:
            kb = self.kb
            if page.startswith("cite:"):
                text = source_md(kb, page[5:])
            elif page.startswith("section:"):
                text = section_md(kb, page[8:])
            else:
                text = sources_index_md(kb)
            self._pages[page] = text
        return text

    @on(OptionList.OptionSelected, "#hb-toc")
    def _toc_selected(self, event: OptionList.OptionSelected) -> None:
        oid = event.option.id or ""
        if oid.startswith("hit:"):
            hit = self._hits[int(oid[4:])]
            self.open_page(hit.target + (f"#{hit.anchor}" if hit.anchor else ""))
        elif oid:
            self.open_page(oid)

    @on(MarkView.LinkClicked)
    @on(Markdown.LinkClicked)
    def _link(self, event: Markdown.LinkClicked | MarkView.LinkClicked) -> None:
        event.stop()
        href = event.href
        if href.startswith(("cite:", "section:")):
            self.open_page(href)
        elif href.startswith("#"):
            self.query_one("#hb-doc", MarkView).goto_anchor(href[1:])
        else:
            self.notify(f"external link: {href}", title="Link")

    # ------------------------------------------------------------------ search

    @work(thread=True, exclusive=True, group="hb-index", exit_on_error=False)
    def _build_index(self) -> None:
        """Warm up in a thread: every section parsed and laid out as content, then the search index, then the
        source notes, so opening any of them later only mounts a few widgets."""
        from tui.widgets.markview import block_contents
        from tui.widgets.search import HandbookIndex

        kb = self.kb
        pages = [f"section:{s.id}" for s in kb.manifest.sections] + ["sources"]
        for page in pages:
            block_contents(self.page_text(page))
        index = HandbookIndex(kb)
        if self._index is None:
            self._index = index
        for label in kb.sources:
            block_contents(self.page_text(f"cite:{label}"))

    @on(Input.Changed, "#hb-query")
    def _query_changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    @on(Input.Submitted, "#hb-query")
    def _query_submitted(self, event: Input.Submitted) -> None:
        toc = self.query_one("#hb-toc", OptionList)
        if self._hits:
            toc.highlighted = 0
            toc.focus()

    def search(self, query: str) -> list:
        kb = self.kb
        if kb is None:
            return []
        if not query.strip():
            self._hits = []
            self._fill_toc()
            return []
        if self._index is None:
            from tui.widgets.search import HandbookIndex

            self._index = HandbookIndex(kb)
        self._hits = self._index.search(query)
        toc = self.query_one("#hb-toc", OptionList)
        toc.clear_options()
        if not self._hits:
            toc.add_option(Option(f"no match for '{query}'", disabled=True))
        for i, h in enumerate(self._hits):
            extra = f" [dim]{escape(h.snippet[:48])}…[/]" if h.kind == "source" else ""
            toc.add_option(Option(f"[dim]{h.kind}[/] {escape(h.title)}{extra}", id=f"hit:{i}"))
        return self._hits

    def action_search(self) -> None:
        self.query_one("#hb-query", Input).focus()

    def action_clear_search(self) -> None:
        q = self.query_one("#hb-query", Input)
        if q.value:
            q.value = ""
        self.query_one("#hb-toc").focus()

    def action_sources(self) -> None:
        self.open_page("sources")

    def action_back(self) -> None:
        if self.history:
            self.open_page(self.history.pop(), remember=False)
        elif self.app.came_from:
            mode, self.app.came_from = self.app.came_from, None
            self.app.switch_mode(mode)

    def palette_commands(self) -> Iterable[tuple[str, str, object]]:
        kb = self.kb
        if kb is None:
            return
        for s in kb.manifest.sections:
            yield (f"Handbook: {s.title}", f"Open the handbook section '{s.title}'", lambda p=f"section:{s.id}": self.open_page(p))
        yield ("Handbook: source notes", "List every source note", self.action_sources)
