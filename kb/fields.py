"""The vocabulary of a reading: every field a rule condition, a flow check or a message may name.

This is the contract between content/ (which names fields) and engine/ (which fills them). The engine's
Reading model must offer exactly these fields (tests/test_reading.py checks it), and kb validation rejects any
condition that names a field not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["number", "int", "bool", "enum", "text", "list"]

FAMILIES = ("jk", "ant", "jbd", "daly", "charge-only")
CHEMISTRIES = ("li-ion", "lifepo4")
STATES = ("riding", "idle", "charging", "storage")
GOALS = ("longevity", "range")
CONTROLLERS = ("vesc", "spintend", "makerbase", "flipsky", "tronic", "wepoor", "stock", "other")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    unit: str = ""
    doc: str = ""
    group: str = "measured"  # identity | measured | settings | context | derived
    values: tuple[str, ...] = ()  # allowed values of an enum
    bounds: tuple[float, float] | None = None  # physically possible range; outside it the reading is rejected
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def derived(self) -> bool:
        return self.group == "derived"


_F = FieldSpec
FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in [
        # identity
        _F("bms", "enum", doc="BMS family", group="identity", values=FAMILIES),
        _F("model", "text", doc="board model or SKU", group="identity"),
        _F("firmware", "text", doc="firmware version", group="identity"),
        _F("series", "int", doc="configured series count", group="identity", bounds=(1, 64)),
        _F("board_max_series", "int", doc="most series the board's harness supports", group="identity", bounds=(1, 64)),
        _F("chemistry", "enum", doc="cell chemistry (li-ion when not given)", group="identity", values=CHEMISTRIES),
        # measured
        _F("cells", "list", "V", "cell voltages, cell 1 first", bounds=(-1.0, 10.0)),
        _F("pack_voltage", "number", "V", "pack voltage", bounds=(0.0, 300.0)),
        _F("current", "number", "A", "pack current, positive = charging (or regen), negative = discharging", bounds=(-2000.0, 2000.0)),
        _F("soc", "number", "%", "state of charge", bounds=(0.0, 100.0)),
        _F("temperatures", "list", "°C", "cell/pack temperature probes", bounds=(-60.0, 250.0)),
        _F("mos_temp", "number", "°C", "MOSFET temperature", bounds=(-60.0, 250.0)),
        _F("charge_fet", "bool", doc="charge MOSFET bank enabled"),
        _F("discharge_fet", "bool", doc="discharge MOSFET bank enabled"),
        _F("balancing", "bool", doc="balancer active now"),
        _F("balance_current", "number", "A", "balancing current", bounds=(-20.0, 20.0)),
        _F("state", "enum", doc="what the pack is doing", values=STATES),
        _F("fault", "text", doc="fault the controller or BMS reports (e.g. under_voltage)"),
        _F("duty", "number", "", "controller duty cycle, 0..1", bounds=(-1.0, 1.0)),
        _F("days_idle", "number", "days", "days the pack sat unused before this reading", bounds=(0.0, 10000.0)),
        # measured in a ride log around an event (engine/logs.py)
        _F("voltage_drop", "number", "V", "how far pack voltage fell at a log event (from just before it; from rest for sag)", bounds=(0.0, 300.0)),
        _F("voltage_rise", "number", "V", "pack voltage rise at a log event beyond what the current explains (a spike)", bounds=(0.0, 300.0)),
        _F("latched", "bool", doc="after a cut in a log, pack voltage stayed down for the rest of the log"),
        _F("log_ended", "bool", doc="the log stops within seconds of the event (LogUI stops logging below 18 V)"),
        # BMS settings
        _F("cell_ovp", "number", "V", "cell over-voltage protection", group="settings", bounds=(0.0, 10.0)),
        _F("cell_ovp_recover", "number", "V", "cell over-voltage recovery", group="settings", bounds=(0.0, 10.0)),
        _F("cell_uvp", "number", "V", "cell under-voltage protection", group="settings", bounds=(0.0, 10.0)),
        _F("cell_uvp_recover", "number", "V", "cell under-voltage recovery", group="settings", bounds=(0.0, 10.0)),
        _F("balance_trigger", "number", "V", "cell delta that starts balancing", group="settings", bounds=(0.0, 2.0)),
        _F("balance_start", "number", "V", "cell voltage above which balancing may run", group="settings", bounds=(0.0, 10.0)),
        _F("charge_ocp", "number", "A", "charge over-current protection (also limits regen)", group="settings", bounds=(0.0, 2000.0)),
        _F("discharge_ocp", "number", "A", "discharge over-current protection", group="settings", bounds=(0.0, 2000.0)),
        _F("rated_continuous", "number", "A", "board's continuous rating", group="settings", bounds=(0.0, 2000.0)),
        _F("rated_peak", "number", "A", "board's peak rating", group="settings", bounds=(0.0, 5000.0)),
        _F("charge_target", "number", "V", "charger's end voltage per cell", group="settings", bounds=(0.0, 10.0)),
        _F("charger_voltage", "number", "V", "charger's end voltage for the pack", group="settings", bounds=(0.0, 300.0)),
        # ride context
        _F("controller", "enum", doc="motor controller", group="context", values=CONTROLLERS),
        _F("regen_limit", "number", "A", "controller's battery regen current limit (magnitude)", group="context", bounds=(0.0, 2000.0)),
        _F("battery_limit", "number", "A", "controller's battery discharge current limit", group="context", bounds=(0.0, 2000.0)),
        _F("dash_low_warning", "number", "V", "dash low-voltage warning, per cell", group="context", bounds=(0.0, 10.0)),
        _F("dash_high_warning", "number", "V", "dash high-voltage warning, per cell", group="context", bounds=(0.0, 10.0)),
        _F("goal", "enum", doc="what the rider optimises for", group="context", values=GOALS),
        _F("fused", "bool", doc="a fuse or contactor sits in the main lead", group="context"),
        _F("uptime_critical", "bool", doc="a cut-out would be dangerous or costly (commuting, high speed)", group="context"),
        # derived by the engine
        _F("cell_count", "int", doc="number of cell voltages given", group="derived"),
        _F("cell_min", "number", "V", "lowest cell", group="derived"),
        _F("cell_max", "number", "V", "highest cell", group="derived"),
        _F("cell_mean", "number", "V", "mean cell voltage (from cells, else pack voltage / series)", group="derived"),
        _F("cell_delta", "number", "V", "highest minus lowest cell", group="derived"),
        _F("cell_min_index", "int", doc="1-based index of the lowest cell", group="derived"),
        _F("cell_max_index", "int", doc="1-based index of the highest cell", group="derived"),
        _F("cells_sum", "number", "V", "pack voltage as the sum of the cells", group="derived"),
        _F("pack_cells_gap", "number", "V", "|pack voltage - sum of cells|", group="derived"),
        _F("dead_cells", "int", doc="cells reading below 0.5 V (unconnected or broken sense lead)", group="derived"),
        _F("discharge_current", "number", "A", "discharge current magnitude (0 when charging)", group="derived"),
        _F("charge_current", "number", "A", "charge or regen current magnitude (0 when discharging)", group="derived"),
        _F("temp_max", "number", "°C", "hottest probe (cells and MOSFET)", group="derived"),
        _F("temp_min", "number", "°C", "coldest probe", group="derived"),
        _F("max_regen", "number", "A", "regen the pack may see: the controller's regen limit, else the measured charge current while riding", group="derived"),
    ]
}

LIST_FIELDS = frozenset(n for n, f in FIELDS.items() if f.kind == "list")
CONDITION_FIELDS = frozenset(n for n, f in FIELDS.items() if f.kind != "list")  # lists are reached through derived values


def describe(name: str) -> str:
    f = FIELDS[name]
    return f"{name} ({f.unit})" if f.unit else name
