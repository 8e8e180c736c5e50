"""`key: value` lines with the reading's field names and their common spellings (`Pack voltage: 52.1 V`,
`SOC 87%`, `Charge MOS: ON`, `current = -12.5 A`, `delta 0.045V`). Names are matched through the shared entity
table and engine.reading's aliases; values through text.field_value (units converted to the reading's).
"""

from __future__ import annotations

import re

from drivers.paste.entities import Target, lookup
from drivers.paste.text import lines_of
from engine.reading import BOOL_WORDS
from kb.fields import FIELDS

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


_TOK = re.compile(r"[^\s,;|]+")
_KEY_WORDS = 4  # the longest name in tokens ("cell high protect voltage")
_VALUE_WORDS = 4  # a value runs up to the next name, at most this many tokens ("Cell Overvoltage", "49.1 V")


_NUMBER_START = re.compile(r"^[-+−]?\.?\d")


def _fits(t: Target, value: str) -> bool:
    """A value that can be this name's: a number for a number, on/off for a switch (text fields take anything)."""
    if t.kind in ("summary", "signed_current", "temp"):
        return bool(_NUMBER_START.match(value))
    spec = FIELDS.get(t.name) if t.kind == "field" else None
    if spec is None:
        return True
    if spec.kind in ("number", "int", "list"):
        return bool(_NUMBER_START.match(value))
    if spec.kind == "bool":
        return value.split()[0].lower().strip(",.;") in BOOL_WORDS
    return True


def pairs(line: str) -> list[tuple[str, Target, str]]:
    """Several `name value` pairs on one line, as app screens lay them out (`Voltage 67.18V  Current -6.4A  SOC
    100%`, `Charge: OFF   Discharge: ON`, `Charge ON, Discharge OFF`): (key, target, value) each, or [] when the
    line is not made only of such pairs (then it is read as one key/value line, or not at all)."""
    if len(line) > MAX_LINE:
        return []
    toks = [(m.start(), m.end()) for m in _TOK.finditer(line)]
    seen: dict[int, tuple[int, str, Target] | None] = {}

    def key_at(i: int) -> tuple[int, str, Target] | None:
        if i in seen:
            return seen[i]
        found = None
        for k in range(min(_KEY_WORDS, len(toks) - i), 0, -1):
            key = line[toks[i][0]:toks[i + k - 1][1]].rstrip(":=")
            if not key[:1].isalpha() or i + k >= len(toks) and not line[toks[i + k - 1][1] - 1:].startswith(":"):
                continue
            t = lookup(key)
            if t is not None and t.kind != "cell":  # numbered cells are indexed runs (cells.indexed_run)
                found = (k, key, t)
                break
        seen[i] = found
        return found

    out: list[tuple[str, Target, str]] = []
    i = 0
    if key_at(0) is None:  # a label first: "JK app: Charge ON, Discharge OFF"
        i = next((n + 1 for n in range(min(3, len(toks))) if line[toks[n][1] - 1] == ":"), 0)
    while i < len(toks):
        got = key_at(i)
        if got is None:
            return []  # a word that is neither a name nor a value: not a line of pairs
        k, key, t = got
        j = end = i + k
        while end < len(toks) and end - j < _VALUE_WORDS and not (end > j and key_at(end)):
            end += 1
        if end == j:
            return []
        value = line[toks[j][0]:toks[end - 1][1]].strip(" :=")
        if not value or not _fits(t, value):
            return []  # "regen battery current: -60 A" is one name, not "regen" = "battery" and "current" = -60
        out.append((key, t, value))
        i = end
    return out if len(out) >= 2 else []


def detect(text: str) -> float:
    lines = lines_of(text)
    if not lines:
        return 0.0
    known = sum(1 for ln in lines if pairs(ln) or (m := match(ln)) and m[1] is not None and m[1].kind != "cell")
    if not known:
        return 0.0
    share = known / len(lines)
    return 0.8 if share >= 0.5 else 0.25 + 0.5 * share


def parse(text: str):
    from drivers.paste.freeform import parse_lines

    return parse_lines(lines_of(text))
