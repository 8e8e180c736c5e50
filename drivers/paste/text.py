"""Text clean-up and numbers-with-units, shared by the line-based parsers."""

from __future__ import annotations

import functools
import re
from typing import Any

from engine.reading import BOOL_WORDS, CHEMISTRY_ALIASES, FAMILY_ALIASES
from kb.fields import FIELDS

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MARKDOWN_LEAD = re.compile(r"[ \t]*(?:>|[-*+•·](?=[ \t]+\S))")  # one quote mark or bullet at a position
_EMPHASIS = re.compile(r"\*\*|__|`|~~")

# a number with an optional unit; decimal comma allowed; unicode minus too
NUMBER = r"[-+−]?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?"
UNIT = r"mv|v|ma|a|°c|ºc|℃|c|°f|%|w|ah|mah|s|ms|ω|ohm|mω"
VALUE = re.compile(rf"^\s*(?P<num>{NUMBER})\s*(?P<unit>{UNIT})?(?![a-z0-9])\s*(?P<rest>.*)$", re.IGNORECASE)


# A list item never starts inside a digit run ((?<![0-9])) and its digits are possessive (++): a long run of digits
# followed by a letter is then given up on once, not retried from every digit with every split (which took
# minutes on a 20,000-digit value).
_LIST_NUMBER = r"[-+−]?(?<![0-9])\d++(?:[.,]\d++)?+(?:[eE][-+]?\d++)?+"
_LIST_ITEM = re.compile(rf"(?P<num>{_LIST_NUMBER})\s*(?P<unit>mv|v|°c|ºc|℃|c|°f)?(?![a-z0-9])", re.IGNORECASE)


def clean_text(text: str) -> str:
    """Drop ANSI colour codes, non-breaking spaces and Windows line ends."""
    text = ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2009", " ")


def strip_markdown(line: str) -> str:
    """`> **5) 3.75**` -> `5) 3.75`: quote marks, bullets, emphasis and code ticks go."""
    pos = 0  # one pass: each quote mark or bullet is stepped over once (the old loop re-scanned the line per mark)
    while m := _MARKDOWN_LEAD.match(line, pos):
        pos = m.end()
    return _EMPHASIS.sub("", line[pos:]).strip()


def lines_of(text: str) -> list[str]:
    """The non-empty lines, cleaned. Every shape's detect() asks for them: they are computed once per text."""
    return list(_lines(text))


@functools.lru_cache(maxsize=4)
def _lines(text: str) -> tuple[str, ...]:
    return tuple(ln for ln in (strip_markdown(x) for x in clean_text(text).split("\n") if x.strip()) if ln)


def to_float(num: str) -> float:
    return float(num.replace("−", "-").replace(",", "."))


def number_unit(s: str) -> tuple[float, str, str] | None:
    """'4150 mV' -> (4150.0, 'mv', ''); '3.864 high' -> (3.864, '', 'high'); None when s does not start with a number."""
    m = VALUE.match(s)
    if not m:
        return None
    unit = (m.group("unit") or "").lower().replace("º", "°").replace("℃", "°c")
    return to_float(m.group("num")), unit, m.group("rest").strip()


def in_units(name: str, x: float, unit: str) -> float | None:
    """x in the field's unit, or None when the unit cannot belong to that field (a volt value for a current...)."""
    want = FIELDS[name].unit
    if unit in ("mv", "ma"):
        x, unit = x / 1000.0, unit[1:]
    if unit in ("°c", "c"):
        unit = "°C"
    if unit == "°f":
        x, unit = (x - 32) * 5 / 9, "°C"
    if not unit:
        return x
    if want == "V" and unit == "v" or want == "A" and unit == "a" or want == "°C" and unit == "°C" \
            or want == "%" and unit == "%":
        return x
    if want == "" and unit == "%" and name == "duty":
        return x / 100.0
    return None


def field_value(name: str, raw: Any) -> tuple[Any, str | None]:
    """(value in the reading's units, problem) for one field from loose text; value None means left out."""
    spec = FIELDS[name]
    if not isinstance(raw, str):
        return raw, None
    s = raw.strip().strip("'\"").strip()
    if spec.kind == "bool":
        w = s.lower().rstrip(".")
        if w in BOOL_WORDS:
            return BOOL_WORDS[w], None
        nu = number_unit(s)
        if nu and nu[0] in (0, 1) and not nu[2]:
            return bool(nu[0]), None
        return None, f"{name}: '{s}' is not on/off"
    if spec.kind in ("number", "int"):
        nu = number_unit(s)
        if nu is None:
            return None, f"{name}: '{s}' is not a number"
        if nu[2][:1] == ":" and nu[2][1:2].isdigit():  # `14:22:05.123` (a log's timestamp) is no reading value
            return None, f"{name}: '{s[:20]}' is a time of day, not a number"
        x = in_units(name, nu[0], nu[1])
        if x is None:
            return None, f"{name}: '{s}' has a unit that does not fit ({spec.unit or 'no unit'} expected)"
        if spec.kind == "int":
            return int(round(x)), None
        return round(x, 6), None
    if spec.kind == "list":
        found = list(_LIST_ITEM.finditer(s))
        leftover = _LIST_ITEM.sub("", s)
        if not found or re.sub(r"[\s;,\[\]]", "", leftover):
            return None, f"{name}: '{s}' is not a list of numbers"
        vals = []
        for m in found:
            x, unit = to_float(m.group("num")), (m.group("unit") or "").lower()
            conv = in_units(name, x, unit.replace("º", "°").replace("℃", "°c"))
            if conv is None:
                return None, f"{name}: '{m.group(0).strip()}' has a unit that does not fit"
            vals.append(round(conv, 4))
        return vals, None
    if name == "bms":
        fam = FAMILY_ALIASES.get(s.lower())
        return (fam, None) if fam else (None, f"bms: '{s}' is not a known family")
    if name == "chemistry":
        chem = CHEMISTRY_ALIASES.get(s.lower())
        return (chem, None) if chem else (None, f"chemistry: '{s}' is not known (li-ion, lifepo4)")
    if spec.kind == "enum":
        w = s.lower()
        return (w, None) if w in spec.values else (None, f"{name}: '{s}' is not one of {', '.join(spec.values)}")
    return s, None
