"""Cell voltages the way riders paste them.

Numbered (`1) 4.16`, `01: 3.78`, `Cell 2: 3.28`, `9.  4.204` then `0.  4.205` for cell 10), bare vertical lists,
inline lists (`3.91, 3.90 3.89.`), mV integers, decimal commas, notes after values (`3.864 high`), and
cumulative tap voltages measured from B- (`0.25 4.14 8.26 12.37`: rising by one cell each, so differences are
taken). Markdown decoration is stripped before lines get here (text.lines_of).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from drivers.paste.parsed import Parsed
from drivers.paste.text import NUMBER, lines_of, to_float

NAME = "cell-list"

_UNIT = r"(?:mv|v)?"
_NUMBERED = re.compile(
    rf"^(?:(?:cell|c|#|no\.?|v)\s*)?0*(?P<idx>\d{{1,2}})\s*(?:[):=\-]|\.\s)\s*(?P<num>{NUMBER})\s*(?P<unit>{_UNIT})(?![a-z0-9])"
    rf"\s*(?P<rest>.*)$", re.IGNORECASE)
_CELL_WORD = re.compile(rf"^(?:cell|c)\s*0*(?P<idx>\d{{1,2}})\s+(?P<num>{NUMBER})\s*(?P<unit>{_UNIT})(?![a-z0-9])"
                        rf"\s*(?P<rest>.*)$", re.IGNORECASE)
_BARE = re.compile(rf"^(?P<num>{NUMBER})\s*(?P<unit>{_UNIT})(?![a-z0-9])\s*(?P<rest>[A-Za-z!?()\-\s]*)$", re.IGNORECASE)
_INLINE_TOKEN = re.compile(rf"^{NUMBER}(?:mv|v)?\.?$", re.IGNORECASE)


@dataclass
class Item:
    value: float
    unit: str = ""
    index: int | None = None
    note: str = ""
    extra: list[float] = field(default_factory=list)  # a second column (before/after layouts)


def _num_unit(num: str, unit: str) -> tuple[float, str]:
    return to_float(num), (unit or "").lower()


def classify(line: str) -> list[Item] | None:
    """The cell values on one line, or None when the line is not a cell line."""
    for rx in (_NUMBERED, _CELL_WORD):
        m = rx.match(line)
        if m:
            x, unit = _num_unit(m.group("num"), m.group("unit"))
            rest = m.group("rest").strip()
            extra = [to_float(t) for t in re.findall(NUMBER, rest)]
            note = re.sub(NUMBER + r"\s*(?:mv|v)?", "", rest, flags=re.IGNORECASE).strip(" ,;()-")
            return [Item(x, unit, int(m.group("idx")), note, extra)]
    m = _BARE.match(line)
    if m:
        x, unit = _num_unit(m.group("num"), m.group("unit"))
        return [Item(x, unit, None, m.group("rest").strip(" ()-"))]
    return inline(line)


_RUN_TOKEN = re.compile(r"(?:cell|c|#)?\s?(\d{1,3})\s*[:)=.\-]?\s+([-+]?\d+(?:[.,]\d+)?)\s*(mv|v)?(?![\w.])",
                        re.IGNORECASE)
_RUN_GAP = re.compile(r"[\s,;|]*")


def indexed_run(line: str) -> list[Item] | None:
    """Several numbered cells on one line, as app screens lay them out in columns: `Cell 1 3.911  Cell 2 3.913`,
    `01: 3.311  02: 3.312`, `1 3.949  2 3.948`. Only when the whole line is such pairs, at least two, numbered
    one after another (so `13 3.95` or a list of bare voltages is not mistaken for one)."""
    if len(line) > 2000:
        return None
    items: list[Item] = []
    pos = 0
    text = line.strip()
    while pos < len(text):
        m = _RUN_TOKEN.match(text, pos)
        if not m:
            return None
        idx, num, unit = int(m.group(1)), m.group(2), m.group(3)
        value, u = _num_unit(num, unit or "")
        if items and idx != items[-1].index + 1:  # type: ignore[operator]
            return None
        if not u and "." not in num and "," not in num and value < 100:
            return None  # `1 3 2 4`: no voltage in it
        items.append(Item(value, u, idx))
        pos = _RUN_GAP.match(text, m.end()).end()  # type: ignore[union-attr]
    return items if len(items) >= 2 else None


def inline(line: str) -> list[Item] | None:
    """`3.91, 3.90, 3.89` or `3,91 3,90 3,89` (decimal commas) or `4.1. 4.12. 4.1` (stray periods)."""
    decimal_comma = bool(re.search(r"\d,\d", line)) and not re.search(r"\d\.\d", line) \
        and bool(re.search(r"\d,\d+[\s;/|]+[-+]?\d", line))
    tokens = [t for t in re.split(r"[\s;/|]+" if decimal_comma else r"[\s,;/|]+", line.strip()) if t]
    if len(tokens) < 3 or not all(_INLINE_TOKEN.match(t) for t in tokens):
        return None
    items = []
    for t in tokens:
        t = t.rstrip(".")
        m = re.match(rf"^({NUMBER})(mv|v)?$", t, re.IGNORECASE)
        assert m  # guaranteed by _INLINE_TOKEN
        items.append(Item(to_float(m.group(1)), (m.group(2) or "").lower()))
    return items


def assemble(items: list[Item], p: Parsed) -> list[float]:
    """Values in cell order. Numbered lines follow their numbers; `0.` after `9.` is cell 10."""
    numbered = [it for it in items if it.index is not None]
    if len(numbered) >= 2 and len(numbered) >= len(items) // 2:
        indexed: dict[int, float] = {}
        last = 0
        wrapped = False
        for it in numbered:
            idx = it.index
            if idx <= last and last >= 9 and idx == (last + 1) % 10:
                idx, wrapped = last + 1, True  # a one-digit counter that rolled over
            if idx in indexed:
                p.unsure(f"cell {idx} is given twice ({indexed[idx]:g} and {it.value:g}); the last one is used")
            indexed[idx] = it.value
            last = idx
        if wrapped:
            p.note("numbering rolled over from 9 to 0: read as cells 10 and on")
        two_col = [it for it in numbered if it.extra]
        if two_col and len(two_col) * 2 >= len(numbered):
            p.unsure(f"{len(two_col)} lines carry two values (before/after?): the first column was used")
        top = max(indexed)
        missing = [i for i in range(1, top + 1) if i not in indexed]
        if missing:
            p.unsure(f"no value for cell {', '.join(map(str, missing))}: the cells were taken in order without it")
        values = [indexed[i] for i in sorted(indexed)]
        units = [it.unit for it in numbered]
    else:
        values = [it.value for it in items]
        units = [it.unit for it in items]
    for it in items:
        if it.note and it.index is not None:
            p.note(f"cell {it.index}: note '{it.note}'")
        elif it.note:
            p.note(f"value {it.value:g}: note '{it.note}'")
    return to_volts(values, units, p)


def to_volts(values: list[float], units: list[str], p: Parsed) -> list[float]:
    """mV integers -> V; a unit on any value decides for unmarked ones."""
    if any(u == "mv" for u in units):
        out = [v / 1000.0 if u == "mv" or (not u and v > 100) else v for v, u in zip(values, units)]
        p.note(f"{sum(1 for v in values if v > 100)} values in mV converted to V")
        return [round(v, 4) for v in out]
    big = [v for v in values if 1000 <= v <= 5000 and float(v).is_integer()]
    # a list of mV integers where a lead fault shows as 0 mV or a doubled ~8000 mV is still a list of mV
    odd_ok = all(float(v).is_integer() and (v == 0 or 1000 <= abs(v) <= 10000) for v in values)
    if big and (len(big) == len(values) or (odd_ok and len(big) >= len(values) / 2)):
        p.note(f"{len(values)} values in mV converted to V")
        return [round(v / 1000.0, 4) for v in values]
    if big:
        p.unsure(f"{len(big)} of {len(values)} values look like mV ({big[0]:g}); they were converted to V")
        return [round(v / 1000.0, 4) if v in big else v for v in values]
    return values


def taps_to_cells(values: list[float], p: Parsed, fields: dict) -> list[float]:
    """Cumulative voltages from B- (rising by about one cell per tap) -> cell voltages; other lists unchanged."""
    if len(values) < 3 or max(values) <= 5.0:
        if len(values) >= 3 and values[-1] > 5.0:
            pass
        return _pack_at_end(values, p, fields)
    # rising by one cell per tap; two taps reading the same (a lead on the wrong pad) still counts: it gives a 0 V
    # cell beside a doubled one, which the reasoning reports as a sense-lead fault
    steps = [b - a for a, b in zip(values, values[1:])]
    rising = all(d >= 0 for d in steps) and sum(d > 0 for d in steps) >= len(steps) - 1
    if not rising:
        return _pack_at_end(values, p, fields)
    base = 0.0
    taps = values
    if values[0] < 2.0:
        base, taps = values[0], values[1:]
    cells = [round(b - a, 4) for a, b in zip([base] + taps[:-1], taps)]
    n_taps = len(values)
    p.note(f"{n_taps} cumulative tap voltages from B- converted to {len(cells)} cell voltages (differences)")
    if base > 0.05:
        p.unsure(f"the first tap reads {base:g} V, not 0: cell 1 was taken as {taps[0]:g} - {base:g} = "
                 f"{cells[0]:g} V; if that tap is B- with a meter offset, cell 1 is {taps[0]:g} V")
    elif values[0] >= 2.0:
        p.unsure(f"{len(values)} values: read as {len(values)} taps (the first, {values[0]:g} V, is cell 1 "
                 f"measured from B-); if a B- tap at 0 V was left out, that still gives {len(values)} cells")
    odd = [i + 1 for i, c in enumerate(cells) if not 1.5 <= c <= 4.8]
    if odd:
        p.unsure(f"tap step for cell {', '.join(map(str, odd))} is outside 1.5-4.8 V: a misread tap or a sense-lead "
                 f"fault")
    fields.setdefault("pack_voltage", round(taps[-1] - base, 3))
    return cells


def _pack_at_end(values: list[float], p: Parsed, fields: dict) -> list[float]:
    """`3.9 3.9 ... 50.7`: a last value that is the sum of the others is the pack voltage."""
    if len(values) >= 3 and values[-1] > 5.0 and max(values[:-1]) <= 5.0:
        total = sum(values[:-1])
        if abs(values[-1] - total) <= 0.05 * total:
            p.note(f"the last value, {values[-1]:g} V, is the sum of the cells: taken as the pack voltage")
            fields.setdefault("pack_voltage", values[-1])
            return values[:-1]
        p.unsure(f"{values[-1]:g} V is no cell voltage; it was left out of the cells")
        return values[:-1]
    return values


def detect(text: str) -> float:
    lines = lines_of(text)
    if not lines:
        return 0.0
    cell_lines = 0
    values = 0
    for ln in lines:
        items = indexed_run(ln) or classify(ln)
        if items:
            cell_lines += 1
            values += len(items)
    if values < 2:
        return 0.0
    share = cell_lines / len(lines)
    return 0.85 if share >= 0.6 else 0.3 + 0.5 * share


def parse(text: str) -> Parsed:
    from drivers.paste.freeform import parse_lines

    return parse_lines(lines_of(text))
