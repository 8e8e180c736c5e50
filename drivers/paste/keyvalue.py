"""`key: value` lines with the reading's field names and their common spellings (`Pack voltage: 52.1 V`,
`SOC 87%`, `Charge MOS: ON`, `current = -12.5 A`, `delta 0.045V`). Names are matched through the shared entity
table and engine.reading's aliases; values through text.field_value (units converted to the reading's).
"""

from __future__ import annotations

import re

from drivers.paste.entities import Target, lookup
from drivers.paste.text import lines_of

NAME = "key-value"
MAX_LINE = 400  # a key/value line of a BMS screen is short; longer lines are not tried (bounds the regex work)
# The key is bounded ({0,63}) and the value is taken to the end of the line and stripped in Python, so no part
# of the pattern can backtrack over more than the key: matching is linear in the line.
_KV = re.compile(r"^(?P<key>[A-Za-z][\w °%/().#\-]{0,63}?)[ \t]*(?P<sep>[:=]|\s-\s|\t|\s(?=[-+−]?\d|on\b|off\b|"
                 r"yes\b|no\b|true\b|false\b|jk|jbd|ant|daly|li|lfp|nmc))[ \t]*(?P<val>\S.*)$", re.IGNORECASE)
_INDEX = re.compile(r"\d{1,3}")
_WS = re.compile(r"[ \t]+")


def _squeeze(line: str) -> str:
    """Runs of blanks become one (a tab if the run has one): then the key's blanks and the separator's cannot
    trade characters, which is what made the pattern polynomial on lines of many spaces."""
    return _WS.sub(lambda m: "\t" if "\t" in m.group() else " ", line)


def match(line: str) -> tuple[str, Target | None, str] | None:
    """(key, what it names or None, value text) for a key/value line."""
    if len(line) > MAX_LINE:
        return None
    m = _KV.match(_squeeze(line))
    if not m:
        return None
    key = m.group("key").strip()
    val = m.group("val").rstrip()
    target = lookup(key)
    if m.group("sep").strip() == "" and target is not None and target.kind == "field" \
            and target.name in ("cells", "temperatures") and _INDEX.fullmatch(val):
        return None  # `Cell voltage 1`, `Temperature 2`: an entity name ending in its index, not a value
    return key, target, val


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
