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
CHEMISTRIES = ("li-ion", "lifepo4", "lto")
STATES = ("riding", "idle", "charging", "storage")
GOALS = ("longevity", "range")
CONTROLLERS = ("vesc", "spintend", "makerbase", "flipsky", "tronic", "wepoor", "stock", "other")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    unit: str = ""
    doc: str = ""
    group: str = "measured"  # identity | measured | settings | context | protection | derived
    values: tuple[str, ...] = ()  # allowed values of an enum
    bounds: tuple[float, float] | None = None  # physically possible range; outside it the reading is rejected
    aliases: tuple[str, ...] = field(default_factory=tuple)
    # for a derived or inferred field: the input fields a rider gives so that it can be known (what to ask for)
    ask_for: tuple[str, ...] = ()

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
        _F("chemistry", "enum", doc="cell chemistry (inferred from voltages when not given)", group="identity", values=CHEMISTRIES),
        # measured
        _F("cells", "list", "V", "cell voltages, cell 1 first (a negative cell is a reversed sense pair: evidence, not bad input)", bounds=(-10.0, 20.0)),
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
        _F("voltage_drop", "number", "V", "how far pack voltage fell at a log event (from just before it; from rest for sag)", bounds=(0.0, 300.0), group="log"),
        _F("voltage_rise", "number", "V", "pack voltage rise at a log event beyond what the current explains (a spike)", bounds=(0.0, 300.0), group="log"),
        _F("latched", "bool", doc="after a cut in a log, pack voltage stayed down for the rest of the log", group="log"),
        _F("log_ended", "bool", doc="the log stops within seconds of the event (LogUI stops logging below 18 V)", group="log"),
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
        # protection: the BMS's own alarm state, decoded per family by drivers/protection.py (tables in
        # drivers/protection.yaml); prot_* are true while that protection is tripped (or its alarm raised)
        _F("protection_active", "bool", doc="the BMS reports a protection trip or alarm now", group="protection", ask_for=("alarm_text",)),
        _F("prot_cell_ovp", "bool", doc="cell over-voltage protection tripped (JK also: battery full)", group="protection", ask_for=("alarm_text",)),
        _F("prot_cell_uvp", "bool", doc="cell under-voltage protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_pack_ovp", "bool", doc="pack over-voltage protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_pack_uvp", "bool", doc="pack under-voltage protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_charge_ocp", "bool", doc="charge (and regen) over-current protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_discharge_ocp", "bool", doc="discharge over-current protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_short_circuit", "bool", doc="short-circuit protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_charge_otp", "bool", doc="charge over-temperature protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_discharge_otp", "bool", doc="discharge over-temperature protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_charge_utp", "bool", doc="charge under-temperature protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_discharge_utp", "bool", doc="discharge under-temperature protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_mos_otp", "bool", doc="MOSFET (power stage) over-temperature protection tripped", group="protection", ask_for=("alarm_text",)),
        _F("prot_fet_lock", "bool", doc="a MOSFET bank is locked off by software or a fault (JBD MOSFET software lock, MOSFET abnormal)", group="protection", ask_for=("alarm_text",)),
        _F("prot_cell_imbalance", "bool", doc="cell voltage difference alarm", group="protection", ask_for=("alarm_text",)),
        _F("prot_sensor_fault", "bool", doc="a sensing fault (wire resistance, cell count, current or temperature sensor, front-end IC)", group="protection", ask_for=("alarm_text",)),
        _F("alarm_code", "text", doc="the raw alarm code, family-prefixed (e.g. jk:0x0010)", group="protection"),
        _F("alarm_text", "text", doc="the alarm code in words", group="protection"),
        # derived by the engine
        _F("cell_count", "int", doc="number of cell voltages given", group="derived", ask_for=('cells',)),
        _F("cell_min", "number", "V", "lowest cell", group="derived", ask_for=('cells',)),
        _F("cell_max", "number", "V", "highest cell", group="derived", ask_for=('cells',)),
        _F("cell_mean", "number", "V", "mean cell voltage (from cells, else pack voltage / series)", group="derived", ask_for=('cells',)),
        _F("cell_delta", "number", "V", "highest minus lowest cell", group="derived", ask_for=('cells',)),
        _F("cell_min_index", "int", doc="1-based index of the lowest cell", group="derived", ask_for=('cells',)),
        _F("cell_max_index", "int", doc="1-based index of the highest cell", group="derived", ask_for=('cells',)),
        _F("cells_sum", "number", "V", "pack voltage as the sum of the cells", group="derived", ask_for=('cells',)),
        _F("pack_cells_gap", "number", "V", "|pack voltage - sum of cells|", group="derived", ask_for=('cells', 'pack_voltage')),
        _F("dead_cells", "int", doc="cells reading below 0.5 V (unconnected or broken sense lead)", group="derived", ask_for=('cells',)),
        _F("discharge_current", "number", "A", "discharge current magnitude (0 when charging)", group="derived", ask_for=('current',)),
        _F("charge_current", "number", "A", "charge or regen current magnitude (0 when discharging)", group="derived", ask_for=('current',)),
        _F("temp_max", "number", "°C", "hottest probe (cells and MOSFET)", group="derived", ask_for=('temperatures', 'mos_temp')),
        _F("temp_min", "number", "°C", "coldest probe", group="derived", ask_for=('temperatures',)),
        _F("max_regen", "number", "A", "regen the pack may see: the controller's regen limit, else the measured charge current while riding", group="derived", ask_for=("regen_limit",)),
        # derived facts a technician notes (engine/facts.py; each carries its provenance in the report)
        _F("cell_median", "number", "V", "median cell voltage", group="derived", ask_for=("cells",)),
        _F("negative_cells", "int", doc="cells reading below -0.05 V (a reversed sense pair)", group="derived", ask_for=("cells",)),
        _F("zero_beside_double", "bool", doc="a cell near 0 V next to one reading about twice the others (a lead landed on the wrong tap)", group="derived", ask_for=("cells",)),
        _F("opposite_pair", "number", "V", "largest equal-and-opposite deviation of two neighbouring cells from the rest (a shifted tap)", group="derived", ask_for=("cells",)),
        _F("charger_per_cell", "number", "V", "charger end voltage divided by the series count", group="derived", ask_for=("charger_voltage", "series")),
        _F("charge_ceiling", "number", "V", "the per-cell voltage charging ends at: the typed target, else charger / series, else the top cell just after a full charge", group="derived", ask_for=("charge_target",)),
        _F("charge_seen", "number", "V", "the top cell seen while charging: a lower bound of the ceiling", group="derived", ask_for=("charge_target",)),
        _F("at_rest", "bool", doc="no current flows (idle, storage, or |current| < 1 A)", group="derived", ask_for=("state", "current")),
        _F("under_load", "bool", doc="the pack is being discharged hard (riding, or >= 5 A out)", group="derived", ask_for=("state", "current")),
        _F("unloaded", "bool", doc="no discharge load: at rest or on the charger (cell spread reads like at rest)", group="derived", ask_for=("state", "current")),
        _F("charging_now", "bool", doc="the pack is on the charger (state charging, or charge current at rest)", group="derived", ask_for=("state", "current")),
        _F("regen_possible", "bool", doc="the controller can push regen current into the pack (riding, or a regen-capable controller), unless the regen limit is 0", group="derived", ask_for=("regen_limit", "controller", "state")),
        _F("chemistry_ambiguous", "bool", doc="the voltages fit more than one chemistry and none was given", group="derived", ask_for=("chemistry",)),
    ]
}

LIST_FIELDS = frozenset(n for n, f in FIELDS.items() if f.kind == "list")
CONDITION_FIELDS = frozenset(n for n, f in FIELDS.items() if f.kind != "list")  # lists are reached through derived values


def ask_for(name: str) -> tuple[str, ...]:
    """The input fields to ask a rider for so that `name` becomes known."""
    f = FIELDS[name]
    return f.ask_for or (name,)


KNOWN_PREFIX = "known__"  # values[KNOWN_PREFIX + f] is True when f is known (measured, typed or inferred, not assumed)


def describe(name: str) -> str:
    f = FIELDS[name]
    return f"{name} ({f.unit})" if f.unit else name
