"""JSON and YAML: a mapping of reading fields (any spelling the entity table or engine.reading knows), or an
aiobmsble BMSSample dumped as JSON (`chrg_mosfet`, `temp_values`, ...), which goes through drivers.sample."""

from __future__ import annotations

import re
from typing import Any

from drivers.paste import cells as cellrules
from drivers.paste.entities import lookup
from drivers.paste.parsed import Parsed
from drivers.paste.text import clean_text, field_value
from drivers.sample import sample_to_fields
from engine.reading import FAMILY_ALIASES
from kb import untrusted

NAME = "json-yaml"
_SAMPLE_KEYS = {"chrg_mosfet", "dischrg_mosfet", "temp_values", "cell_voltages", "battery_level", "balancer",
                "problem_code", "cycle_charge", "delta_voltage"}
# [ \t] rather than \s: \s also matches line ends, and `a:` followed by many blank lines made the old pattern
# quadratic. Keys are bounded so a long line without a colon is given up on quickly.
_YAMLISH = re.compile(r"^---|^[\w \-]{1,80}:[ \t]*\n[ \t]*-\s|^[\w \-]{1,80}:[ \t]*\[", re.MULTILINE)


def _load(text: str) -> tuple[Any, str] | None:
    s = clean_text(text).strip()
    if s[:1] in "{[":
        try:
            return untrusted.loads_json(s, what="pasted JSON"), "JSON"
        except ValueError:
            pass
    if _YAMLISH.search(s):
        from ruamel.yaml.error import YAMLError

        try:
            return untrusted.check_data(untrusted.load_yaml(s, what="pasted YAML"), what="pasted YAML"), "YAML"
        except (YAMLError, ValueError):
            return None
    return None


def _mapping(data: Any, p: Parsed) -> dict | None:
    if isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
        p.note(f"a list of {len(data)} readings: the last one is used")
        data = data[-1]
    if isinstance(data, dict) and len(data) == 1 and isinstance(next(iter(data.values())), dict):
        data = next(iter(data.values()))  # {"reading": {...}}
    return data if isinstance(data, dict) and data else None


def detect(text: str) -> float:
    loaded = _load(text)
    if loaded is None:
        return 0.0
    data = _mapping(loaded[0], Parsed())
    if data is None:
        return 0.0
    known = sum(1 for k in data if isinstance(k, str) and (lookup(k) is not None or k in _SAMPLE_KEYS))
    return 0.99 if known else 0.3


def parse(text: str) -> Parsed:
    p = Parsed(format=NAME)
    loaded = _load(text)
    data = _mapping(loaded[0], p) if loaded else None
    if data is None:
        return p
    p.format = f"{NAME}"
    p.note(f"{loaded[1]} mapping with {len(data)} keys")
    if len(_SAMPLE_KEYS & set(data)) >= 2:
        fam = FAMILY_ALIASES.get(str(data.get("bms", data.get("family", ""))).lower(), "")
        p.fields = sample_to_fields(data, fam)
        p.note("an aiobmsble sample: mapped as the live BLE driver maps it (current positive = charging)")
        if data.get("problem_code") and "alarm_code" not in p.fields:
            p.unsure(f"problem_code {data['problem_code']} was given, but its meaning depends on the BMS family, "
                     f"which the sample does not name: add \"bms\": \"jk\" (or jbd, ant, daly) to read the alarm")
        return p
    unused = []
    for key, raw in data.items():
        t = lookup(str(key))
        if t is None:
            unused.append(str(key))
            continue
        if t.kind == "cell":
            p.fields.setdefault("_cells", {})[t.index] = float(raw)
        elif t.kind == "summary":
            p.summary[t.name] = float(field_value("cell_ovp", str(raw))[0] or 0) if isinstance(raw, str) else raw
        elif t.kind == "temp":
            p.fields.setdefault("temperatures", []).append(raw)
        elif t.kind == "signed_current":
            x = field_value("current", str(raw))[0] if isinstance(raw, str) else raw
            if x is not None:
                p.fields["current"] = abs(x) if t.name == "+" else -abs(x)
        else:
            _set(t.name, raw, p)
    if "_cells" in p.fields:
        indexed = p.fields.pop("_cells")
        p.fields["cells"] = [indexed[i] for i in sorted(indexed)]
    if unused:
        p.note(f"not reading fields, left out: {', '.join(unused)}")
    return p


def _set(name: str, raw: Any, p: Parsed) -> None:
    if name == "cells":
        if isinstance(raw, str):
            items = cellrules.inline(raw) or []
            values, units = [it.value for it in items], [it.unit for it in items]
        elif isinstance(raw, list):
            values = [field_value("cell_ovp", x)[0] if isinstance(x, str) else x for x in raw]
            units = [("mv" if isinstance(x, str) and x.strip().lower().endswith("mv") else "") for x in raw]
            values = [v * 1000 if u == "mv" else v for v, u in zip(values, units)]  # field_value made V already
        else:
            p.unsure(f"cells: {raw!r} is not a list of voltages; left out")
            return
        if any(v is None or isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
            p.unsure("cells: not all entries are numbers; left out")
            return
        values = cellrules.to_volts(values, units, p)
        p.fields["cells"] = cellrules.taps_to_cells(values, p, p.fields)
        return
    value, problem = field_value(name, raw)
    if problem:
        p.unsure(problem + "; left out")
    elif value is not None:
        p.fields[name] = value
