"""Issue 16, the Handbook: a section opens as a handful of widgets (not one per paragraph, which took seconds), a
citation link is clickable and opens its note, search results open at their heading, Key points has the TL;DR."""

import asyncio

from tui_helpers import make_app, screen_text, shipped_kb, until


def test_a_big_section_is_a_handful_of_widgets_and_its_links_open_notes(tmp_path):
    kb = shipped_kb()

    async def run():
        app = make_app(tmp_path, kb=kb)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            await until(pilot, lambda: app.current_mode == "handbook")
            hb = app.screen
            hb.open_page("section:selection")  # the five family cards: the longest page
            await until(pilot, lambda: hb.shown == "section:selection" and hb.query_one("#hb-doc").complete)
            doc = hb.query_one("#hb-doc")
            assert len(list(doc.walk_children())) < 30  # Textual's Markdown mounted ~750 widgets for it
            assert "JK Smart" in screen_text(app) or "ANT Smart" in screen_text(app)
            # click the first citation on screen: its source note opens
            label = next(h for h in doc._links if h.startswith("cite:"))
            doc.action_link(doc._links.index(label))
            await until(pilot, lambda: hb.shown == label)
            assert f"Source note [^{label[5:]}]" in screen_text(app)
            await pilot.press("b")
            await until(pilot, lambda: hb.shown == "section:selection")

    asyncio.run(run())


def test_a_search_hit_opens_at_its_heading(tmp_path):
    kb = shipped_kb()

    async def run():
        app = make_app(tmp_path, kb=kb)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("5")
            await until(pilot, lambda: app.current_mode == "handbook")
            hb = app.screen
            hits = hb.search("daly learning cycles")
            hit = next(h for h in hits if h.kind == "guide")
            hb.open_page(hit.target + f"#{hit.anchor}")
            doc = hb.query_one("#hb-doc")
            await until(pilot, lambda: hb.shown == hit.target and doc.complete)
            await until(pilot, lambda: doc.scroll_y > 0)
            assert hit.anchor in screen_text(app)

    asyncio.run(run())


def test_key_points_has_the_tldr(tmp_path):
    kb = shipped_kb()

    async def run():
        app = make_app(tmp_path, kb=kb)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("5")
            await until(pilot, lambda: app.current_mode == "handbook")
            hb = app.screen
            hb.open_page("section:tldr")
            await until(pilot, lambda: hb.shown == "section:tldr" and hb.query_one("#hb-doc").complete)
            text = hb.query_one("#hb-doc").text
            assert "Key points" in text and "TL;DR" in text
            for words in ("7 AWG", "both charge and discharge FETs", "0.015 V"):  # the handbook's three points
                assert words in text, words
            for label in "123456789":
                assert f"(cite:{label})" in text

    asyncio.run(run())
