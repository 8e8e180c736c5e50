"""Shared helpers of the TUI tests (not a test module)."""

from __future__ import annotations

import os
import re
from pathlib import Path

SNAPSHOTS = Path(__file__).parent / "snapshots"
FIXTURE_KB = Path(__file__).parent / "data" / "tui_kb"
SIZE = (100, 30)


def fixture_kb():
    """The pinned test knowledge base: screens and snapshots do not change when content/ is edited."""
    from kb.load import load_kb

    return load_kb(FIXTURE_KB)


def shipped_kb():
    """The real content/, for end-to-end runs; a content/ that does not validate fails the test (see conftest.py)."""
    from conftest import load_shipped_kb

    return load_shipped_kb()


def make_app(tmp_path, **kw):
    from tui.app import BmsDocApp

    kw.setdefault("autostart", False)
    kw.setdefault("animate", False)
    if "kb" not in kw:
        kw["kb"] = fixture_kb()
    return BmsDocApp(data_dir=tmp_path, **kw)


async def until(pilot, predicate, timeout: float = 10.0) -> None:
    """Wait until `predicate()` holds (rendering is asynchronous; a loaded machine is slow), or fail."""
    import time

    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {getattr(predicate, '__name__', 'a condition')}")
        await pilot.pause(0.05)


def screen_text(app) -> str:
    """What the terminal shows, as plain text (for asserting on what a user reads)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(seg.text for seg in strip) for strip in strips)


def normalise_svg(svg: str) -> str:
    svg = re.sub(r"terminal-\d+-", "terminal-", svg)
    svg = re.sub(r"terminal-\d+\b", "terminal", svg)
    return svg


def compare_snapshot(app, name: str) -> None:
    """Compare the app's screen with tests/snapshots/NAME.svg; BMSDOC_UPDATE_SNAPSHOTS=1 rewrites it."""
    svg = normalise_svg(app.export_screenshot(title="bmsdoc"))
    path = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("BMSDOC_UPDATE_SNAPSHOTS") or not path.exists():
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        path.write_text(svg, encoding="utf-8")
        if not os.environ.get("BMSDOC_UPDATE_SNAPSHOTS"):
            raise AssertionError(f"snapshot {path.name} did not exist: written now; look at it and commit it")
        return
    expected = path.read_text(encoding="utf-8")
    if svg != expected:
        (SNAPSHOTS / f"{name}.actual.svg").write_text(svg, encoding="utf-8")
        text = screen_text(app)
        raise AssertionError(f"snapshot {name} differs (see {name}.actual.svg; BMSDOC_UPDATE_SNAPSHOTS=1 to accept)."
                             f" The screen now shows:\n{text}")
