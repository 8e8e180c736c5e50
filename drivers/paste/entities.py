"""Names people and tools give to readings -> what they are in a reading.

One table serves ESPHome entity names (`jk-bms cell voltage 3`, `... cell voltage overvoltage protection`), Home
Assistant device pages (the same entities, localised values) and typed `key: value` lines. Tools put a
user-chosen prefix before the name ("jk-bms", "e-kart", "_ bms1"): `common_prefix` finds it so that names
are matched whole, which keeps `power off voltage` from being read as the pack voltage.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from engine.reading import canonical_field
from kb.fields import FIELDS


@dataclass(frozen=True)
class Target:
    kind: str  # field | cell | temp | summary | signed_current
    name: str = ""  # field or summary name; for signed_current "+" (charge) or "-" (discharge)
    index: int = 0  # 1-based cell or probe number


_N = r"0*(\d{1,2})"
_TABLE: list[tuple[str, Target | str]] = [
    # cells and probes (the index comes from the pattern)
    (rf"cell (?:voltage|volt|v) ?{_N}|cell ?{_N}(?: voltage)?|voltage cell ?{_N}|v ?{_N}|c ?{_N}", "cell"),
    (rf"temperature (?:sensor|probe) ?{_N}|temp(?:erature)? ?(?:sensor )?{_N}|t ?{_N}|ntc ?{_N}", "temp"),
    # stated summaries: compared with the cells, which they are derived from
    (r"(?:min|minimum|lowest) cell(?: voltage)?|cell(?: voltage)? min(?:imum)?|cellmin", Target("summary", "cell_min")),
    (r"(?:max|maximum|highest) cell(?: voltage)?|cell(?: voltage)? max(?:imum)?|cellmax", Target("summary", "cell_max")),
    (r"(?:delta|diff|difference) cell(?: voltage)?|cell(?: voltage)? (?:delta|diff|difference)|delta|diff"
     r"|celldiff|cell delta|(?:max(?:imum)? )?voltage difference|delta voltage|delta v|imbalance",
     Target("summary", "cell_delta")),
    (r"(?:average|avg|mean) cell(?: voltage)?|cell(?: voltage)? (?:average|avg|mean)|cellavg",
     Target("summary", "cell_mean")),
    # protection settings (before the bare names they end with)
    # ANT's and JK's app names: "Cell High Protect 4.25V", "Cell Low Recover 2.90V", "cellhighprotect"
    (r"cell ?high ?(?:voltage )?(?:protect(?:ion)? )?(?:recover(?:y)?|release)(?: voltage)?",
     Target("field", "cell_ovp_recover")),
    (r"cell ?high ?(?:voltage )?protect(?:ion)?(?: voltage)?", Target("field", "cell_ovp")),
    (r"cell ?low ?(?:voltage )?(?:protect(?:ion)? )?(?:recover(?:y)?|release)(?: voltage)?",
     Target("field", "cell_uvp_recover")),
    (r"cell ?low ?(?:voltage )?protect(?:ion)?(?: voltage)?", Target("field", "cell_uvp")),
    (r"(?:cell )?(?:voltage )?over ?voltage (?:protection )?(?:recovery|recover|release)|ovpr|ovp recovery",
     Target("field", "cell_ovp_recover")),
    (r"(?:cell )?(?:voltage )?over ?voltage(?: protection)?|cell ovp|ovp", Target("field", "cell_ovp")),
    (r"(?:cell )?(?:voltage )?under ?voltage (?:protection )?(?:recovery|recover|release)|uvpr|uvp recovery",
     Target("field", "cell_uvp_recover")),
    (r"(?:cell )?(?:voltage )?under ?voltage(?: protection)?|cell uvp|uvp", Target("field", "cell_uvp")),
    (r"balance trigger(?: voltage)?|balancing trigger(?: voltage)?|balance (?:delta|differential)(?: voltage)?"
     r"|start balance delta|balance trig\.?(?: ?volt(?:age)?\.?)?|bal(?:ance)? trig(?:ger)?\.? ?volt\.?",
     Target("field", "balance_trigger")),
    (r"(?:balance|balancing) start(?:ing)? voltage|start balance(?: voltage| volt\.?)?|balance start(?: volt\.?)?",
     Target("field", "balance_start")),
    (r"max(?:imum)? charge current|charge over ?current(?: protection)?|charge ocp",
     Target("field", "charge_ocp")),
    (r"max(?:imum)? discharge current|discharge over ?current(?: protection)?|discharge ocp",
     Target("field", "discharge_ocp")),
    (r"cell count|cells count|number of cells|cell number|(?:battery |cell )?strings?(?: count)?|series(?: count)?",
     Target("field", "series")),
    # measured values
    (r"(?:mosfet|mos|power tube|fet|mos tube)(?: temperature| temp)", Target("field", "mos_temp")),
    (r"(?:total|battery|pack)(?: voltage)?|voltage|total battery voltage", Target("field", "pack_voltage")),
    (r"(?:battery |pack )?current", Target("field", "current")),
    (r"charger(?: voltage| output| volts)?", Target("field", "charger_voltage")),
    (r"(?:balancing|balance|balancer) current", Target("field", "balance_current")),
    (r"state of charge|soc|battery level|capacity percent|percent capacity|percentcapacity|rsoc",
     Target("field", "soc")),
    (r"charging|charge(?: mosfet| mos| fet| switch)(?: status| state)?|charging (?:mosfet|mos|switch)(?: status| state)?",
     Target("field", "charge_fet")),
    (r"discharging|discharge(?: mosfet| mos| fet| switch)(?: status| state)?|discharging (?:mosfet|mos|switch)(?: status| state)?",
     Target("field", "discharge_fet")),
    (r"balancing|balancing active|balancer status", Target("field", "balancing")),
    (r"errors|error|alarm|alarms|fault|faults|protection status|protection state|protect status|protection",
     Target("field", "fault")),
    (r"(?:charge|charging) current", Target("signed_current", "+")),
    (r"(?:discharge|discharging) current", Target("signed_current", "-")),
]
_COMPILED = [(re.compile(rf"(?:{pat})"), t) for pat, t in _TABLE]
_ANY = re.compile("|".join(f"(?:{pat})" for pat, _t in _TABLE))  # one pass to ask "is this a known name?"


def norm(name: str) -> str:
    """Lower case, one space between words (underscores, tabs and repeated spaces folded)."""
    return re.sub(r"[\s_]+", " ", name.strip().strip("'\"").lower()).strip()


def _indexed(m: re.Match, kind: str) -> Target:
    idx = next(int(g) for g in m.groups() if g is not None)
    return Target(kind, index=idx)


@lru_cache(maxsize=4096)
def lookup(name: str, prefix: str = "") -> Target | None:
    """What a whole name means (after dropping the tool's prefix), else None."""
    s = norm(name)
    if prefix and s.startswith(prefix):
        s = s[len(prefix):].strip()
    for rx, t in _COMPILED:
        m = rx.fullmatch(s)
        if m:
            return _indexed(m, t) if isinstance(t, str) else t
    field = canonical_field(s)
    if field and not FIELDS[field].derived:
        return Target("field", field)
    if field in ("cell_delta", "cell_min", "cell_max", "cell_mean"):
        return Target("summary", field)
    if field == "cell_count":
        return Target("field", "series")
    return None


@lru_cache(maxsize=4096)
def _suffix_start(s: str) -> int | None:
    """Where the longest known name at the end of s begins (0 or just after a separator)."""
    starts = [0] + [i + 1 for i, ch in enumerate(s) if not ch.isalnum()]
    for i in starts:
        rest = s[i:].strip()
        if rest and _ANY.fullmatch(rest):
            return i
    return None


def common_prefix(names: list[str]) -> str:
    """The user-chosen entity prefix shared by most names ('jk-bms ', 'e-kart ', '')."""
    counts: Counter[str] = Counter()
    for name in names:
        s = norm(name)
        i = _suffix_start(s)
        if i is not None:
            counts[s[:i]] += 1
    if not counts:
        return ""
    prefix, n = counts.most_common(1)[0]
    return prefix if n * 2 >= len(names) or n >= 3 else ""
