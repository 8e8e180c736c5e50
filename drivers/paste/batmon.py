"""batmon-ha log lines: `BmsSampl(80.1%,U=55.1V,I=63.25A,P=3485W,Q=83/100Ah,mos=25°C)`, `volt=[3471,3436,...]` (mV),
`temp=[21,22]`.

The sign of batmon-ha's current depends on its `invert_current` option: without it, positive = discharging; with
`invert_current: true` (the default of its recent add-on configs) it is negative while discharging, which is the
reading's convention. A paste that does not say which was set is ambiguous: the current is left out and asked
for, never guessed.
"""

from __future__ import annotations

import re

from drivers.paste.parsed import Parsed
from drivers.paste.text import clean_text, to_float

NAME = "batmon-ha"
# Bodies stop at the next opening bracket and at the line end as well as at the closing one, so a text full of
# unclosed `volt=[` or `BmsSampl(` is scanned once, not once per opening (which was quadratic).
_SAMPLE = re.compile(r"BmsSampl\((?P<body>[^()\n]{0,2000})\)")
_LIST = re.compile(r"\b(?P<key>volt|voltages|cells|temp|temps|temperatures)[ \t]*=[ \t]*\[(?P<items>[^\[\]\n]{0,20000})\]",
                   re.IGNORECASE)
_NUM = r"[-+]?\d+(?:\.\d+)?"
_PARTS = {
    "soc": re.compile(rf"(?:^|,)\s*({_NUM})\s*%"),
    "pack_voltage": re.compile(rf"\bU\s*=\s*({_NUM})\s*V"),
    "current": re.compile(rf"\bI\s*=\s*({_NUM})\s*A"),
    "mos_temp": re.compile(rf"\bmos\s*=\s*({_NUM})"),
}
_FAMILY = re.compile(r"\b(jk|jbd|ant|daly)[_-]?bms\b", re.IGNORECASE)
_INVERT = re.compile(r"\binvert[_ ]current\b[\"']?\s*[:=]\s*[\"']?(true|false|yes|no|on|off|1|0)\b", re.IGNORECASE)


def detect(text: str) -> float:
    if "BmsSampl(" in text:
        return 0.97
    return 0.9 if re.search(r"\bvolt\s*=\s*\[\s*\d{4}", text) else 0.0


def parse(text: str) -> Parsed:
    p = Parsed(format=NAME)
    text = clean_text(text)
    samples = list(_SAMPLE.finditer(text))
    if samples:
        body = samples[-1].group("body")
        if len(samples) > 1:
            p.note(f"{len(samples)} BmsSampl lines; the last one is used")
        for field, rx in _PARTS.items():
            m = rx.search(body)
            if m:
                p.fields[field] = to_float(m.group(1))
        if "current" in p.fields:
            raw = p.fields.pop("current")
            inv = _INVERT.search(text)
            if inv is None:
                p.unsure(f"batmon-ha current {raw:g} A: its sign depends on batmon-ha's invert_current option "
                         f"(off: positive = discharging; on: positive = charging), which the paste does not show; "
                         f"the current was left out: say 'invert_current: true' or 'false', or whether the pack "
                         f"was charging or discharging")
            elif inv.group(1).lower() in ("true", "yes", "on", "1"):
                p.fields["current"] = raw + 0.0
                p.note("batmon-ha with invert_current on: current taken as is (positive = charging)")
            else:
                p.fields["current"] = -raw + 0.0
                p.note("batmon-ha with invert_current off (positive = discharging): sign flipped to positive = "
                       "charging")
    lists = {}
    for m in _LIST.finditer(text):
        lists[m.group("key").lower()] = [to_float(x) for x in re.findall(_NUM, m.group("items"))]
    volts = lists.get("volt") or lists.get("voltages") or lists.get("cells")
    if volts:
        if all(x > 100 for x in volts):
            p.fields["cells"] = [round(x / 1000.0, 4) for x in volts]
            p.note(f"{len(volts)} cell voltages in mV converted to V")
        else:
            p.fields["cells"] = volts
    temps = lists.get("temp") or lists.get("temps") or lists.get("temperatures")
    if temps:
        p.fields["temperatures"] = temps
    fam = _FAMILY.search(text)
    if fam:
        p.fields["bms"] = fam.group(1).lower()
        p.note(f"BMS family {fam.group(1).lower()} from the log's device name")
    return p
