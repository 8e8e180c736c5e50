"""A content directory for the flow tests: the shipped content/ when it validates, otherwise the pinned TUI test
knowledge base (tests/data/tui_kb) with the shipped content/flows dropped in, so the flows are tested on their own
while the rest of content/ is still being written. In that fallback, links from flows to rule and guide ids are
left out (the pinned KB has other rules); everything else in the flows is tested as shipped."""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

from kb.errors import KBInvalid
from kb.load import CONTENT_DIR, load_kb

PINNED = Path(__file__).parent / "data" / "tui_kb"
_LINKS = re.compile(r"^\s*(rules|guides): \[[^\]]*\]\s*\n", re.M)


@functools.lru_cache(maxsize=1)
def shipped_content_validates() -> bool:
    try:
        load_kb(CONTENT_DIR, use_cache=False)
        return True
    except KBInvalid:
        return False


def build_content(dst: Path) -> Path:
    """Write a validating content directory with the shipped flows into `dst` and return it."""
    if shipped_content_validates():
        shutil.copytree(CONTENT_DIR, dst)
        return dst
    shutil.copytree(PINNED, dst)
    shutil.copytree(CONTENT_DIR / "flows", dst / "flows")
    for p in (dst / "flows").glob("*.yaml"):
        p.write_text(_LINKS.sub("", p.read_text(encoding="utf-8")), encoding="utf-8")
    return dst


def line_of(text: str, needle: str, start: int = 1) -> int:
    """1-based number of the first line at or after `start` that contains `needle`."""
    for i, line in enumerate(text.splitlines(), 1):
        if i >= start and needle in line:
            return i
    raise AssertionError(f"{needle!r} not in the text")


def col_of(text: str, line: int, needle: str) -> int:
    return text.splitlines()[line - 1].index(needle) + 1
