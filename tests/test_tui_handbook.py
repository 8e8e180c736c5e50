"""Handbook browser: sections, search, citations opening source notes from any screen, help, palette."""

import asyncio

from tui_helpers import SIZE, compare_snapshot, make_app, screen_text, until


def test_handbook_search_opens_a_citation(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            await pilot.pause()
            assert app.current_mode == "handbook"
            hb = app.screen
            assert hb.page.startswith("section:")
            await pilot.press("slash")
            await pilot.press(*"regen charge fet")
            await pilot.pause()
            hits = hb._hits
            assert hits, "searching 'regen charge fet' found nothing"
            # the first source hit: choose it in the list as a user would
            idx = next(i for i, h in enumerate(hits) if h.kind == "source")
            label = hits[idx].target[5:]
            await pilot.press("enter")  # focus the results
            toc = hb.query_one("#hb-toc")
            toc.highlighted = idx
            await pilot.press("enter")
            await until(pilot, lambda: hb.shown == f"cite:{label}")
            text = screen_text(app)
            assert f"Source note [^{label}]" in text
            assert app.kb.sources[label].summary.split()[0] in text

    asyncio.run(run())


def test_every_section_renders_and_citations_open_from_other_screens(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await pilot.pause()
            app.open_citation("4")
            await until(pilot, lambda: app.current_mode == "handbook" and getattr(app.screen, "shown", "") == "cite:4")
            assert "Source note [^4]" in screen_text(app)
            await pilot.press("b")  # back to where the citation was opened
            await pilot.pause(0.2)
            assert app.current_mode == "select"
            await pilot.press("escape", "5")  # leave the form's text box, then switch
            await pilot.pause()
            for s in app.kb.manifest.sections:
                app.screen.open_page(f"section:{s.id}")
                await until(pilot, lambda: getattr(app.screen, "shown", "") == f"section:{s.id}")  # noqa: B023 (called at once)
                assert s.title in screen_text(app)
            # a link clicked inside the document is routed the same way
            from tui.widgets.markview import MarkView

            doc = app.screen.query_one("#hb-doc", MarkView)
            doc.post_message(MarkView.LinkClicked(doc, "cite:ant-cutoff"))
            await until(pilot, lambda: getattr(app.screen, "shown", "") == "cite:ant-cutoff")

    asyncio.run(run())


def test_help_and_palette_list_every_area(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("f1")
            await pilot.pause()
            text = screen_text(app)
            assert "bmsdoc: help" in text and "This screen: Live" in text
            await pilot.press("escape")
            await pilot.pause()
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for area in ("Live", "Diagnose", "Select", "Commission", "Handbook", "Chat"):
                assert f"Open {area}" in titles
            assert "Source [^ant-cutoff]" in titles
            for key, mode in zip("123456", ["live", "diagnose", "select", "commission", "handbook", "chat"]):
                await pilot.press("escape", key)  # escape leaves a text box; a digit then switches
                await pilot.pause()
                assert app.current_mode == mode

    asyncio.run(run())


def test_handbook_snapshot(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            await pilot.pause()
            app.open_citation("4")
            await until(pilot, lambda: getattr(app.screen, "shown", "") == "cite:4")
            await pilot.pause()
            compare_snapshot(app, "handbook_source_4")

    asyncio.run(run())
