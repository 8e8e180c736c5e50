"""Rider-typed text: key/value lines and cell lists, often mixed in one paste (`JK 13S`, then the cells, then
`pack 52.1V`). Each line is read by the key/value or the cell-list rules; what neither understands is reported."""

from __future__ import annotations

import re

from drivers.paste import cells as cellrules
from drivers.paste import keyvalue
from drivers.paste.parsed import Parsed
from drivers.paste.text import field_value, number_unit
from engine.reading import FAMILY_ALIASES

_SERIES = re.compile(r"\b(\d{1,2})\s*S(?:\d{1,2}P)?\b")
_FAMILY = re.compile(r"\b(jk|jikong|jbd|llt|overkill|ant|daly)(?:[\s-]?bms)?\b", re.IGNORECASE)
_NO_FAULT = {"", "none", "ok", "no", "normal", "0"}


def parse_lines(lines: list[str]) -> Parsed:
    p = Parsed()
    items: list[cellrules.Item] = []
    unread: list[str] = []
    unused_keys: list[str] = []
    kv_count = 0
    for line in lines:
        run = cellrules.indexed_run(line)  # `Cell 1 3.911  Cell 2 3.913 ...`: numbered cells in columns
        if run:
            items.extend(run)
            continue
        several = keyvalue.pairs(line)  # `Voltage 67.18V  Current -6.4A  SOC 100%`: pairs in columns
        if several:
            for key, target, raw in several:
                kv_count += _apply(key, target, raw, p, items)
            continue
        kv = keyvalue.match(line)
        if kv and kv[1] is not None and kv[1].kind != "cell":
            kv_count += _apply(kv[0], kv[1], kv[2], p, items)
            continue
        got = cellrules.classify(line)
        if got:
            items.extend(got)
            continue
        if _context(line, p):
            continue
        if kv and kv[1] is None:
            listed = cellrules.inline(kv[2])
            if listed and len(listed) >= 3 and not items:  # "status at rest: 4.118 4.101 ...": the cells, labelled
                items.extend(listed)
                p.note(f"cells read from '{kv[0][:40]}'")
                continue
            unused_keys.append(kv[0])
            continue
        unread.append(line)
    if items:
        values = cellrules.assemble(items, p)
        values = cellrules.taps_to_cells(values, p, p.fields)
        if values:
            p.fields["cells"] = values
    _fault_words(p)
    p.format = "+".join(x for x, n in (("key-value", kv_count), ("cell-list", len(items))) if n) or "key-value"
    if unused_keys:
        p.note(f"not reading fields, left out: {', '.join(dict.fromkeys(unused_keys))}")
    if unread:
        p.note(f"{len(unread)} line(s) not understood, e.g. '{unread[0][:60]}'")
    return p


def _apply(key: str, target, raw: str, p: Parsed, items: list) -> int:
    if target.kind == "summary" or target.kind == "signed_current" or target.kind == "temp":
        nu = number_unit(raw)
        if nu is None:
            p.unsure(f"{key}: '{raw}' is not a number; left out")
            return 0
        x = nu[0] / 1000.0 if nu[1] in ("mv", "ma") else nu[0]
        if target.kind == "summary":
            p.summary[target.name] = x
        elif target.kind == "temp":
            p.fields.setdefault("temperatures", []).append(x)
        else:
            p.fields["current"] = abs(x) if target.name == "+" else -abs(x)
            p.note(f"'{key}' read as current {p.fields['current']:g} A (positive = charging)")
        return 1
    name = target.name
    if name == "cells" and raw.strip().isdigit() and int(raw) <= 64:  # "Cells 16": the count, not a voltage
        p.fields.setdefault("series", int(raw))
        return 1
    if name in ("charge_fet", "discharge_fet") and field_value(name, raw)[1]:
        from drivers.protection import protection_in_words

        found = protection_in_words(raw)  # "Discharge MOS status: Over current protect": off, on that protection
        if found:
            p.fields[name] = False
            p.fields.update({k: v for k, v in found.items() if k.startswith("prot_") or k == "protection_active"})
            p.fields.setdefault("alarm_text", found.get("alarm_text", raw))
            p.note(f"{key}: '{raw}' read as {name} off on a protection")
            return 1
    if name == "cells":
        got = cellrules.inline(raw) or cellrules.classify(raw)
        if got:
            items.extend(got)
            return 1
    if name == "fault" and raw.strip().lower() in _NO_FAULT:
        return 1
    value, problem = field_value(name, raw)
    if problem:
        p.unsure(problem + "; left out")
        return 0
    if name in p.fields and p.fields[name] != value:
        p.unsure(f"{name} is given twice ({p.fields[name]} and {value}); the last one is used")
    p.fields[name] = value
    return 1


def _fault_words(p: Parsed) -> None:
    """`Fault: Discharge overcurrent protection` on an app screen is the BMS's own alarm in words: it sets the
    protection flags it names (drivers.protection), as `Alarm:` does; words that name none stay a fault text."""
    fault = p.fields.get("fault")
    if not isinstance(fault, str) or "alarm_text" in p.fields or any(k.startswith("prot_") for k in p.fields):
        return
    from drivers.protection import protection_in_words

    found = protection_in_words(fault)
    if found:
        p.fields.update(found)
        p.note(f"the alarm '{fault}' read as: " + ", ".join(k for k, v in found.items() if v and k.startswith("prot_")))


def _context(line: str, p: Parsed) -> bool:
    """`JK BMS 13S` style lines: the family and the series count, said in passing."""
    found = False
    m = _SERIES.search(line)
    if m and "series" not in p.fields:
        series, board = int(m.group(1)), None
        if len(_SERIES.findall(line)) > 1:  # "32S smart boards ..., 24S li-ion": which is the board's, which the pack's
            from engine.understand import understand

            said = understand(line)
            series, board = said.get("series", series), said.get("board_max_series")
        p.fields["series"] = series
        p.note(f"series {series} from '{line[:60]}'" if board else f"series {series} from '{m.group(0)}'")
        if board and "board_max_series" not in p.fields:
            p.fields["board_max_series"] = board
            p.note(f"a {board} S board (board_max_series)")
        found = True
    f = _FAMILY.search(line)
    if f and "bms" not in p.fields:
        fam = FAMILY_ALIASES.get(f.group(1).lower())
        if fam and (f.group(1).isupper() or "bms" in f.group(0).lower() or fam != "ant"):
            p.fields["bms"] = fam
            p.note(f"BMS family {fam} from '{f.group(0)}'")
            found = True
    return found
