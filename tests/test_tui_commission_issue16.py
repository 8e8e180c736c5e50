"""Issue 16, Commission as a rider uses it: keys typed in the detail pane never mark a step or switch areas, taps
without the pack's series are not confirmed, the report says where its "pass" checks came from."""

import asyncio

from tui_helpers import SIZE, make_app, screen_text, until

from engine.reading import Reading


def _step_index(scr, step_id):
    return next(i for i, s in enumerate(scr.checklist.steps) if s.id == step_id)


def test_keys_typed_in_the_detail_pane_never_mark_steps_or_switch_areas(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await until(pilot, lambda: app.current_mode == "commission" and app.focused is not None)
            scr = app.screen
            first = scr.checklist.steps[0]
            await pilot.press("f")  # the first step failed
            await pilot.pause()
            assert scr.progress.steps[first.id].status == "failed"
            scr.query_one("#cl-steps").highlighted = 0
            scr.query_one("#cl-detail-scroll").focus()
            await pilot.pause()
            await pilot.press("space", "1", "space", "2", "space", "z", "u", "f", "3")
            await pilot.pause()
            assert app.current_mode == "commission"  # digits did not switch areas
            assert scr.progress.steps[first.id].status == "failed"  # and it never became done
            assert scr.progress.done == 0

    asyncio.run(run())


def test_tap_voltages_typed_in_the_detail_pane_go_to_the_taps_box(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await until(pilot, lambda: app.current_mode == "commission" and app.focused is not None)
            scr = app.screen
            taps_step = next(s for s in scr.checklist.steps if s.measure is not None)
            scr.query_one("#cl-steps").highlighted = _step_index(scr, taps_step.id)
            await pilot.pause()
            scr.query_one("#cl-detail-scroll").focus()
            await pilot.press(*"0 3.6 7.2")
            await pilot.pause()
            assert app.focused.id == "cl-taps" and app.focused.value == "0 3.6 7.2"
            assert app.current_mode == "commission"

    asyncio.run(run())


def test_taps_on_a_pack_with_no_series_are_not_confirmed_nor_done(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await until(pilot, lambda: app.current_mode == "commission" and app.focused is not None)
            scr = app.screen
            taps_step = next(s for s in scr.checklist.steps if s.measure is not None)
            scr.query_one("#cl-steps").highlighted = _step_index(scr, taps_step.id)
            await pilot.pause()
            assert "Series box" in screen_text(app)  # it asks for the series
            box = scr.query_one("#cl-taps")
            box.focus()
            await pilot.press(*"0 3.6 7.2", "enter")
            await pilot.pause()
            st = scr.progress.steps[taps_step.id]
            assert st.status != "done" and st.taps == [0, 3.6, 7.2]
            text = screen_text(app)
            assert "lead order is right" not in text and "cannot be confirmed" in text
            # with the series given the same taps confirm a 2S pack
            series = scr.query_one("#cl-series")
            series.focus()
            await pilot.press("2", "enter")
            await pilot.pause()
            assert scr.progress.series == 2
            scr.query_one("#cl-steps").highlighted = _step_index(scr, taps_step.id)
            box.value = ""
            box.focus()
            await pilot.press(*"0 3.6 7.2", "enter")
            await pilot.pause()
            assert scr.progress.steps[taps_step.id].status == "done"
        app2 = make_app(tmp_path)  # the series is saved with the pack
        async with app2.run_test(size=SIZE) as pilot:
            await pilot.press("4")
            await until(pilot, lambda: app2.current_mode == "commission" and app2.focused is not None)
            assert app2.screen.progress.series == 2 and app2.screen.query_one("#cl-series").value == "2S"

    asyncio.run(run())


def test_the_reports_pass_checks_say_they_came_from_the_demo_reading(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.live.reset({"kind": "demo", "family": "jk", "scenario": "healthy-ride"},
                           "virtual JK BMS, scenario healthy-ride", "demo jk/healthy-ride")
            app._handle_reading(Reading.parse({"bms": "jk", "cells": [3.9] * 13, "charge_fet": True,
                                               "discharge_fet": True}))
            await pilot.press("4")
            await until(pilot, lambda: app.current_mode == "commission" and app.focused is not None)
            scr = app.screen
            checked = next(s for s in scr.checklist.steps if s.checks)
            scr.query_one("#cl-steps").highlighted = _step_index(scr, checked.id)
            await pilot.pause(0.2)
            assert "the virtual BMS, not your pack" in screen_text(app)
            await pilot.press("e")
            await until(pilot, lambda: bool(app.screen.last_export))
            from pathlib import Path

            report = Path(app.screen.last_export).read_text()
            passes = [ln for ln in report.splitlines() if "**pass**" in ln]
            assert passes and all("from the demo reading (virtual JK BMS, scenario healthy-ride)" in ln for ln in passes)
            assert "not a measurement of this pack" in report

    asyncio.run(run())
