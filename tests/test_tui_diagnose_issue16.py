"""Issue 16, Diagnose at 80x24 and 120x40: every question is shown whole (wrapped, never cut off), and "why this
question?" opens in the step pane without covering the answers."""

import asyncio

import pytest
from tui_helpers import make_app, screen_text, shipped_kb, until


def right_pane(app) -> str:
    """The text right of the symptom list, lines joined as a reader reads wrapped text."""
    rows = [line.split("│", 1)[1] if "│" in line else "" for line in screen_text(app).splitlines()[1:-1]]
    return " ".join(" ".join(rows).split())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_questions_wrap_and_why_keeps_the_options_visible(tmp_path, size):
    kb = shipped_kb()

    async def run():
        app = make_app(tmp_path, kb=kb)
        async with app.run_test(size=size) as pilot:
            await pilot.press("2")
            await until(pilot, lambda: app.current_mode == "diagnose")
            scr = app.screen
            scr.start("cutout")
            seen = 0
            for _ in range(6):
                await pilot.pause()
                step = scr.runner.current()
                if step is None or step["kind"] == "conclude":
                    break
                question = " ".join(step["question"].split())
                await until(pilot, lambda q=question: q in right_pane(app))
                seen += 1
                if seen == 2:  # why: shown in the pane, the answers stay on screen
                    await pilot.press("w")
                    await pilot.pause(0.2)
                    text = right_pane(app)
                    assert "Why this question?" in text
                    for opt in step.get("options") or []:
                        assert " ".join(str(opt["label"]).split()) in text
                    assert app.focused.id == "dx-options"
                    await pilot.press("w")
                    await pilot.pause(0.2)
                    assert "Why this question?" not in right_pane(app)
                scr.answer(len(step.get("options") or [1]) - 1)  # the last option: the longest walk
            assert seen >= 2

    asyncio.run(run())
