"""`key: value` lines with the reading's field names and their common spellings (`Pack voltage: 52.1 V`,
`SOC 87%`, `Charge MOS: ON`, `current = -12.5 A`, `delta 0.045V`). Names are matched through the shared entity
table and engine.reading's aliases; values through text.field_value (units converted to the reading's).
"""

from __future__ import annotations

import re

from drivers.paste.entities import Target, lookup
from drivers.paste.text import lines_of

NAME = "key-value"
_KV = re.compile(r"^(?P<key>[A-Za-z][\w °%/().#\-]*?)\s*(?:[:=]|\s-\s|\t|\s(?=[-+−]?\d|on\b|off\b|yes\b|no\b|true\b|"
                 r"false\b|jk|jbd|ant|daly|li|lfp|nmc))\s*(?P<val>\S.*?)\s*$", re.IGNORECASE)


def match(line: str) -> tuple[str, Target | None, str] | None:
    """(key, what it names or None, value text) for a key/value line."""
    m = _KV.match(line)
    if not m:
        return None
    key = m.group("key").strip()
    return key, lookup(key), m.group("val")


def detect(text: str) -> float:
    lines = lines_of(text)
    if not lines:
        return 0.0
    known = sum(1 for ln in lines if (m := match(ln)) and m[1] is not None and m[1].kind != "cell")
    if not known:
        return 0.0
    share = known / len(lines)
    return 0.8 if share >= 0.5 else 0.25 + 0.5 * share


def parse(text: str):
    from drivers.paste.freeform import parse_lines

    return parse_lines(lines_of(text))
