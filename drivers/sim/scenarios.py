"""Scripted scenarios for the virtual BMS: pack states as a function of scenario time, plus the context a rider
would enter (series, chemistry, regen limit, ratings, protection settings), which no BMS reports over BLE.

Every scenario is a 13S Li-ion 20 Ah scooter pack on a ride, deterministic (no randomness: tests and demos see the
same pack at the same scenario second). Cell voltages come from an open-circuit-voltage curve, the state of charge,
the current through a per-cell resistance and a fixed per-cell spread of a few millivolts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from drivers.sim.state import PackState

SERIES = 13
CAPACITY_AH = 20.0
R_CELL = 0.005  # ohm per parallel group: 25 A of load sags each cell by 0.125 V
SPREAD = (0.002, -0.001, 0.003, 0.000, -0.002, 0.001, -0.003, 0.002, 0.000, -0.001, 0.003, -0.002, 0.001)
# open-circuit voltage of an NMC cell against state of charge (%)
OCV = ((0, 3.00), (5, 3.30), (10, 3.45), (20, 3.55), (40, 3.65), (60, 3.80), (80, 3.98), (90, 4.07), (100, 4.18))


def ocv(soc: float) -> float:
    soc = max(0.0, min(100.0, soc))
    for (s0, v0), (s1, v1) in zip(OCV, OCV[1:]):
        if soc <= s1:
            return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)
    return OCV[-1][1]


def ride_current(t: float) -> float:
    """A 20-second city loop: launch, cruise, brake with regen, stop, cruise. Amps, + = charging (regen)."""
    p = t % 20.0
    if p < 3.0:
        return -28.0
    if p < 11.0:
        return -13.5 + 1.5 * math.sin(p)
    if p < 13.0:
        return 8.0  # regenerative braking
    if p < 16.0:
        return -0.4  # standing: lights and controller
    return -10.0


def _soc(soc0: float, t: float, mean_current: float = -11.0) -> float:
    return max(0.0, soc0 + mean_current * t / 3600.0 / CAPACITY_AH * 100.0)


def pack(t: float, soc: float, current: float, *, offsets: tuple[float, ...] = (), **kw: Any) -> PackState:
    base = ocv(soc) + current * R_CELL
    cells = tuple(round(base + SPREAD[i] + (offsets[i] if i < len(offsets) else 0.0), 3) for i in range(SERIES))
    heat = 0.03 * t + 0.04 * abs(current)
    defaults: dict[str, Any] = dict(
        cells=cells, current=round(current, 2), soc=round(soc, 1),
        temps=(round(26.0 + 0.5 * heat, 1), round(25.5 + 0.4 * heat, 1)), mos_temp=round(28.0 + heat, 1),
        capacity_ah=CAPACITY_AH,
    )
    defaults.update(kw)
    return PackState(**defaults)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration: float  # scenario seconds
    state_at: Callable[[float], PackState]
    context: dict[str, Any] = field(default_factory=dict)  # reading fields a rider would enter
    shows: tuple[str, ...] = ()  # what a rider should see flagged (for the help text and the tests' messages)


# ---------------------------------------------------------------------------------------------- the scenarios

_RIDE_CONTEXT = {"series": SERIES, "chemistry": "li-ion", "state": "riding", "rated_continuous": 40,
                 "rated_peak": 80, "cell_ovp": 4.25, "cell_uvp": 2.9}


def _healthy(t: float) -> PackState:
    return pack(t, _soc(82.0, t), ride_current(t))


def _regen_fet_off(t: float) -> PackState:
    # Straight off the charger. The first hard braking pushes the top cell over the 4.20 V OVP setting: the BMS opens
    # the charge FET and keeps it open (the cells rest above the 4.10 V recovery), so later regen has nowhere to go.
    i = ride_current(t)
    soc = min(100.0, _soc(99.5, t))
    tripped = t >= 12.0
    if tripped and i > 0:
        i = 0.0  # regen is blocked by the open charge FET: the controller sees a voltage spike instead
    st = pack(t, soc, i * 1.6 if i > 0 else i)
    if 11.0 <= t < 12.0:
        st = replace(st, cells=tuple(round(c + 0.012, 3) for c in st.cells))
    if tripped:
        st = replace(st, charge_fet=False, alarm="cell_overvoltage")
    return st


def _imbalance(t: float) -> PackState:
    # Cell 5 has lost capacity: its voltage falls away from the others, further under load, and the balancer
    # (running) cannot keep up.
    i = ride_current(t)
    weak = -(0.012 + 0.006 * t) * (1.0 + max(0.0, -i) / 30.0)
    offsets = tuple(weak if k == 4 else 0.0 for k in range(SERIES))
    st = pack(t, _soc(70.0, t), i, offsets=offsets)
    delta = max(st.cells) - min(st.cells)
    return replace(st, balancing=delta > 0.010, balance_current=0.6 if delta > 0.010 else 0.0)


def _sense_lead(t: float) -> PackState:
    # From 15 s the sense lead between cells 7 and 8 makes intermittent contact: the BMS reads cell 7 low and cell 8
    # high by the same amount (their sum, and the pack voltage, stay right). The high reading trips its OVP.
    i = ride_current(t)
    st = pack(t, _soc(64.0, t), i)
    fault = t >= 15.0 and (t % 4.0) < 2.5
    if fault:
        cells = list(st.cells)
        cells[6] = round(cells[6] - 0.75, 3)
        cells[7] = round(cells[7] + 0.75, 3)
        st = replace(st, cells=tuple(cells), pack_voltage=st.voltage)
    if fault:  # the BMS believes cell 8 is over-voltage: it opens the charge FET while the false reading lasts
        st = replace(st, charge_fet=False, alarm="cell_overvoltage", current=min(st.current, 0.0))
    return st


def _overcurrent(t: float) -> PackState:
    # A hard launch at 25 s pulls 78 A, over the BMS's 60 A discharge over-current setting (the controller allows
    # 80 A): the BMS opens the discharge FET and latches. Throttle does nothing afterwards; the pack rests.
    if t < 25.0:
        return pack(t, _soc(76.0, t), ride_current(t))
    if t < 27.0:
        return pack(t, _soc(76.0, t), -78.0)
    st = pack(t, _soc(76.0, 27.0), 0.0)
    return replace(st, discharge_fet=False, alarm="discharge_overcurrent")


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("healthy-ride", "a normal 13S ride: launches, cruise, gentle regen; nothing to flag", 60.0, _healthy,
                 {**_RIDE_CONTEXT, "regen_limit": 10, "battery_limit": 25, "charge_ocp": 20, "discharge_ocp": 60},
                 ()),
        Scenario("regen-charge-fet-off",
                 "straight off the charger, the first braking trips OVP: the charge FET opens while regen is set to 30 A",
                 60.0, _regen_fet_off,
                 {**_RIDE_CONTEXT, "regen_limit": 30, "battery_limit": 25, "cell_ovp": 4.20,
                  "cell_ovp_recover": 4.10, "charge_ocp": 30, "discharge_ocp": 60},
                 ("charge FET off while regen can flow (critical)",)),
        Scenario("growing-imbalance", "cell 5 drifts away under load while the balancer runs: delta grows past 0.4 V",
                 60.0, _imbalance, {**_RIDE_CONTEXT, "regen_limit": 10},
                 ("cell imbalance, growing to critical",)),
        Scenario("sense-lead-fault",
                 "from 15 s cells 7/8 read 0.75 V low/high in turn (a loose balance lead); OVP trips on the false high",
                 60.0, _sense_lead, {**_RIDE_CONTEXT, "regen_limit": 10},
                 ("a cell above OVP next to a cell far below the rest (sense lead)",)),
        Scenario("overcurrent-trip",
                 "a 78 A launch at 25 s trips the 60 A discharge over-current protection, which latches off",
                 60.0, _overcurrent,
                 {**_RIDE_CONTEXT, "regen_limit": 10, "battery_limit": 80, "discharge_ocp": 60, "charge_ocp": 20},
                 ("discharge FET off while riding", "controller battery limit above the BMS over-current setting")),
    ]
}

DEFAULT_SCENARIO = "healthy-ride"


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario '{name}' (known: {', '.join(SCENARIOS)})") from None
