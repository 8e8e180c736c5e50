"""A fast Markdown view for long knowledge-base pages: one Static per heading block instead of a widget per block.

Textual's Markdown widget mounts a widget for every paragraph, list item and inline run: a handbook section with
the five family cards is ~750 widgets and took seconds to open. Here markdown-it-py (the parser Textual's widget
uses) turns the page into Textual content markup, one block per heading, so a page is a dozen widgets and opens in
tens of milliseconds. Parsed pages are cached by their text. Links become `@click` actions that post
`MarkView.LinkClicked(href)`, handled like `Markdown.LinkClicked` (citations `cite:`, sections `section:`, `#anchor`).

The subset rendered is what tui/widgets/kbtext.py writes: headings, paragraphs, bullet and numbered lists (nested),
bold, italic, inline code, links, rules and code blocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from textual.containers import VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.widgets import Static


@dataclass(frozen=True)
class Block:
    heading: str  # the heading text that starts the block ("" for text before the first heading)
    level: int
    markup: str


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _inline(tokens, links: list[str]) -> str:
    out: list[str] = []
    for t in tokens or []:
        kind = t.type
        if kind == "text":
            out.append(escape(t.content))
        elif kind == "softbreak":
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\n")
        elif kind == "strong_open":
            out.append("[b]")
        elif kind == "em_open":
            out.append("[i]")
        elif kind in ("strong_close", "em_close", "link_close"):
            out.append("[/]")
        elif kind == "code_inline":
            out.append(f"[$text-accent]{escape(t.content)}[/]")
        elif kind == "link_open":
            links.append(str(t.attrs.get("href", "")))
            out.append(f"[@click=link({len(links) - 1})]")
        elif kind in ("html_inline", "image"):
            out.append(escape(t.content))
    return "".join(out)


BLOCK_CHARS = 1200  # a block longer than this ends at its next top-level paragraph or list


@lru_cache(maxsize=64)
def parse_blocks(text: str) -> tuple[tuple[Block, ...], tuple[str, ...]]:
    """The page as heading blocks of content markup, and the hrefs its `link(i)` actions refer to."""
    tokens = _parser().parse(text)
    links: list[str] = []
    blocks: list[Block] = []
    heading, level, lines = "", 0, []
    lists: list[list[int]] = []  # per open list: [ordered (0/1), next number]
    prefix = ""  # the marker waiting for the first paragraph of a list item
    i = 0

    def flush() -> None:
        nonlocal lines
        body = "\n".join(lines).strip("\n")
        if body or heading:
            blocks.append(Block(heading, level, body))
        lines = []

    def split_if_long() -> None:
        """End the block at a top-level boundary once it is long: the first screenful mounts less."""
        nonlocal heading, level
        if sum(len(x) for x in lines) > BLOCK_CHARS:
            flush()
            heading, level = "", 0

    while i < len(tokens):
        t = tokens[i]
        kind = t.type
        if kind == "heading_open":
            flush()
            inline = tokens[i + 1]
            level = int(t.tag[1])
            heading = inline.content
            text_md = _inline(inline.children, links)
            style = {1: "b $accent", 2: "b $primary"}.get(level, "b")
            lines = [f"[{style}]{text_md}[/]", ""]
            i += 3
            continue
        if kind == "bullet_list_open":
            lists.append([0, 0])
        elif kind == "ordered_list_open":
            lists.append([1, int(t.attrs.get("start", 1) or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            if not lists:
                lines.append("")
                split_if_long()
        elif kind == "list_item_close" and len(lists) == 1:
            split_if_long()  # a long list continues in the next block
        elif kind == "list_item_open":
            indent = "  " * (len(lists) - 1)
            if lists and lists[-1][0]:
                prefix = f"{indent}{lists[-1][1]}. "
                lists[-1][1] += 1
            else:
                prefix = f"{indent}• "
        elif kind == "inline":
            body = _inline(t.children, links)
            if lists:
                pad = " " * len(prefix) if not prefix.strip() else ""
                lines.append((prefix or pad or "  " * len(lists)) + body)
                prefix = " " * len(prefix)  # a second paragraph in the item aligns under the text
            else:
                lines.append(body)
        elif kind == "paragraph_close" and not lists:
            lines.append("")
            split_if_long()
        elif kind == "hr":
            lines += ["[$text-muted]" + "─" * 40 + "[/]", ""]
        elif kind in ("fence", "code_block"):
            lines += [f"[$text-muted]{escape(t.content.rstrip())}[/]", ""]
        i += 1
    flush()
    return tuple(blocks), tuple(links)


@lru_cache(maxsize=64)
def block_contents(text: str) -> tuple:
    """The blocks of `text` as Textual Content (parsed once; pure, so a thread can warm the cache)."""
    from textual.content import Content

    return tuple(Content.from_markup(b.markup) for b in parse_blocks(text)[0])


def slug(heading: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in heading.lower()).split())


class _BlockView(Static):
    def action_link(self, index: int) -> None:  # @click actions run on the widget showing the link
        view = self.parent
        if isinstance(view, MarkView):
            view.action_link(index)


class MarkView(VerticalScroll, can_focus=True):
    """Scrollable Markdown page rendered by parse_blocks."""

    DEFAULT_CSS = """
    MarkView > .mv-block { height: auto; width: 1fr; }
    """

    class LinkClicked(Message):
        def __init__(self, view: MarkView, href: str) -> None:
            super().__init__()
            self.view = view
            self.href = href

    def __init__(self, text: str = "", **kw) -> None:
        super().__init__(**kw)
        self._text = text
        self._links: tuple[str, ...] = ()
        self._blocks: tuple[Block, ...] = ()

    def on_mount(self) -> None:
        if self._text:
            self.update(self._text)

    @property
    def text(self) -> str:
        return self._text

    FIRST_SCREEN_CHARS = 2200  # about a screenful: mounted at once, the rest right after the first paint

    def update(self, text: str) -> None:
        self._text = text
        self._blocks, self._links = parse_blocks(text)
        contents = block_contents(text)
        n, size = 0, 0
        while n < len(contents) and (n == 0 or size < self.FIRST_SCREEN_CHARS):
            size += len(self._blocks[n].markup)
            n += 1
        self._generation = getattr(self, "_generation", 0) + 1
        self._rest = contents[n:]
        self._anchor = ""
        with self.app.batch_update():
            self.remove_children()
            self.mount_all([_BlockView(c, classes="mv-block") for c in contents[:n]])
        self.scroll_home(animate=False)
        if self._rest:
            self.call_after_refresh(self._mount_rest, self._generation)

    def _mount_rest(self, generation: int) -> None:
        if generation != self._generation or not self._rest:
            return  # another page was opened meanwhile
        rest, self._rest = self._rest, ()
        self.mount_all([_BlockView(c, classes="mv-block") for c in rest])
        if self._anchor:
            anchor, self._anchor = self._anchor, ""
            self.call_after_refresh(self.goto_anchor, anchor)

    @property
    def complete(self) -> bool:
        """Every block of the page is mounted."""
        return not getattr(self, "_rest", ())

    def action_link(self, index: int) -> None:
        if 0 <= index < len(self._links):
            self.post_message(self.LinkClicked(self, self._links[index]))

    def goto_anchor(self, anchor: str) -> bool:
        """Scroll to the block whose heading matches `anchor` (its text or slug)."""
        if not self.complete:
            self._anchor = anchor  # scrolled to once the rest of the page is mounted
            return True
        want = slug(anchor)
        for block, widget in zip(self._blocks, self.query(".mv-block")):
            if block.heading and slug(block.heading) == want:
                self.scroll_to_widget(widget, top=True, animate=False)
                return True
        return False
