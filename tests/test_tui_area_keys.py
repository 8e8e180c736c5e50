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
