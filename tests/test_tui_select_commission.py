"""Select (form -> validated -> ranking with sources) and Commission (checklist step -> saved progress -> export)."""

import asyncio
import json

from tui_helpers import SIZE, compare_snapshot, make_app, screen_text, until


def test_select_form_validates_and_ranks(tmp_path):

    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await pilot.pause()
            scr = app.screen
            assert app.focused.id == "need-series"
            await pilot.press("enter")  # nothing filled in: a one-line error, no ranking
            await pilot.pause()
            assert "Series is required" in screen_text(app)
            assert scr.selection is None
            await pilot.press(*"99", "tab", *"60", "enter")  # 99 S is implausible
            await pilot.pause()
            assert "series must be a number from 1 to 64" in screen_text(app)
            assert scr.query_one("#need-series").has_class("-invalid")
            scr.query_one("#need-series").value = ""
            scr.query_one("#need-series").focus()
            await pilot.press(*"20", "enter")
            await pilot.pause(0.2)
            assert scr.selection is not None
            ranking = scr.selection.ranking
            assert len(ranking) == len(app.kb.families)
            assert {r.verdict for r in ranking} <= {"recommended", "acceptable", "avoid"}
            await until(pilot, lambda: "[^" in screen_text(app))  # the detail cites its sources
            assert ranking[0].name.split()[0] in screen_text(app)
            assert not scr.query_one("#need-series").has_class("-invalid")
            # o opens the family's sources: one opens the handbook, several a picker
            scr.query_one("#sel-ranking").focus()
            await pilot.press("o")
            await pilot.pause(0.2)
            cites = scr.current.citations
            if len(cites) == 1:
                assert app.current_mode == "handbook"
            else:
                assert type(app.screen).__name__ == "CitationPicker"
                await pilot.press("enter")
                await pilot.pause(0.2)
                assert app.current_mode == "handbook" and app.screen.page == f"cite:{cites[0]}"

    asyncio.run(run())


def test_select_snapshot(tmp_path):

    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await pilot.pause()
            await pilot.press(*"20", "tab", *"60", "tab", *"150", "tab", *"120", "enter")
            await pilot.pause(0.3)
            app.screen.query_one("#sel-ranking").focus()
            await until(pilot, lambda: "o Sources" in screen_text(app).splitlines()[-1])  # the footer caught up
            await pilot.pause(0.1)
            compare_snapshot(app, "select_ranking")

    asyncio.run(run())


def test_checklist_progress_is_saved_per_pack_and_exported(tmp_path):
    from engine.checklist import Progress

    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await pilot.pause()
            scr = app.screen
            first = scr.checklist.steps[0]
            assert app.focused.id == "cl-steps"
            await pilot.press("space")  # done
            await pilot.pause()
            saved = json.loads(Progress.path_for("my-pack", scr.checklist.id).read_text())
            assert saved["steps"][first.id]["status"] == "done"
            assert f"1/{len(scr.checklist.steps)} steps" in screen_text(app)
            # another pack starts from nothing; the first keeps its progress
            pack = scr.query_one("#cl-pack")
            pack.value = "wolf-20s"
            pack.focus()
            await pilot.press("enter")
            await pilot.pause()
            assert scr.progress.done == 0
            await pilot.press("f")  # failed
            await pilot.pause()
            saved2 = json.loads(Progress.path_for("wolf-20s", scr.checklist.id).read_text())
            assert saved2["steps"][first.id]["status"] == "failed"
            await pilot.press("e")
            await pilot.pause()
            report = tmp_path / "reports" / f"{Progress.path_for('wolf-20s', scr.checklist.id).stem}.md"
            text = report.read_text()  # the report evaluates the automatic checks
            assert "wolf-20s" in text and "## Sources" in text
        # a new app on the same data dir finds the saved progress
        app2 = make_app(tmp_path)
        async with app2.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await pilot.pause()
            assert app2.screen.progress.steps[first.id].status == "done"

    asyncio.run(run())


def test_checklist_snapshot(tmp_path):

    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await pilot.pause()
            await pilot.press("space")
            await pilot.pause(0.3)
            compare_snapshot(app, "commission_checklist")

    asyncio.run(run())
