"""The Fleet and Health areas open from the keyboard like the other areas (7 and 8), and the help lists them."""

from __future__ import annotations

import asyncio

from tui_helpers import SIZE, make_app, until


def test_keys_7_and_8_open_fleet_and_health(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("7")
            await until(pilot, lambda: type(app.screen).__name__ == "FleetScreen")
            await pilot.press("escape")
            await until(pilot, lambda: type(app.screen).__name__ != "FleetScreen")
            await pilot.press("8")
            await until(pilot, lambda: type(app.screen).__name__ == "HealthScreen")
            await pilot.press("escape")
            await until(pilot, lambda: type(app.screen).__name__ != "HealthScreen")
            await pilot.press("f1")
            await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        from tui.screens.help import GENERAL

        assert "| `7` | Fleet |" in GENERAL and "| `8` | Health |" in GENERAL

    asyncio.run(run())


def test_the_area_bar_shows_fleet_and_health_and_they_open_with_a_click(tmp_path):
    """They were reachable only by key or palette: the top bar listed six areas. At 80 columns all eight fit."""
    async def run():
        from textual.widgets import Static

        app = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            bar = app.screen.query_one("#areas", Static)
            text = str(bar.render())
            assert "7 Fleet" in text and "8 Health" in text and "1 Live" in text
            assert text.rstrip().endswith("8 Health") and len(text.rstrip()) <= bar.size.width  # all of it fits
            x = text.index("7 Fleet") + 2
            await pilot.click("#areas", offset=(x, 0))
            await until(pilot, lambda: type(app.screen).__name__ == "FleetScreen")

    asyncio.run(run())
