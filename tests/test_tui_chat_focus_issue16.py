"""Issue 16, Chat: coming back to the area puts the keyboard in the question box, so typing there just works."""

import asyncio

from tui_helpers import SIZE, make_app, until


def test_the_chat_input_is_focused_when_you_come_back(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("6")
            await until(pilot, lambda: app.current_mode == "chat" and app.focused is not None)
            assert app.focused.id == "chat-input"
            await pilot.press("escape")  # leave the text box, then switch away with a digit
            await pilot.pause()
            assert getattr(app.focused, "id", None) != "chat-input"
            await pilot.press("1")
            await until(pilot, lambda: app.current_mode == "live")
            await pilot.press("6")
            await until(pilot, lambda: app.current_mode == "chat")
            await pilot.pause()
            assert app.focused is not None and app.focused.id == "chat-input"
            await pilot.press(*"hello 123")  # digits typed now are text, not area switches
            await pilot.pause()
            assert app.current_mode == "chat" and app.focused.text == "hello 123"

    asyncio.run(run())
