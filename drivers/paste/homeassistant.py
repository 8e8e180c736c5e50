"""A Home Assistant device page copied as text: name and value on alternating lines, values localised
(`3,290 V`), section titles (Sensors, Controls, ...) in between. The names are the BMS integration's entities,
so they are matched like ESPHome entity names. Current is taken as the integration shows it (positive = charging,
as ESPHome's BMS components and aiobmsble report it).
"""

from __future__ import annotations

from drivers.paste.entitymap import collect
from drivers.paste.parsed import Parsed
from drivers.paste.text import lines_of, number_unit
from engine.reading import BOOL_WORDS
from kb.untrusted import shown

NAME = "home-assistant"
_NO_VALUE = {"unavailable", "unknown", "nan", "-nan", "n/a", "none", "—", "-"}  # an entity without a reading
_STATES = set(BOOL_WORDS) | _NO_VALUE | {"charging", "discharging", "idle"}


def _is_value(line: str) -> bool:
    if line.strip().lower() in _STATES:
        return True
    nu = number_unit(line)
    return nu is not None and len(nu[2]) <= 3  # '3,290 V', '87 %', '21.5 °C'; not '3.86 high and rising'


def _pairs(text: str) -> list[tuple[str, str]]:
    lines = lines_of(text)
    out = []
    for prev, line in zip(lines, lines[1:]):
        if _is_value(line) and not _is_value(prev) and ":" not in prev and len(prev) <= 80:
            out.append((prev, line))
    return out


def detect(text: str) -> float:
    lines = lines_of(text)
    pairs = _pairs(text)
    if len(pairs) < 3:
        return 0.0
    return 0.9 if len(pairs) * 2 >= 0.6 * len(lines) else 0.4


def parse(text: str) -> Parsed:
    p = Parsed(format=NAME)
    pairs = _pairs(text)
    empty = [n for n, v in pairs if v.strip().lower() in _NO_VALUE]
    pairs = [(n, v) for n, v in pairs if v.strip().lower() not in _NO_VALUE]
    p.note(f"{len(pairs)} name/value pairs read; decimal commas read as decimal points")
    if empty:
        p.unsure(f"{len(empty)} entities without a value (NaN/unavailable), left out: "
                 + ", ".join(shown(n, 40) for n in empty[:4]) + (" ..." if len(empty) > 4 else ""))
    collect(pairs, p)
    from drivers.paste.esphome import _alarm_words

    _alarm_words(p)
    if "current" in p.fields:
        p.note("current as the integration shows it: positive = charging")
    return p
