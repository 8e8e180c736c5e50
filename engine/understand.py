"""Facts from rider prose: families, series/parallel, volts, mV, deltas, currents by role, temperatures, FET states,
chemistry, controller and goals.

`understand(text, families)` -> a plain dict of facts named like reading fields where one exists (bms, series,
board_max_series, pack_voltage, cell_delta, charge_ocp, regen_limit, charge_fet, ...) plus chat-only needs for the
advisor (continuous, peak, parallel, space, budget, uptime, integration, full_protection) and `families` (every
family named, in order). Numbers glued to units ("20s24p", "4.1v", "30mv", "100a") are read by one bounded regex
over the lowered text; the role of a number is the keyword nearest before it (or right after it) in the same clause.
Family names are matched exactly first, then fuzzily (rapidfuzz) so "jikong", "daley", "antbms" are understood.

Every pattern here is linear: no nested or adjacent unbounded repeats (a 100 KB word is read in milliseconds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MAX_TEXT = 4000  # a chat turn longer than this is read only up to here (pasted readings go to the paste parser)

# family id -> names riders use (lower case); content family aliases are added at run time
FAMILY_NAMES: dict[str, tuple[str, ...]] = {
    "jk": ("jk", "jkbms", "jk-bms", "jikong", "jiikong", "jikon", "jkong", "jk bms", "jk smart"),
    "ant": ("ant", "antbms", "ant-bms", "ant bms"),
    "jbd": ("jbd", "llt", "overkill", "xiaoxiang", "xiao xiang", "jbd-bms", "jbdbms", "lltpower"),
    "daly": ("daly", "dalys", "daley", "dally", "dali", "dalli", "dalybms", "daly-bms"),
    "charge-only": ("charge-only", "charge only", "charge-only bms", "monitor board", "no-fet", "nofet"),
}
_FUZZY_NAMES = {"jikong": "jk", "daly": "daly", "overkill": "jbd", "xiaoxiang": "jbd", "antbms": "ant", "jkbms": "jk"}
_FUZZY_FIRST = frozenset(n[0] for n in _FUZZY_NAMES)

CONTROLLERS = {"vesc": "vesc", "spintend": "spintend", "ubox": "spintend", "makerbase": "makerbase", "flipsky": "flipsky",
               "tronic": "tronic", "wepoor": "wepoor", "stock controller": "stock", "stock esc": "stock"}

_NUM_UNIT = re.compile(
    r"(?<![\w.])(\d{1,4}(?:[.,]\d{1,4})?)\s?(mv|millivolts?|volts?|v|amps?|amp|a|ah|°c|deg(?:rees)?|c|s|p|%)(?![a-z])")
_SP = re.compile(r"(?<![\w.])(\d{1,2})\s?s\s?(\d{1,3})\s?p(?![a-z])")
_RANGE_S = re.compile(r"(?<![\w.])(\d{1,2})\s?s?\s?(?:-|–|to)\s?(\d{1,2})\s?s(?![a-z])")
_BARE = re.compile(r"(?<![\w.])(\d{1,4}(?:[.,]\d{1,4})?)(?![\w.])")
_WORD = re.compile(r"[a-z0-9]+(?:[.'-][a-z0-9]+){0,4}")
_CLAUSE = re.compile(r"[,;!?]|\.(?!\d)|\bbut\b|\bwhile\b|\band\b")

# role keywords (lowered, matched on the text before a number within its clause)
_CUR_ROLES: list[tuple[str, tuple[str, ...]]] = [
    ("charge_ocp", ("charge ocp", "charging ocp", "charge over current", "charge overcurrent", "charge current protection",
                    "charge limit", "charge protection", "charge current limit", "chg ocp", "ocp charge", "charge oc")),
    ("discharge_ocp", ("discharge ocp", "discharge over current", "discharge overcurrent", "discharge limit",
                       "discharge protection", "dsg ocp", "discharge oc", "ocp", "trips at", "tripping at", "tripped at",
                       "trip at", "trips around", "tripping around", "tripped around", "cuts out at", "cuts out around",
                       "cutting out at", "cutting out around", "cut out at", "shuts off at", "shuts down at")),
    ("regen_limit", ("regen", "braking", "brake", "brak", "battery regen", "max regen")),
    ("phase_current", ("phase", "motor current", "motor amps")),
    ("peak", ("peak", "burst", "surge", "max draw", "spikes")),
    ("charge_current", ("charger", "charging at", "charge at", "charge current")),
    ("battery_limit", ("battery current", "battery max", "batt max", "battery limit", "batt current", "battery amps",
                       "batt", "battery", "ask for", "asked for", "asking for", "ask it for", "demand", "demanded")),
    ("continuous", ("continuous", "cont", "constant", "sustained", "pull", "draw", "needs", "need")),
]
_V_ROLES: list[tuple[str, tuple[str, ...]]] = [
    ("cell_delta", ("delta", "spread", "difference", "diff", "imbalance", "apart", "drift")),
    ("balance_trigger", ("trig", "balance start delta", "start delta", "kicks in", "kick in", "activates", "balancer at")),
    ("balance_start", ("balance start", "start balanc", "start voltage", "balancing start", "balance from")),
    ("cell_ovp", ("ovp", "over voltage", "overvoltage", "cellhighprotect", "high protect")),
    ("cell_uvp", ("uvp", "under voltage", "undervoltage", "low protect", "celllowprotect", "low voltage cut")),
    ("dash_low_warning", ("dash warn", "dash low", "display warns", "warning at")),
    ("charger_voltage", ("charger", "supply", "psu", "brick")),
    ("charge_target", ("charge to", "charging to", "charged to", "charge them to", "stop charging at", "charge at",
                       "charge ceiling", "top up to", "fill to", "only charge")),
    ("cell_min", ("lowest", "min cell", "minimum", "low cell", "lowest cell", "weakest")),
    ("cell_max", ("highest", "max cell", "maximum", "high cell", "highest cell")),
]
_FET_WORDS = {"charge_fet": ("charge fet", "charge mosfet", "charge mos", "chg fet", "chg mos", "charging fet",
                             "charge switch", "charging switch", "charge toggle", "chg switch"),
              "discharge_fet": ("discharge fet", "discharge mosfet", "discharge mos", "dsg fet", "dsg mos",
                                "discharge switch", "discharge toggle", "discharging fet", "dischg")}
_OFF = re.compile(r"\b(off|disabled?|disabling|turned off|switched off|not on|closed|open|isn'?t on|is off|"
                  r"deactivated|false|0)\b")
_ON = re.compile(r"\b(on|enabled?|active|true|1)\b")


def _num(s: str) -> float:
    return float(s.replace(",", "."))


def _ends_with_family(before: str, fillers: bool = False) -> bool:
    words = before.rstrip().split()
    while fillers and len(words) > 1 and words[-1] in ("is", "a", "an", "rated", "at", "its", "it's"):
        words.pop()  # "my daly is a 40a one"
    return bool(words) and words[-1] in family_names()


def _clause_before(low: str, pos: int, width: int = 40) -> str:
    start = max(0, pos - width)
    seg = low[start:pos]
    cut = [m.end() for m in _CLAUSE.finditer(seg)]
    return seg[cut[-1]:] if cut else seg


def _after(low: str, end: int, width: int = 22) -> str:
    """The words right after a number, up to the clause's end or the next number (whose words are its own)."""
    seg = low[end:end + width]
    m = _CLAUSE.search(seg)
    seg = seg[: m.start()] if m else seg
    d = re.search(r"\d", seg)
    return seg[: d.start()] if d else seg


def _nearest_role(before: str, after: str, roles: list[tuple[str, tuple[str, ...]]]) -> str | None:
    best, best_pos = None, (-1, 0)
    for role, words in roles:
        for w in words:
            i = before.rfind(w)
            if i >= 0 and (i + len(w), len(w)) > best_pos:  # the nearest, then the longest ("discharge ocp")
                best, best_pos = role, (i + len(w), len(w))
    prev = re.search(r"\d+(?:[.,]\d+)?\s?(?:a|amps?)\s+$", before[:best_pos[0] - best_pos[1]]) if best else None
    if prev is not None and not any(before[:prev.start()].rstrip().endswith(w) for _r, ws in roles for w in ws):
        best = None  # "150a peak 80a continuous": that "peak" is the 150 A's, said after it (but in "regen 30a
        # charge ocp 60a" each role comes before its number)
    if best is not None and len(before.rstrip()) - best_pos[0] > 3:  # "... regen ok with 150a charge ocp": the
        for role, words in roles:                                    # words right after the number win
            for w in sorted(words, key=len, reverse=True):
                if after.startswith(" " + w) or after.startswith(w):
                    return role
    if best is not None:
        return best
    for role, words in roles:  # "40a regen", "20 amps charge ocp"
        for w in words:
            if after.startswith(" " + w) or after.startswith(w) or f" {w}" in after[:14]:
                return role
    return None


def family_names(kb_aliases: Mapping[str, Iterable[str]] | None = None) -> dict[str, str]:
    """name -> family id (content aliases included)."""
    out: dict[str, str] = {}
    for fid, names in FAMILY_NAMES.items():
        for n in names:
            out[n] = fid
    for fid, aliases in (kb_aliases or {}).items():
        for a in aliases:
            n = a.lower()
            if n and n not in ("smart", "bms") and n not in out and len(n) >= 3:
                out[n] = fid
    return out


_NEGATED = re.compile(r"\b(?<!why )(?<!or )(not|isn'?t|wasn'?t|no|never|instead of|rather than|other than|except|besides)"
                      r"\s+(?:an?\s+|the\s+|my\s+)?$")  # "why not a jbd" asks about one; "its not a daly" drops it


# everyday words a fuzzy match would take for a family ("commuting daily" is not a Daly)
_NOT_NAMES = frozenset({"daily", "dally", "dales", "delay", "deals", "dealy", "antsy", "jokes"})


def find_families(low: str, names: dict[str, str]) -> list[str]:
    words = _WORD.findall(low)
    found: list[tuple[int, str]] = []
    for n, name_fid in names.items():
        if " " in n or "-" in n:
            i = low.find(n)
            if i >= 0:
                found.append((i, name_fid))
    pos = 0
    for w in words:
        pos = low.find(w, pos)
        fid: str | None = names.get(w)
        if fid is None and len(w) >= 3 and w[-1] == "s" and w[:-1] in names and w[:-1] != "ant":
            fid = names[w[:-1]]  # "swapping the dalys for jbds", "two jks" (not "ants")
        if fid is None and len(w) >= 5 and w[0] in _FUZZY_FIRST and w not in _NOT_NAMES:  # rapidfuzz only for words that could be a name
            from rapidfuzz import fuzz, process

            hit = process.extractOne(w, list(_FUZZY_NAMES), scorer=fuzz.ratio, score_cutoff=80)
            fid = _FUZZY_NAMES[hit[0]] if hit else None
        if fid is not None:
            if fid == "ant" and re.search(r"\bant(?:s)?\b\s+(?:colony|nest|bite)", low):
                continue
            found.append((pos, fid))
        pos += len(w)
    found.sort()
    kept = [(p, f) for p, f in found if not _NEGATED.search(low[max(0, p - 16):p])]  # "its not a daly, its a jikong"
    return list(dict.fromkeys(f for _, f in kept))


_INDEXED_CELL = re.compile(r"\bcell\s?#?(\d{1,2})\s?(?:is|at|reads|reading|shows|showing|=|:)?\s?(-?\d+(?:[.,]\d+)?)\s?v(?:olts?)?\b")


def _indexed_cells(low: str, facts: dict[str, Any]) -> str:
    """'cell 5 at 0.00v and cell 6 at 7.6v': the sense-lead features of named cells; the text without them (they are
    neither the pack's voltage nor its delta)."""
    cells = {int(m.group(1)): _num(m.group(2)) for m in _INDEXED_CELL.finditer(low)}
    if not cells:
        return low
    if any(v < 0 for v in cells.values()):
        facts["negative_cells"] = sum(v < 0 for v in cells.values())
    if any(abs(v) < 0.3 and any(cells.get(i + d, 0) > 5.0 for d in (-1, 1)) for i, v in cells.items()):
        facts["zero_beside_double"] = True
    return _INDEXED_CELL.sub(" ", low)


_LABEL_V = re.compile(r"(?<![\d.])(\d{2,3}(?:[.,]\d)?)[ \t]?v(?:olts?)?[ \t]?(?:li-?ion[ \t]|[a-z]{2,8}[ \t])?(?:pack|battery|batt|scooter|system|build|"
                      r"ebike|e-bike|bike|setup|charger kind|charger type|class)\b")


def _label_voltage(low: str, facts: dict[str, Any]) -> None:
    """'my 84v jk pack': the pack's name (its full-charge or nominal voltage), not a reading of it."""
    m = _LABEL_V.search(low)
    if m is None or re.search(r"\b(reads?|reading|at|sitting|sits|shows?|measur\w*|dropped to|down to)\s*$", low[:m.start()]):
        return
    v = _num(m.group(1))
    facts["pack_label_voltage"] = v
    if facts.get("pack_voltage") == v:
        del facts["pack_voltage"]
    if facts.get("charger_voltage") == v and re.search(r"charger (?:kind|type)|class", m.group(0)):
        del facts["charger_voltage"]  # "its the 84v charger kind": the pack's class, not a charger on the bench


def understand(text: str, names: dict[str, str] | None = None) -> dict[str, Any]:
    """Every fact the text states (see the module docstring). Unknown things are simply absent."""
    low = " " + (text or "")[:MAX_TEXT].lower().replace("’", "'") + " "
    low = re.sub(r"(\d)\s?(?:per|/|a|each)\s?cell", r"\1 per cell", low)
    facts: dict[str, Any] = {}
    fams = find_families(low, names or family_names())
    if fams:
        facts["families"] = fams
        facts["bms"] = fams[0]
    _series(low, facts, names or family_names())
    low = _indexed_cells(low, facts)
    _quantities(low, facts)
    _label_voltage(low, facts)
    _states(low, facts)
    _goals(low, facts)
    return facts


_BOARD_SWAP = re.compile(r"\bfrom (?:a |an |my |the )?(\d{1,2}) ?s\b[^.,;]{0,20}?\b(?:to|for) (?:a |an |the )?(\d{1,2}) ?s\b"
                         r"(?= ?(?:one|board|bms|unit|model|version|ant|jk|jbd|daly|llt)\b)")


def _series(low: str, facts: dict[str, Any], names: dict[str, str]) -> None:
    if m := _SP.search(low):
        facts["series"], facts["parallel"] = int(m.group(1)), int(m.group(2))
    if m := _RANGE_S.search(low):
        a, b = int(m.group(1)), int(m.group(2))
        if 1 <= a < b <= 64:
            if re.search(r"\b(charger|brick|supply|psu)", low[m.end():m.end() + 28]):
                facts["charger_series_range"] = [a, b]  # "a 16s-24s switchable charger", not a board
            else:
                facts["board_series_range"] = [a, b]
                facts["board_max_series"] = b
    rng = (m.start(), m.end()) if m else (-1, -1)
    found = []
    for m in re.finditer(r"(?<![\w.\-–])(\d{1,2})\s?(?:s|series|cells? in series)(?![a-z])", low):
        n = int(m.group(1))
        if rng[0] <= m.start() < rng[1]:
            continue  # an end of a range ("10-32s", "16s-24s") is not the pack's series
        if re.match(r"\s?(?:charger|brick|supply|psu)\b", low[m.end():m.end() + 10]):
            facts["charger_series"] = n  # "a 21s charger on a 20s pack"
            continue
        if 3 <= n <= 64 and not re.match(r"\s?s\s?\d{1,3}\s?p", low[m.start(1) + len(m.group(1)):][:8]):
            found.append((m.start(), m.end(), n))
    if "series" in facts:
        found = [f for f in found if f[2] != facts["series"]]
    swap = _BOARD_SWAP.search(low)
    if swap:  # "moving my ant from a 10s board to a 14s one": two boards, and no pack series said
        facts["board_max_series"] = int(swap.group(2))
        facts["board_from_series"] = int(swap.group(1))
        found = [f for f in found if not (swap.start() <= f[0] < swap.end())]
    board_words = ("bms", "board", "ant", "jk", "jbd", "daly", "llt", "unit", "model", "sku", "version")
    pack_words = ("pack", "battery", "scooter", "build", "my ", "cells", "li-ion", "li ion", "lipo", "lifepo4", "lfp",
                  "nmc", "lto")
    for start, end, n in found:
        before = low[max(0, start - 14):start]
        after = low[end:end + 24]
        is_board = any(w in before.split()[-1:] or before.rstrip().endswith(w) for w in board_words) or \
            after.lstrip().startswith(("bms", "board", "capable", "max", "version", "model", "sku")) or \
            bool(re.match(r"\s*(?:smart|monitor|active|passive|cheap|new|old)\s(?:bms|boards?|units?)\b", after)) or \
            any(fam in before[-8:] for fam in names if len(fam) >= 2 and before.rstrip().endswith(fam))
        is_board = is_board or after.lstrip().startswith(tuple(n for n in names if len(n) >= 2))
        is_pack = after.lstrip().startswith(pack_words + ("harness", "stack", "setup")) or before.rstrip().endswith(("my", "on a", "on my", "for a", "for my", "its", "it's", "is"))
        named = after.lstrip().startswith(tuple(n for n in names if len(n) >= 2) + ("bms", "board"))
        if named and len(found) > 1 and not after.lstrip().startswith(pack_words):
            is_pack = False  # "my 30s ant onto a 22s harness": a number that names a board is the board's
        if is_board and not is_pack and len(found) > 1:
            facts.setdefault("board_max_series", n)
        elif "series" not in facts:
            facts["series"] = n
        elif is_board:
            facts.setdefault("board_max_series", n)
    if "series" not in facts and m is None:
        m2 = re.search(r"(?<![\w.])(\d{1,2})\s?(?:cells?)\s(?:in series|pack|battery)", low)
        if m2 and 3 <= int(m2.group(1)) <= 64:
            facts["series"] = int(m2.group(1))


_CELL_LIST = re.compile(r"(?<![\w.])([2-4][.,]\d{1,3})(?:v)?(?:[\s,/|;]{1,3}([2-4][.,]\d{1,3})(?:v)?){2,}(?![\w.])")


def _cells(low: str, facts: dict[str, Any]) -> None:
    """Three or more cell voltages in a row ("4.2 4.2 4.19 4.05"): min, max and the spread."""
    m = _CELL_LIST.search(low)
    if not m:
        return
    vals = [_num(x) for x in re.findall(r"[2-4][.,]\d{1,3}", m.group(0))]
    if len(vals) >= 3:
        facts["cells"] = vals
        facts["cell_min"], facts["cell_max"] = min(vals), max(vals)
        facts["cell_delta"] = round(max(vals) - min(vals), 4)
        facts["cell_voltage"] = round(sum(vals) / len(vals), 3)


def _quantities(low: str, facts: dict[str, Any]) -> None:
    _cells(low, facts)
    if "cells" in facts:
        low = _CELL_LIST.sub(" ", low)
    amps_seen = []
    for m in _NUM_UNIT.finditer(low):
        v, unit = _num(m.group(1)), m.group(2)
        before, after = _clause_before(low, m.start()), _after(low, m.end())
        if unit in ("s", "p", "ah"):
            continue
        if unit == "%":
            if "soc" in before or "app" in before or "shows" in before or "reads" in before or "%" in m.group(0):
                facts.setdefault("soc", v)
            continue
        if unit in ("°c", "deg", "degree", "degrees", "c"):
            if unit == "c" and not re.search(r"\b(temp|hot|mos|fet|board|bms|warm|reach|hit|at|cell)", before + after):
                continue
            if "mos" in before or "fet" in before or "board" in before or "bms" in before:
                facts["mos_temp"] = v
            else:
                facts.setdefault("mos_temp" if "cell" not in before else "temp_max", v)
            continue
        if unit in ("mv", "millivolt", "millivolts"):
            role = _nearest_role(before, after, _V_ROLES)
            val = round(v / 1000, 4)
            facts["balance_trigger" if role in ("balance_trigger", "balance_start") else "cell_delta"] = val
            continue
        if unit in ("v", "volt", "volts"):
            if "cells" in facts and v < 5:
                continue
            if v <= 5 and re.search(r"\b(?:dash|display)\w*\b[^.\n]{0,40}\bwarn", low[max(0, m.start() - 80):m.start()]) \
                    and re.search(r"\bhigh\w*(?: warning)?\s*(?:at|is|=|:)?\s*$", before):
                facts["dash_high_warning"] = v  # "dash warns low at 3.30v per cell, high at 4.20v"
                continue
            _volts(v, before, after, facts)
            continue
        # amps
        role = _nearest_role(before, after, _CUR_ROLES)
        if _nearest_role(" ", after, _CUR_ROLES) is None and (
                (role not in (None, "continuous") and _ends_with_family(before)) or
                (re.match(r"\s?(?:one|board|bms|unit|model|version)\b", after) and _ends_with_family(before, True))):
            facts["board_rating"] = v  # "regen to 120a on a daly 60a": the 60 A is the board's, not the regen
            continue
        if role is None:
            role = "continuous"
        if role == "continuous" and "continuous" in facts and "peak" not in facts and v != facts["continuous"]:
            # two currents for one role, no peak named: the larger is the peak, whichever came first
            # ("20s 120a 60a", "i need 100a, 40a cont")
            if v > facts["continuous"]:
                role = "peak"
            else:
                facts["peak"] = facts["continuous"]
        if role in ("battery_limit",):
            facts.setdefault("continuous", v)
        facts[role] = v
        amps_seen.append(v)
    if "charge_target" not in facts and "cell_voltage" not in facts:  # "my charger stops at 4.15"
        cs = re.search(r"\b(?:charger|charging)\s(?:\w+\s){0,2}(?:stops|ends|cuts off|finishes|terminates|goes to)\s"
                       r"(?:at\s)?(\d\.\d{1,3})(?![\d.])", low)
        if cs and 3.0 <= _num(cs.group(1)) <= 4.4:
            facts["charge_target"] = _num(cs.group(1))
    if "charge_target" not in facts:  # "charge to 4.1" with no unit
        ct = re.search(r"(?:charge|charging|charged|top up|fill)\s(?:\w+\s){0,3}(?:to|at)\s(\d\.\d{1,3})(?![\d.])", low)
        if ct and 2.0 <= _num(ct.group(1)) <= 4.5:
            facts["charge_target"] = _num(ct.group(1))
    if re.search(r"(?:charge|charging|charged|top up|fill)\s(?:\w+\s){0,3}(?:to|at|above|past|over|beyond|more than)\s(?:[1-9]\d)\s?%", low):
        facts["partial_charge"] = True
        facts.pop("soc", None)
    for field, words in (("cell_ovp", r"cellhighprotect|cell high protect|ovp|over ?voltage protect\w*"),
                         ("cell_uvp", r"celllowprotect|cell low protect|uvp|under ?voltage protect\w*")):
        if field not in facts:  # "4.25 ovp" / "cellhighprotect 4.25" with no unit
            sp = re.search(r"(?<![\d.])([234][.,]\d{1,3})\s?v?\s(?:" + words + r")\b", low) or \
                re.search(r"\b(?:" + words + r")\b\D{0,12}?([234][.,]\d{1,3})(?![\d.])", low)
            if sp:
                facts[field] = _num(sp.group(1))
    if "cell_voltage" not in facts and "charger_voltage" not in facts:  # "with a 4.2 charger": where charging stops
        cc = re.search(r"(?<![\d.])([34][.,]\d{1,2})\s?v?\s(?:per cell |a cell )?(?:charger|brick)\b", low)
        if cc:
            facts["cell_voltage"] = _num(cc.group(1))
    if "balance_trigger" not in facts:
        bt = re.search(r"trig(?:ger)?\D{0,12}(0[.,]\d{1,4})(?![\d.])", low)
        if bt:
            facts["balance_trigger"] = _num(bt.group(1))
    if "cell_delta" not in facts:
        cd = re.search(r"(?:delta|spread|difference|imbalance)\D{0,12}(0[.,]\d{1,4})(?![\d.])", low)
        if cd:
            facts["cell_delta"] = _num(cd.group(1))
    if "cell_voltage" not in facts and "charge_target" not in facts:  # "its at 4.2 per cell"
        pc = re.search(r"(?<![\d.])([234][.,]\d{1,3}) per cell", low)
        if pc:
            facts["cell_voltage"] = _num(pc.group(1))
    if "cell_voltage" not in facts:  # "cells at 4.1", "sitting at 3.9"
        cv = re.search(r"(?:cells?|sitting|each|per cell)\D{0,14}?([234][.,]\d{1,3})(?![\d.%a-z])", low)
        if cv and cv.group(1) and "charge_target" not in facts:
            facts["cell_voltage"] = _num(cv.group(1))


def _volts(v: float, before: str, after: str, facts: dict[str, Any]) -> None:
    per_cell = after.startswith(" per cell") or "per cell" in after[:10]
    role = _nearest_role(before, after, _V_ROLES)
    if role == "balance_start" and v < 1:
        role = "balance_trigger"  # "0.01v balance start": a delta trigger, not a start voltage
    if role in ("cell_delta", "balance_trigger") and v < 1:
        facts[role] = v
        return
    if role == "charger_voltage" and v > 5:
        facts["charger_voltage"] = v
        return
    if role in ("balance_start", "cell_ovp", "cell_uvp", "charge_target", "cell_min", "cell_max") and v <= 5:
        facts[role] = v
        return
    if role == "dash_low_warning":
        facts[role] = v
        return
    if v < 5 or per_cell:
        if v < 1 and not per_cell:
            facts["cell_delta"] = v
            return
        if role == "charge_target":
            facts["charge_target"] = v
        else:
            facts.setdefault("cell_voltage", v)
        return
    if role in ("cell_ovp", "cell_uvp") and v > 5:
        facts[role + "_pack"] = v
        return
    facts.setdefault("pack_voltage", v)


def _states(low: str, facts: dict[str, Any]) -> None:
    if re.search(r"\b(revers\w*|miswir\w*|swapped|backwards|wrong way|wrong order|mixed up)\b", low) and \
            re.search(r"\b(lead|leads|wire|wires|harness|b-|sense|balance|pins?)\b", low) and \
            re.search(r"\b(smok\w*|burn\w*|cook\w*|fried|blew|blown|melt\w*|dead|died|scorch\w*|popped)\b", low):
        facts["damage_after_miswire"] = True  # "balance leads reversed on b- and now resistors smoked"
    if m := re.search(r"\b(?:shows?|showing|reads?|reading|sees?|seeing|detects?|displays?)\s(\d{1,2})\s?cells?\b", low):
        facts["cells_shown"] = int(m.group(1))
    for field, words in _FET_WORDS.items():
        for w in words:
            i = low.find(w)
            while i >= 0:
                if field == "charge_fet" and low[max(0, i - 3):i] == "dis":
                    i = low.find(w, i + 1)  # "discharge fet" is not the charge FET
                    continue
                seg = low[i + len(w): i + len(w) + 22]
                pre = low[max(0, i - 22): i]
                if re.search(r"\b(disable|disabling|turn off|turning off|switch off|switching off|turned off|kill)\b", pre) \
                        or _OFF.search(seg):
                    facts[field] = False
                elif re.search(r"\b(enable|enabling|turn on|turning on|switch on|turned on)\b", pre) or _ON.search(seg):
                    facts[field] = True
                i = low.find(w, i + 1)
    if "charge_fet" not in facts and re.search(r"\b(?:turned|switched|shut|turn|switch) off (?:the )?charging\b|"
                                                r"\b(?:disabled|disable) (?:the )?charging\b|\bcharging (?:turned|switched) off\b", low):
        facts["charge_fet"] = False  # "i turned off charging in the app": the app's charge switch is the charge FET
        if facts.get("state") == "charging":
            facts.pop("state")
    if re.search(r"\bboth (?:fets?|mosfets?|fet banks?|switches)\b(?:\s\w+){0,2}\s(?:on|enabled)", low):
        facts.setdefault("charge_fet", True)
        facts.setdefault("discharge_fet", True)
    if re.search(r"\b(lifepo4?|lfp|life?po|lifepo)\b", low):
        facts["chemistry"] = "lifepo4"
    elif re.search(r"\b(lto|titanate)\b", low):
        facts["chemistry"] = "lto"
    elif re.search(r"\b(li-?ion|nmc|nca|18650|21700|lithium ion|p42a|p45b|molicel|samsung)\b", low):
        facts["chemistry"] = "li-ion"
    for name, cid in CONTROLLERS.items():
        if re.search(r"\b" + re.escape(name) + r"\b", low):
            facts.setdefault("controller", cid)
    if re.search(r"\b(just (?:came|come|taken) off (?:the )?charger|fresh off (?:the )?charger|just (?:finished )?charged|"
                 r"just finished charging|off the charger just now|right after (?:a )?(?:full )?charg\w*)\b", low) and \
            not re.search(r"\b(brak\w*|riding|rode|downhill|mid ride|on a ride)\b", low):
        facts.setdefault("state", "idle")  # resting at the end of a charge: the top cell shows the ceiling
        facts.setdefault("soc", 100.0)
    elif re.search(r"\b(charging|on (?:the )?charger|plugged in|while charging)\b", low) and \
            not re.search(r"\b(brak\w*|downhill|mid ride|on a ride)\b", low):  # "braking right after charging": riding
        facts.setdefault("state", "charging")
    elif re.search(r"\b(riding|mid ride|mid-ride|under load|accelerat|while braking|braking|brakes?|going uphill|hill|"
                   r"downhill)\b", low):
        facts.setdefault("state", "riding")
    elif re.search(r"\b(parked|sitting for|storage|stored|idle|at rest|resting|rested|sat for|sat in|sitting in|unused|"
                   r"overnight|no load)\b", low):
        facts.setdefault("state", "storage" if re.search(r"\b(storage|stored|weeks|months)\b", low) else "idle")
    if m := re.search(r"\b(?:sat|sitting|stored|storage|parked|idle|unused|garage|winter)\b[^.\n]{0,30}?\b(\d{1,3})\s*"
                      r"(days?|weeks?|months?)\b", low):
        facts.setdefault("days_idle", float(m.group(1)) * {"d": 1, "w": 7, "m": 30}[m.group(2)[0]])


def _goals(low: str, facts: dict[str, Any]) -> None:
    if re.search(r"\b(longevity|last longer|lifespan|life span|cycle life|battery life|make the cells last|preserve|"
                 r"long[- ]life|longer life|last (?:as long as (?:possible|it can|i can)|for years|many years|a long time))\b",
                 low):
        facts["goal"] = "longevity"
    elif re.search(r"\bmax(?:imum)? range\b|\bmore range\b", low):
        facts.setdefault("goal", "range")
    if re.search(r"\b(cheap|cheapest|budget|low cost|inexpensive|affordable|not much money|on a dime|broke|money is tight)\b",
                 low):
        facts["budget"] = "low"
    elif re.search(r"\b(money is no object|price doesn'?t matter|premium|high end|no budget)\b", low):
        facts["budget"] = "high"
    if re.search(r"\bno room (?:for|to fit) (?:the |a |any )?(?:discharge )?(?:fets?|mosfets?|a fet board)\b", low) \
            or re.search(r"\bno space for (?:discharge )?fets\b", low):
        facts["space"] = "none"
    elif re.search(r"\b(cramped|no room|limited space|not much space|not much room|side[- ]?mount\w*|"
                   r"(?:next to|beside|alongside) the (?:controller|esc|vesc))\b", low) or (
            re.search(r"\b(tiny|small|tight|narrow|slim|thin|skinny|little|compact)\b", low)
            and re.search(r"\b(deck|space|room|fit|enclosure|housing|battery box|frame)\b", low)):
        facts["space"] = "cramped"
    elif re.search(r"\b(plenty of room|lots of room|roomy|big deck|loads of space)\b", low):
        facts["space"] = "roomy"
    if re.search(r"\b(uptime|can'?t afford (?:to be |any )?(?:downtime|down|stranded|breakdowns?)|must not fail|"
                 r"delivery|deliveries|courier|rental|fleet|daily driver|reliab|never fail|mission critical|no downtime|"
                 r"work every day)\b", low):
        facts["uptime"] = "critical"
    if re.search(r"\b(?:talks?|talking|speaks?|communicat\w*|connects?|integrat\w*|works?|link\w*) (?:to|with) (?:the |my |a )?vesc\b|"
                 r"\bvesc (?:integration|telemetry|compatible|support)\b", low):
        facts["integration"] = "vesc-can"  # "needs to talk to vesc"
    if re.search(r"\b(vesc can|can bus|canbus|over can|vesc (?:dash\w*|app|display|tool|screen)|bridge)\b", low) and re.search(r"\b(telemetry|data|dash|integrat|can|show|see|display)", low):
        facts["integration"] = "vesc-can"
    if re.search(r"\b(full protection|fully protected|regulat|compliance|legal|insurance|certif)", low):
        facts["full_protection"] = True


READING_FIELDS = ("bms", "cells", "series", "board_max_series", "pack_voltage", "charge_fet", "discharge_fet", "chemistry",
                  "controller", "regen_limit", "battery_limit", "charge_ocp", "discharge_ocp", "balance_trigger",
                  "balance_start", "cell_ovp", "cell_uvp", "charge_target", "charger_voltage", "soc", "mos_temp",
                  "state", "goal", "dash_low_warning", "days_idle")


def reading_of(facts: dict[str, Any]) -> dict[str, Any]:
    """The facts a Reading takes (field names of kb/fields.py); the rest stay chat facts."""
    from kb.fields import FIELDS

    out = {k: facts[k] for k in READING_FIELDS if k in facts and k in FIELDS}
    if "cell_voltage" in facts and "series" in facts and "pack_voltage" not in out and "pack_voltage" in FIELDS:
        out["pack_voltage"] = round(facts["cell_voltage"] * facts["series"], 2)
    return out
