"""The Health view: opened from the command palette, over a per-cell CSV typed in, showing the verdicts."""

import asyncio

from tui_helpers import make_app, screen_text, shipped_kb, until

from engine.health import synth


def test_health_view_names_the_weak_cells_and_reports_bad_input(tmp_path):
    kb = shipped_kb()  # the pinned TUI test KB has no content/health.yaml
    pack = synth.make_pack(13, "li-ion", high_r=3, low_capacity=8, seed=91)
    path = synth.write_csv(synth.simulate(pack, synth.cycle(pack, seed=91), seed=91), tmp_path / "pack one.csv")

    async def run():
        app = make_app(tmp_path, kb=kb)
        async with app.run_test(size=(120, 40)) as pilot:
            cmds = [c.title for c in app.get_system_commands(app.screen)]
            assert "Pack health" in cmds
            app.action_health()  # nothing recorded in this data dir: the form asks for files
            await pilot.pause()
            scr = app.screen
            assert type(scr).__name__ == "HealthScreen" and app.focused.id == "health-sources"
            await pilot.press(*"missing.csv", "enter")
            await until(pilot, lambda: scr.error != "")
            assert "missing.csv: no such file" in screen_text(app)
            scr.query_one("#health-sources").value = f"'{path}'"  # a path with a space, quoted as in a shell
            scr.query_one("#health-sources").focus()
            await pilot.press("enter")
            await until(pilot, lambda: scr.report is not None, timeout=30)
            await pilot.pause(0.1)
            verdicts = {c.cell: c.verdict for c in scr.report.cells}
            assert verdicts[3] == "high-resistance" and verdicts[8] == "low-capacity"
            table = scr.query_one("#health-cells")
            assert table.row_count == 13
            text = screen_text(app)
            assert "high-resistance" in text and "low-capacity" in text and "13 cell groups" in text
            await pilot.press("escape")
            await pilot.pause()
            assert type(app.screen).__name__ != "HealthScreen"

    asyncio.run(run())
