"""The handbook's Markdown view: what kbtext writes becomes content markup with working links, nothing is lost."""

from textual.content import Content

from tui.widgets.markview import BLOCK_CHARS, parse_blocks, slug


def plain(text: str) -> str:
    blocks, _ = parse_blocks(text)
    return "\n".join(Content.from_markup(b.markup).plain for b in blocks)


def test_headings_lists_links_and_literal_brackets():
    md = ("# Source note [^4]\n\nKeep **both** FETs *on* (`charge_fet`).\n\n- one [\\[^4\\]](cite:4)\n- two\n"
          "  - nested\n\n1. first\n2. second\n\n## Next [tag]\n\ntext with [brackets] and a\nsoft break\n")
    blocks, links = parse_blocks(md)
    text = plain(md)
    assert links == ("cite:4",)
    assert "[@click=link(0)]" in blocks[0].markup
    for want in ("Source note [^4]", "Keep both FETs on (charge_fet).", "• one [^4]", "  • nested", "1. first",
                 "2. second", "Next [tag]", "text with [brackets] and a soft break"):
        assert want in text, want
    assert [b.heading for b in blocks] == ["Source note [^4]", "Next [tag]"]
    assert slug("Checks on a reading") == "checks-on-a-reading"


def test_long_pages_are_split_at_top_level_boundaries_without_losing_text():
    items = "\n".join(f"- item {i} " + "word " * 20 for i in range(60))
    md = f"# Title\n\n{items}\n\nafter the list\n"
    blocks, _ = parse_blocks(md)
    assert len(blocks) > 3 and all(len(b.markup) < 3 * BLOCK_CHARS for b in blocks)
    text = plain(md)
    assert all(f"• item {i} " in text for i in range(60)) and "after the list" in text
