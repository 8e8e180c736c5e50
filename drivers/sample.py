"""aiobmsble's BMSSample -> reading fields. One mapping for every path that decodes through aiobmsble
(pasted BLE frames, live BLE, the virtual BMS), so they cannot drift apart.

Conventions: aiobmsble already reports volts, amperes with positive = charging, °C and booleans, which are the
reading's conventions; only names and shapes change here. Temperature probes are split by the sensor type
aiobmsble gives them: MOSFET probes -> mos_temp (the hottest one), cell/generic probes -> temperatures,
balancer/heater/ambient/PCB probes are not pack temperatures and are left out.

ANT legacy counts discharge as positive in its raw frame; aiobmsble's decoder already negates it (divides by -10),
so its current is taken as is here like every other family's (negating it again is the classic bug). An
unconnected Daly probe reads 215 °C (raw 255 - 40) and aiobmsble does not flag it: it is left out, with a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from kb.fields import FAMILIES

# aiobmsble TempSensor.T names, grouped by what they tell about the pack
_CELL_PROBES = frozenset({"GENERIC", "CELL", "CELL_MAX", "CELL_MIN"})
_MOS_PROBES = frozenset({"MOSFET"})
DALY_OPEN_PROBE = 215.0  # raw 255 - 40: no NTC on that connector
ANT_OPEN_PROBE = -40.0  # an ANT connector without its NTC reads -40 °C


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _probe(t: Any) -> tuple[float | None, str]:
    """(value, type name) of a TempSensor, or of a bare number (aiobmsble's older samples)."""
    kind = getattr(getattr(t, "type", None), "name", "GENERIC")
    return _num(getattr(t, "value", t)), kind


def split_temperatures(temp_values: Any) -> tuple[list[float], list[float]]:
    """(cell/pack probes, MOSFET probes) from a temp_values list."""
    cells: list[float] = []
    mos: list[float] = []
    for t in temp_values or []:
        value, kind = _probe(t)
        if value is None:
            continue
        if kind in _MOS_PROBES:
            mos.append(value)
        elif kind in _CELL_PROBES:
            cells.append(value)
    return cells, mos


def sample_to_fields(sample: Mapping[str, Any], family: str, notes: list[str] | None = None,
                     variant: str = "") -> dict[str, Any]:
    """Reading fields from one BMSSample. Keys aiobmsble did not report are left out, never guessed.

    `notes`, when given, collects what was left out and why. `variant` names the protocol generation where the
    alarm code's meaning depends on it ('legacy' for ANT AA 55 AA FF, 'x81' for Daly's 0x81 protocol)."""
    out: dict[str, Any] = {}
    if family in FAMILIES:
        out["bms"] = family
    if (v := _num(sample.get("voltage"))) is not None:
        out["pack_voltage"] = round(v, 3)
    if (v := _num(sample.get("current"))) is not None:
        out["current"] = round(v, 3) + 0.0  # + 0.0 turns -0.0 into 0.0
    cells = [c for c in (_num(x) for x in sample.get("cell_voltages") or []) if c is not None]
    if cells:
        out["cells"] = [round(c, 4) for c in cells]
    if isinstance(sample.get("cell_count"), int) and not isinstance(sample.get("cell_count"), bool) \
            and sample["cell_count"] > 0:
        out["series"] = sample["cell_count"]
    if (v := _num(sample.get("battery_level"))) is not None:
        out["soc"] = v
    probes, mos = split_temperatures(sample.get("temp_values"))
    if family == "daly" and DALY_OPEN_PROBE in probes:
        if notes is not None:
            notes.append(f"{probes.count(DALY_OPEN_PROBE)} Daly temperature probe(s) read 215 °C, "
                         "the value of an unconnected probe: left out")
        probes = [p for p in probes if p != DALY_OPEN_PROBE]
    if family == "ant" and any(p <= ANT_OPEN_PROBE for p in probes):
        if notes is not None:
            notes.append(f"{sum(1 for p in probes if p <= ANT_OPEN_PROBE)} ANT temperature probe(s) read -40 °C, "
                         "the value of an open (unconnected) probe: left out")
        probes = [p for p in probes if p > ANT_OPEN_PROBE]
    if probes:
        out["temperatures"] = probes
    elif "temp_values" not in sample and (v := _num(sample.get("temperature"))) is not None:
        out["temperatures"] = [round(v, 1)]  # only the mean was reported
    if mos:
        out["mos_temp"] = max(mos)
    for src, dst in (("chrg_mosfet", "charge_fet"), ("dischrg_mosfet", "discharge_fet")):
        if sample.get(src) is not None:
            out[dst] = bool(sample[src])
    if sample.get("balancer") is not None:
        out["balancing"] = bool(sample["balancer"])  # a bool, or a per-cell bitmask on JBD/Daly: any bit set
    if (v := _num(sample.get("balance_current"))) is not None:
        out["balance_current"] = v
    if "problem_code" in sample:
        from drivers.protection import protection_fields

        out.update(protection_fields(family, sample.get("problem_code"), variant))
    return out
