"""Derived facts: what a technician notes from a reading before applying any rule, each with its provenance.

    facts = derive_facts(reading, kb)      # {field: Fact(value, provenance, basis, citations)}
    values = condition_values(facts, kb)   # what rule conditions see (plus the known() flags)

Provenance says where a value comes from:
  measured  read off the pack (cells, current, temperatures) or computed from such readings (spread, median)
  typed     a setting or context the user gave (regen limit, goal, controller, charger)
  inferred  reasoned from other facts (series from the cell count, chemistry from voltages, regen possible while
            riding); the basis says how
  assumed   a handbook default for a setting nobody gave (content/defaults.yaml); shown as an assumption, never
            silently, and never counted as known by known()/unknown()

The inference thresholds below are ours (engineering judgement from typical cell voltages), not the handbook's; the
rules that turn these facts into advice carry their own `basis`.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kb.fields import FIELDS, KNOWN_PREFIX, LIST_FIELDS

MEASURED, TYPED, INFERRED, ASSUMED = "measured", "typed", "inferred", "assumed"

# Controllers that regen (VESC-class and the makes the handbook names); "stock" and "other" are not assumed to.
REGEN_CAPABLE = frozenset({"vesc", "spintend", "makerbase", "flipsky", "tronic", "wepoor"})

# Per-cell voltage windows (ours, from typical chemistry data): where a charger, an OVP setting or a cell can sit.
_CHARGE_END = {"li-ion": (3.9, 4.45), "lifepo4": (3.4, 3.8), "lto": (2.5, 2.95)}
_OVP = {"li-ion": (3.95, 4.5), "lifepo4": (3.5, 3.9), "lto": (2.6, 3.0)}


_GIVEN_AS = {name: MEASURED if spec.group in ("measured", "log") else TYPED for name, spec in FIELDS.items()}


@dataclass(slots=True)  # not frozen: a frozen dataclass is built 6x slower, and a check makes ~40 (treat as read-only)
class Fact:
    value: Any
    provenance: str
    basis: str = ""
    citations: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"value": self.value, "provenance": self.provenance}
        if self.basis:
            d["basis"] = self.basis
        if self.citations:
            d["citations"] = list(self.citations)
        return d


# ---------------------------------------------------------------- features computed from the cells


def cell_features(cells: list[float]) -> dict[str, Any]:
    """Sense-lead patterns: a negative cell, a zero beside a double, equal-and-opposite neighbours."""
    live = [c for c in cells if c >= 0.5]
    median = statistics.median(live) if live else statistics.median(cells)
    out: dict[str, Any] = {"cell_median": round(median, 4), "negative_cells": sum(1 for c in cells if c < -0.05)}
    zero_double = False
    if median > 0.5:
        for i, c in enumerate(cells):
            if abs(c) < 0.5:
                for j in (i - 1, i + 1):
                    if 0 <= j < len(cells) and abs(cells[j] - 2 * median) < 0.25 * median:
                        zero_double = True
    out["zero_beside_double"] = zero_double
    out["opposite_pair"] = round(_opposite_pair(cells, median), 4)
    return out


def _opposite_pair(cells: list[float], median: float) -> float:
    """Largest x such that two neighbouring cells read about +x and -x from the rest while the rest agree within
    x/2: one tap landed between two others shifts the voltage from one cell to its neighbour, the sum unchanged."""
    best = 0.0
    n = len(cells)
    if n < 3:
        return 0.0
    # Any two cells removed, the rest still spans at least s[-3] - s[2]; with a and b of opposite signs,
    # small <= |a - b| / 2, so a pair whose difference is under 4x that span cannot qualify: most packs end here,
    # without a median per pair
    s = sorted(cells)
    floor = s[-3] - s[2]
    if (s[-1] - s[0]) / 4 + 1e-9 < floor:
        return 0.0
    for i in range(n - 1):
        if abs(cells[i] - cells[i + 1]) / 4 + 1e-9 < floor:
            continue
        rest = cells[:i] + cells[i + 2:]
        ref = statistics.median(rest)
        a, b = cells[i] - ref, cells[i + 1] - ref
        if a * b >= 0:
            continue
        small, large = sorted((abs(a), abs(b)))
        if small == 0 or large > 1.5 * small:
            continue
        spread = max(rest) - min(rest)
        if spread <= small / 2:
            best = max(best, small)
    return best


def basic_features(r) -> dict[str, Any]:
    """The arithmetic of a reading (engine.reading.derive) plus the sense-lead features."""
    from engine.reading import derive

    d = derive(r)
    if r.cells:
        d.update(cell_features(list(r.cells)))
    return d


# ---------------------------------------------------------------- inference


def _window(table: dict[str, tuple[float, float]], v: float) -> set[str]:
    return {chem for chem, (lo, hi) in table.items() if lo <= v <= hi}


def infer_chemistry(values: dict[str, Any], charging: bool | None) -> tuple[set[str], list[str]]:
    """Chemistries the evidence allows, and the evidence in words. An empty set means the evidence conflicts."""
    possible = {"li-ion", "lifepo4", "lto"}
    said: list[str] = []

    def narrow(chems: set[str], why: str) -> None:
        nonlocal possible
        if chems:
            possible &= chems
            said.append(why)

    per_cell = values.get("charge_target")
    if per_cell is None and values.get("charger_voltage") and values.get("series"):
        per_cell = values["charger_voltage"] / values["series"]
    if per_cell:
        narrow(_window(_CHARGE_END, per_cell), f"charging ends at {per_cell:.2f} V per cell")
    if values.get("cell_ovp"):
        narrow(_window(_OVP, values["cell_ovp"]), f"over-voltage protection at {values['cell_ovp']:.2f} V")
    m = values.get("cell_median")
    if m is None and values.get("pack_voltage") and values.get("series"):
        m = values["pack_voltage"] / values["series"]
    if m is not None and 3.15 <= m <= 3.4 and not charging and possible == {"li-ion"}:
        # resting on the LiFePO4 plateau with a Li-ion charger or setting: either an almost empty Li-ion pack or an
        # LFP pack on the wrong charger. That is exactly the case to ask about, not to settle silently.
        said.append(f"yet the cells rest at {m:.2f} V, LiFePO4's mid-charge plateau")
        return {"li-ion", "lifepo4"}, said
    if m is not None and m > 0.5:
        if m > (3.85 if charging else 3.72):
            narrow({"li-ion"}, f"cells sit at {m:.2f} V, above where LiFePO4 rests")
        elif m >= 3.0:
            narrow({"li-ion", "lifepo4"}, f"cells at {m:.2f} V fit Li-ion low in charge or LiFePO4")
        elif m >= 1.5:
            narrow({"li-ion", "lifepo4", "lto"}, f"cells at {m:.2f} V fit a drained pack or LTO")
    return possible, said


def _series(r, d: dict[str, Any]) -> Fact | None:
    if r.series is not None:
        return Fact(r.series, TYPED)
    if r.cells and d.get("cell_count"):
        return Fact(d["cell_count"], INFERRED, f"from the {d['cell_count']} cell voltages")
    return None


def derive_facts(r, kb=None) -> dict[str, Fact]:
    """Every fact a rule may read, with its provenance (see the module docstring)."""
    facts: dict[str, Fact] = {}
    for name, v in r.given().items():
        facts[name] = Fact(v, _GIVEN_AS[name])
    d = basic_features(r)
    for name, v in d.items():
        facts[name] = Fact(v, MEASURED)
    if "max_regen" in d:
        facts["max_regen"] = Fact(d["max_regen"], TYPED if r.regen_limit is not None else MEASURED)

    series = _series(r, d)
    if series is not None:
        facts["series"] = series
        if r.cells is None and r.pack_voltage is not None and series.value:
            facts["cell_mean"] = Fact(round(r.pack_voltage / series.value, 4), MEASURED,
                                      "pack voltage / series")

    # what the pack is doing
    cur, state = r.current, r.state
    if cur is not None:
        facts["at_rest"] = Fact(abs(cur) < 1.0, MEASURED, f"current {cur:g} A")
        facts["under_load"] = Fact(-cur >= 5.0, MEASURED, f"current {cur:g} A")
    elif state is not None:
        facts["at_rest"] = Fact(state in ("idle", "storage"), TYPED, f"state {state}")
        facts["under_load"] = Fact(state == "riding", TYPED, f"state {state}")
    if state == "charging":
        facts["charging_now"] = Fact(True, TYPED, "state charging")
    elif state == "riding":
        facts["charging_now"] = Fact(False, TYPED, "state riding")
    elif cur is not None:
        facts["charging_now"] = Fact(cur > 1.0, INFERRED, f"current {cur:g} A" + (" into the pack" if cur > 1 else ""))
    elif state is not None:
        facts["charging_now"] = Fact(False, TYPED, f"state {state}")
    charging = facts["charging_now"].value if "charging_now" in facts else None
    if "at_rest" in facts or charging is not None:
        rest = facts["at_rest"].value if "at_rest" in facts else None
        if rest or charging:
            source = facts["at_rest"] if rest else facts["charging_now"]
            facts["unloaded"] = Fact(True, source.provenance, "at rest" if rest else "on the charger")
        elif rest is False:
            facts["unloaded"] = Fact(False, facts["at_rest"].provenance, facts["at_rest"].basis)

    # regen: can the controller push current into the pack?
    if r.regen_limit is not None:
        facts["regen_possible"] = Fact(r.regen_limit > 0, TYPED, f"regen limit {r.regen_limit:g} A")
    elif state == "riding" and cur is not None and cur > 1.0:
        facts["regen_possible"] = Fact(True, MEASURED, f"{cur:g} A flowing into the pack while riding")
    elif r.controller in REGEN_CAPABLE:
        facts["regen_possible"] = Fact(True, INFERRED, f"a {r.controller} controller regenerates unless its "
                                       "regen limit is set to 0")
    elif state == "riding" or (facts.get("under_load") and facts["under_load"].value):
        facts["regen_possible"] = Fact(True, INFERRED, "riding: scooter controllers brake regeneratively "
                                       "unless regen is turned off (no regen limit given)")

    # chemistry
    if r.chemistry is None:
        vals = {k: f.value for k, f in facts.items()}
        possible, said = infer_chemistry(vals, charging)
        if len(possible) == 1:
            chem = next(iter(possible))
            facts["chemistry"] = Fact(chem, INFERRED, "; ".join(said))
            facts["chemistry_ambiguous"] = Fact(False, INFERRED, "; ".join(said))
        elif said:
            why = "; ".join(said) + ("" if possible else " (the evidence conflicts)")
            facts["chemistry_ambiguous"] = Fact(True, INFERRED, why)
    else:
        facts["chemistry_ambiguous"] = Fact(False, TYPED)

    # the per-cell ceiling charging ends at
    series_fact = facts.get("series")
    sv = series_fact.value if series_fact is not None else None
    if r.charger_voltage is not None and sv:
        facts["charger_per_cell"] = Fact(round(r.charger_voltage / sv, 4), INFERRED if
                                         facts["series"].provenance != TYPED else TYPED,
                                         f"{r.charger_voltage:g} V charger / {sv} S")
    if r.charge_target is not None:
        facts["charge_ceiling"] = Fact(r.charge_target, TYPED)
    elif "charger_per_cell" in facts:
        facts["charge_ceiling"] = Fact(facts["charger_per_cell"].value, INFERRED, facts["charger_per_cell"].basis)
    elif charging and "cell_max" in facts:  # mid-charge it is only a lower bound, not the ceiling
        facts["charge_seen"] = Fact(facts["cell_max"].value, MEASURED, "top cell seen while charging")
    elif r.soc is not None and r.soc >= 98 and "cell_max" in facts and facts.get("at_rest", Fact(True, "")).value:
        facts["charge_ceiling"] = Fact(facts["cell_max"].value, MEASURED, f"top cell at {r.soc:g} % (just charged)")

    if kb is not None:
        apply_defaults(facts, defaults_of(kb))
    return facts


# ---------------------------------------------------------------- handbook defaults


def defaults_of(kb) -> list[Any]:
    found = getattr(kb, "defaults", None)
    if found is None:  # a KB object from before the typed accessors
        found = getattr(kb, "extra", {}).get("defaults")
    return list(found or [])


def apply_defaults(facts: dict[str, Fact], defaults: Iterable[Any]) -> None:
    """Fill a setting nobody gave with the handbook's default for this family and chemistry, marked assumed."""
    bms = facts["bms"].value if "bms" in facts else None
    chem = facts["chemistry"].value if "chemistry" in facts else None
    for d in defaults:
        if d.field in facts:
            continue
        if d.families and bms not in d.families:
            continue
        if d.chemistry and chem not in d.chemistry:
            continue
        facts[d.field] = Fact(d.value, ASSUMED, d.note, tuple(d.citations))


def assumption_text(name: str, fact: Fact) -> str:
    spec = FIELDS.get(name)
    unit = f" {spec.unit}" if spec and spec.unit else ""
    cites = "".join(f"[^{c}]" for c in fact.citations)
    what = name.replace("_", " ")
    return f"{what} assumed {fact.value:g}{unit}" + (f" ({fact.basis})" if fact.basis else "") + \
        (f" {cites}" if cites else "")


# ---------------------------------------------------------------- what conditions see


def condition_values(facts: dict[str, Fact], known_flags: Iterable[str] = ()) -> dict[str, Any]:
    """Scalar values for the rule engines, plus KNOWN_PREFIX flags for the fields known()/unknown() test."""
    values = {k: f.value for k, f in facts.items() if k not in LIST_FIELDS}
    for name in known_flags:
        f = facts.get(name)
        values[KNOWN_PREFIX + name] = f is not None and f.provenance != ASSUMED
    return values
