"""jbdtool's key/value dump of a JBD board (`Voltage 15.610`, `Cells 3.911,3.902,...`, `FET Charge,Discharge`).

jbdtool prints the BMS's own current, positive = charging (the reading's convention).
"""

from __future__ import annotations

import re

from drivers.paste.parsed import Parsed
from drivers.paste.text import clean_text, to_float

NAME = "jbdtool"
_LINE = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z0-9]*)\s+(?P<val>\S.*?)\s*$")
_MARKERS = {"cells", "celldiff", "cellmin", "cellmax", "percentcapacity", "strings", "fet", "balance", "probes",
            "remainingcapacity", "designcapacity", "celltotal", "cellavg", "devicename"}
_NUM = r"[-+]?\d+(?:\.\d+)?"


def _pairs(text: str) -> list[tuple[str, str]]:
    out = []
    for ln in clean_text(text).split("\n"):
        m = _LINE.match(ln)
        if m and not ln.lstrip().startswith("$"):
            out.append((m.group("key").lower(), m.group("val")))
    return out


def detect(text: str) -> float:
    keys = {k for k, _v in _pairs(text)}
    hits = len(keys & _MARKERS)
    return 0.95 if hits >= 3 else (0.5 if hits == 2 else 0.0)


def parse(text: str) -> Parsed:
    p = Parsed(format=NAME, fields={"bms": "jbd"})
    kv = dict(_pairs(text))

    def num(key: str) -> float | None:
        m = re.match(_NUM, kv.get(key, ""))
        return to_float(m.group(0)) if m else None

    for key, field in (("voltage", "pack_voltage"), ("current", "current"), ("percentcapacity", "soc")):
        if (x := num(key)) is not None:
            p.fields[field] = x
    if (x := num("strings")) is not None:
        p.fields["series"] = int(x)
    for key, field in (("cells", "cells"), ("temps", "temperatures")):
        if key in kv:
            p.fields[field] = [to_float(x) for x in re.findall(_NUM, kv[key])]
    for key, summ in (("celldiff", "cell_delta"), ("cellmin", "cell_min"), ("cellmax", "cell_max"),
                      ("cellavg", "cell_mean")):
        if (x := num(key)) is not None:
            p.summary[summ] = x
    if "fet" in kv:
        fets = {w.strip().lower() for w in re.split(r"[,\s]+", kv["fet"]) if w.strip()}
        p.fields["charge_fet"] = "charge" in fets
        p.fields["discharge_fet"] = "discharge" in fets
        p.note(f"FET '{kv['fet']}': charge {'on' if p.fields['charge_fet'] else 'off'}, "
               f"discharge {'on' if p.fields['discharge_fet'] else 'off'}")
    if "balance" in kv and re.fullmatch(r"[01]+", kv["balance"].strip()):
        p.fields["balancing"] = "1" in kv["balance"]
        p.note(f"balance bits {kv['balance'].strip()}: balancing {'on' if p.fields['balancing'] else 'off'}")
    if "devicename" in kv:
        p.fields["model"] = kv["devicename"].strip()
    if "version" in kv:
        p.fields["firmware"] = kv["version"].strip()
    p.note("jbdtool output of a JBD board; current as the BMS reports it (positive = charging)")
    return p
