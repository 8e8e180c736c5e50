"""Diagnose (finding -> flow -> conclusion with sources) and Chat (question -> cited answer), end to end when their
backends are in the build; when one is missing, its screen must say so plainly (and these tests check that)."""

import asyncio
import importlib.util

from tui_helpers import SIZE, compare_snapshot, make_app, needs, screen_text, shipped_kb, until


def _has(m: str) -> bool:
    try:
        return importlib.util.find_spec(m) is not None
    except (ImportError, ValueError):
        return False


def _finding():
    from engine.report import Finding

    return Finding("regen-charge-fet-off", "critical", "Charge FET off while regen can flow",
                   "The charge FET is off while regen of 30 A can flow.", ["Enable the charge FET before riding."],
                   ["4", "6"], {"charge_fet": False, "max_regen": 30.0})


def test_diagnose_says_plainly_when_flows_are_missing(tmp_path):
    if _has("engine.flows"):
        import pytest

        pytest.skip("engine.flows is in this build: the end-to-end test below covers the screen")

    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.start_diagnosis(finding=_finding())
            await until(pilot, lambda: "[^4]" in screen_text(app))
            assert app.current_mode == "diagnose"
            text = screen_text(app)
            assert "not available in this build" in text
            # the finding it was started from still shows its remedy and sources
            assert "Enable the charge FET" in text and "[^4]" in text
            compare_snapshot(app, "diagnose_unavailable")

    asyncio.run(run())


def test_chat_says_plainly_when_the_dialogue_is_missing(tmp_path):
    if _has("engine.chat"):
        import pytest

        pytest.skip("engine.chat is in this build: the end-to-end test below covers the screen")

    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("6")
            await pilot.pause()
            assert "chat is not available in this build" in screen_text(app)
            assert app.screen.query_one("#chat-input").disabled

    asyncio.run(run())


def test_demo_finding_to_diagnosis_conclusion_with_sources(tmp_path):
    needs("drivers.live", "engine.check", "engine.flows")
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
    needs("engine.chat")
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
