"""Diagnose (finding -> flow -> conclusion with sources) and Chat (question -> cited answer), end to end."""

import asyncio

from tui_helpers import SIZE, make_app, screen_text, shipped_kb, until


def test_demo_finding_to_diagnosis_conclusion_with_sources(tmp_path):
    kb = shipped_kb()

    async def run():
        app = make_app(tmp_path, kb=kb)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.start_source({"kind": "demo", "family": "jk", "scenario": "regen-charge-fet-off", "speed": 4.0})
            for _ in range(200):
                await pilot.pause(0.05)
                if any(f.severity == "critical" for f in app.live.findings()):
                    break
            crit = [f for f in app.live.findings() if f.severity == "critical"]
            assert crit, f"the demo never raised a critical finding (status {app.live.status}: {app.live.detail})"
            app.screen.query_one("FindingCard").focus()
            await pilot.press("d")
            await pilot.pause(0.3)
            assert app.current_mode == "diagnose"
            scr = app.screen
            assert scr.runner is not None, "no diagnosis flow starts from the critical demo finding"
            for _ in range(30):
                step = scr.runner.current()
                if step is None or step["kind"] == "conclude":
                    break
                if step["options"]:
                    await pilot.press("enter")
                else:
                    await pilot.press(*"3.5", "enter")
                await pilot.pause(0.1)
            step = scr.runner.current()
            assert step is not None and step["kind"] == "conclude"
            assert step["citations"]
            await until(pilot, lambda: "Conclusion" in screen_text(app) and "[^" in screen_text(app))
            app.stop_source()

    asyncio.run(run())


def test_chat_question_gets_a_cited_answer(tmp_path):
    kb = shipped_kb()

    async def run():
        app = make_app(tmp_path, kb=kb)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("6")
            await pilot.pause()
            await pilot.press(*"why does my scooter cut out when I brake hard?")
            await pilot.press("ctrl+j")
            for _ in range(100):
                await pilot.pause(0.05)
                if not app.screen.busy:
                    break
            scr = app.screen
            answers = [h for h in scr.history if h["role"] == "assistant"]
            assert answers, f"no answer: {scr.history}"
            assert answers[-1]["result"]["citations"]
            await until(pilot, lambda: "[^" in screen_text(app))

    asyncio.run(run())
