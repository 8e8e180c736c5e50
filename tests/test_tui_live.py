"""The live dashboard: a stream of readings -> cells, figures, trends and findings; coalescing; snapshots."""

import asyncio

from tui_helpers import SIZE, compare_snapshot, make_app, screen_text

from engine.reading import Reading


def regen_fet_off(i: int = 0) -> Reading:
    cells = [4.02 - 0.002 * (k % 3) for k in range(20)]
    cells[6] = 3.97
    return Reading.parse({
        "bms": "jk", "series": 20, "chemistry": "li-ion", "cells": cells, "pack_voltage": round(sum(cells), 2),
        "current": 28.0 + i, "soc": 81, "temperatures": [31, 33], "mos_temp": 41, "charge_fet": False,
        "discharge_fet": True, "balancing": False, "state": "riding",
    })


def healthy(i: int = 0) -> Reading:
    cells = [3.95 + 0.001 * (k % 2) for k in range(20)]
    return Reading.parse({
        "bms": "jk", "series": 20, "cells": cells, "pack_voltage": round(sum(cells), 2), "current": -12.0 - i % 5,
        "soc": 70, "temperatures": [29, 30], "mos_temp": 33, "charge_fet": True, "discharge_fet": True,
        "balancing": False, "state": "riding",
    })


def test_replay_stream_shows_cells_current_and_a_cited_critical_finding(tmp_path):

    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.start_source({"kind": "replay", "name": "regen test", "readings": [healthy(i) for i in range(3)]
                              + [regen_fet_off(i) for i in range(5)], "hz": 50})
            for _ in range(40):
                await pilot.pause(0.05)
                if app.live.status == "ended":
                    break
            live = app.live
            assert live.status == "ended" and live.seq >= 2
            text = screen_text(app)
            assert "REGEN" in text and "Charge FET ○ OFF" in text
            assert " 7 " in text and " L" in text  # cell 7 is the lowest, marked L
            fs = live.findings()
            crit = [f for f in fs if f.severity == "critical"]
            assert crit, f"no critical finding for regen with the charge FET off: {[f.rule for f in fs]}"
            assert "4" in crit[0].citations
            assert fs[0].severity == "critical"  # most severe first
            assert crit[0].title in text
            # expand it: message, evidence, remedy and sources
            app.screen.query_one("FindingCard").focus()
            await pilot.press("enter")
            await pilot.pause()
            text = screen_text(app)
            assert "Evidence:" in text and "Remedy:" in text and "[^4]" in text
            # its sources open the handbook
            await pilot.press("o")
            await pilot.pause(0.2)
            if app.current_mode != "handbook":
                await pilot.press("enter")
                await pilot.pause(0.2)
            assert app.current_mode == "handbook" and app.screen.page.startswith("cite:")

    asyncio.run(run())


def test_a_fast_stream_is_coalesced_and_never_backs_up(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            from tui.messages import LiveReading

            for i in range(200):  # a burst far faster than the UI: newer readings replace queued ones
                app.post_message(LiveReading(healthy(i)))
            await pilot.pause(0.3)
            assert 1 <= app.live.seq < 200
            assert app.live.reading.current == healthy(199).current  # the newest one won

    asyncio.run(run())


def test_paste_source_and_bad_paste_is_one_line(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.start_source({"kind": "paste", "reading": regen_fet_off()})
            await pilot.pause()
            assert app.live.status == "pasted" and app.live.reading is not None
            assert "pasted reading" in screen_text(app)

    asyncio.run(run())


def test_dashboard_snapshot(tmp_path):

    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            # fed directly (not through the timed stream) so that every run handles exactly the same readings
            app.live.reset({"kind": "replay"}, "replay of the regen test", "regen test")
            for r in [healthy(i) for i in range(6)] + [regen_fet_off(i) for i in range(6)]:
                app._handle_reading(r)
            app.live.status = "connected"
            app.live_tick += 1
            await pilot.pause()
            app.screen.query_one("FindingCard").focus()
            await pilot.press("enter")
            await pilot.pause(0.2)
            compare_snapshot(app, "live_regen_fet_off")

    asyncio.run(run())


def test_readings_queued_by_a_stopped_source_are_dropped(tmp_path):
    async def run():
        from tui.messages import LiveReading

        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            old = app.generation
            app.start_source({"kind": "paste", "reading": healthy()})
            await pilot.pause()
            app.post_message(LiveReading(regen_fet_off(), generation=old))  # late, from the previous source
            await pilot.pause()
            assert app.live.reading == healthy() and app.live.seq == 1

    asyncio.run(run())
