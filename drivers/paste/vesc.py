"""The VESC terminal `faults` block: `Fault : FAULT_CODE_UNDER_VOLTAGE`, `Current : -0.2`, `Voltage : 38.21`,
`Duty : 0.950`, `Temperature : 56.14` ..., or `No faults registered since startup`.

The block's `Current` is the motor current at the fault (VESC stores no battery current in it), so it is not the
pack current and is never mapped to `current`: it is kept as a note. A fault is recorded while riding, so state is
`riding`.
"""

from __future__ import annotations

import re

from drivers.paste.parsed import Parsed
from drivers.paste.text import clean_text, strip_markdown, to_float

NAME = "vesc-faults"
_FAULT = re.compile(r"^fault\s*:\s*(?:FAULT_CODE_)?(?P<code>[A-Z0-9_]+)", re.IGNORECASE)
_KV = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9 ]*?)\s*:\s*(?P<val>[-+]?\d+(?:[.,]\d+)?)\b")
_NONE = re.compile(r"no faults registered", re.IGNORECASE)
_KEYS = {"current": "current", "voltage": "pack_voltage", "duty": "duty", "temperature": "mos_temp"}


def _lines(text: str) -> list[str]:
    return [strip_markdown(ln) for ln in clean_text(text).split("\n") if ln.strip()]


def detect(text: str) -> float:
    if re.search(r"FAULT_CODE_[A-Z]", text) or _NONE.search(text):
        return 0.96
    return 0.0


def parse(text: str) -> Parsed:
    p = Parsed(format=NAME)
    blocks: list[dict] = []
    for ln in _lines(text):
        m = _FAULT.match(ln)
        if m:
            blocks.append({"fault": m.group("code").lower()})
            continue
        m = _KV.match(ln)
        if m and blocks:
            key = m.group("key").strip().lower()
            if key in _KEYS and _KEYS[key] not in blocks[-1]:  # "Current filtered" etc. do not match exactly
                blocks[-1][_KEYS[key]] = to_float(m.group("val"))
    if not blocks:
        if _NONE.search(text):
            p.note("the VESC reports no faults since startup: nothing to read from it (it stores no voltages "
                   "without a fault)")
            p.nothing_to_read = True
        return p
    if len(blocks) > 1:
        others = ", ".join(b["fault"] for b in blocks[:-1])
        p.note(f"{len(blocks)} faults registered; the last one is used (earlier: {others})")
    block = blocks[-1]
    p.fields["fault"] = block["fault"]
    p.fields["state"] = "riding"
    p.note(f"VESC fault {block['fault']} (FAULT_CODE_ prefix dropped); state taken as riding")
    if "current" in block:
        p.note(f"the fault's Current ({block['current']:g} A) is the motor current, not the battery current: not "
               f"used as the pack current")
    for k in ("pack_voltage", "duty", "mos_temp"):
        if k in block:
            p.fields[k] = block[k]
    if "mos_temp" in block:
        p.note("the fault's Temperature is the controller's MOSFET temperature")
    return p
