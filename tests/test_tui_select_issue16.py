"""Issue 16, Select as a rider uses it: keys typed at normal speed while the demo runs land in their fields, a paste
spreads over the fields (or is refused as a whole), and an old ranking never stays after Clear or an error."""

import asyncio

from textual import events
from tui_helpers import SIZE, make_app, screen_text, until

from engine.reading import Reading

KEYS = {"\t": ("tab", None)}


def burst(app, text: str) -> None:
    """Keys as a terminal delivers them when typed fast: all queued before the app handles the first one."""
    for ch in text:
        key, char = KEYS.get(ch, (ch, ch))
        app.post_message(events.Key(key, char))


def _values(scr) -> list[str]:
    return [scr.query_one(f"#need-{n}").value for n in ("series", "continuous", "peak", "regen")]


def _live_readings(app, n: int) -> None:
    from tui.messages import LiveReading

    for i in range(n):
        app.post_message(LiveReading(Reading.parse({"bms": "jk", "cells": [3.9] * 13, "current": -10 - i})))


def test_typing_20_tab_70_tab_150_fast_while_readings_arrive(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await until(pilot, lambda: app.current_mode == "select" and app.focused is not None)
            scr = app.screen
            _live_readings(app, 5)  # the demo keeps the app busy meanwhile
            burst(app, "20\t70\t150")
            _live_readings(app, 5)
            await until(pilot, lambda: _values(scr)[2] == "150" or len(_values(scr)[0]) > 2)
            assert _values(scr) == ["20", "70", "150", ""]

    asyncio.run(run())


def test_a_paste_spreads_over_the_fields_or_is_refused_whole(tmp_path):
    from textual.notifications import Notify

    async def run():
        app = make_app(tmp_path)
        seen = []
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await pilot.press("3")
            await until(pilot, lambda: app.current_mode == "select" and app.focused is not None)
            scr = app.screen
            app.focused.post_message(events.Paste("20 70 150"))
            await until(pilot, lambda: _values(scr)[2] != "")
            assert _values(scr) == ["20", "70", "150", ""]
            await pilot.press("ctrl+l")
            await pilot.pause()
            app.focused.post_message(events.Paste("20S\t70A\t150A\t30"))  # a copied table row, with units
            await until(pilot, lambda: _values(scr)[3] != "")
            assert _values(scr) == ["20S", "70A", "150A", "30"]
            await pilot.press("ctrl+l")
            await pilot.pause()
            scr.query_one("#need-continuous").focus()
            await pilot.pause()
            app.focused.post_message(events.Paste("70 150 30 99"))  # one value too many from Continuous on
            await pilot.pause(0.2)
            assert _values(scr) == ["", "", "", ""]
            notes = [m.notification.message for m in seen if isinstance(m, Notify)]
            assert any("nothing was changed" in n for n in notes), notes
            app.focused.post_message(events.Paste("70 lots"))
            await pilot.pause(0.2)
            notes = [m.notification.message for m in seen if isinstance(m, Notify)]
            assert _values(scr) == ["", "", "", ""] and any("not a number" in n for n in notes), notes

    asyncio.run(run())


def test_the_old_ranking_goes_after_clear_and_after_an_error(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            await until(pilot, lambda: app.current_mode == "select" and app.focused is not None)
            scr = app.screen
            await pilot.press(*"20", "tab", *"70", "enter")
            await until(pilot, lambda: scr.selection is not None)
            name = scr.selection.ranking[0].name
            await until(pilot, lambda: name in screen_text(app))
            await pilot.press("ctrl+l")
            await pilot.pause(0.2)
            assert scr.selection is None and scr.query_one("#sel-ranking").option_count == 0
            assert name not in screen_text(app)
            await pilot.press(*"20", "tab", *"70", "enter")
            await until(pilot, lambda: scr.selection is not None)
            scr.query_one("#need-series").value = "99"  # then a mistake: the ranking for 20S must not stay
            scr.query_one("#need-series").focus()
            await pilot.press("enter")
            await pilot.pause(0.2)
            text = screen_text(app)
            assert "series must be a number from 1 to 64" in text
            assert scr.selection is None and name not in text

    asyncio.run(run())
