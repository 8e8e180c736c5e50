"""Shared helpers of the TUI tests (not a test module)."""

from __future__ import annotations

import os
import re
from pathlib import Path

SNAPSHOTS = Path(__file__).parent / "snapshots"
SIZE = (100, 30)


def kb():
    from kb.load import load_kb

    return load_kb(os.environ.get("BMSDOC_TEST_CONTENT") or None)


def make_app(tmp_path, **kw):
    from tui.app import BmsDocApp

    kw.setdefault("autostart", False)
    kw.setdefault("animate", False)
    kw.setdefault("kb", kb())
    return BmsDocApp(data_dir=tmp_path, **kw)


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
            raise AssertionError(f"snapshot {path.name} did not exist: written now, check it and run again")
        return
    expected = path.read_text(encoding="utf-8")
    if svg != expected:
        (SNAPSHOTS / f"{name}.actual.svg").write_text(svg, encoding="utf-8")
        text = screen_text(app)
        raise AssertionError(f"snapshot {name} differs (see {name}.actual.svg; BMSDOC_UPDATE_SNAPSHOTS=1 to accept)."
                             f" The screen now shows:\n{text}")
