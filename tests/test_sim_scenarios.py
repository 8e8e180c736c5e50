"""Every demo scenario, spoken in each of the four protocols, through the real aiobmsble decoders and the engine:
virtual BMS -> frames -> aiobmsble -> Reading -> engine.check. Checks the findings that must (and must not) appear,
and when. Scenario clocks are stepped one second per poll, so a 60-second scenario takes a fraction of a second."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from drivers.live import DemoSource, stream
from drivers.sim import SCENARIOS

FAMILIES = ("jk", "jbd", "ant", "daly")


def run(scenario: str, family: str, kb: Any) -> list[tuple[float, Any, list[Any]]]:
    """(t, reading, findings) for every reading of the scenario."""
    from engine.check import check

    async def go() -> list[tuple[float, Any, list[Any]]]:
        out = []
        async for ev in stream(DemoSource(scenario, family, rate=1.0, realtime=False)):
            if ev.kind == "reading":
                out.append((ev.t, ev.reading, check(ev.reading, kb).findings))
            elif ev.kind == "error":
                raise AssertionError(f"stream error: {ev.detail}")
        return out

    return asyncio.run(go())


def first(rows, pred) -> float | None:
    return next((t for t, _r, fs in rows if any(pred(f) for f in fs)), None)


@pytest.mark.parametrize("family", FAMILIES)
def test_healthy_ride_is_quiet(family: str, kb: Any) -> None:
    rows = run("healthy-ride", family, kb)
    assert len(rows) == 60 and rows[0][1].bms == family
    loud = [(t, f.rule, f.severity) for t, _r, fs in rows for f in fs if f.severity in ("warning", "critical")]
    assert loud == []


@pytest.mark.parametrize("family", FAMILIES)
def test_regen_with_the_charge_fet_off_is_critical_and_cites_4(family: str, kb: Any) -> None:
    rows = run("regen-charge-fet-off", family, kb)
    crit4 = first(rows, lambda f: f.severity == "critical" and "4" in f.citations)
    assert crit4 == 12.0  # the first braking trips OVP at 12 s; nothing critical before
    hit = next(f for t, _r, fs in rows if t == 12.0 for f in fs if f.severity == "critical")
    assert hit.rule == "fet.charge-off-with-regen"
    assert hit.evidence["charge_fet"] is False and hit.evidence["regen_possible"] is True
    assert first(rows, lambda f: f.rule == "regen.full-pack") == 11.0  # the warning just before the trip


@pytest.mark.parametrize("family", FAMILIES)
def test_growing_imbalance_escalates_from_warning_to_critical(family: str, kb: Any) -> None:
    rows = run("growing-imbalance", family, kb)
    warn = first(rows, lambda f: f.rule == "balance.spread-load-warning")
    crit = first(rows, lambda f: f.rule == "balance.spread-load-critical")
    assert warn is not None and crit is not None and 0 < warn < crit
    deltas = [r.derived()["cell_delta"] for _t, r, _f in rows]
    assert deltas[-1] > 0.4 > deltas[0]
    assert all(r.derived()["cell_min_index"] == 5 for t, r, _f in rows if t >= 10)  # the weak cell is cell 5


@pytest.mark.parametrize("family", FAMILIES)
def test_sense_lead_fault_flags_an_implausible_cell(family: str, kb: Any) -> None:
    rows = run("sense-lead-fault", family, kb)
    assert first(rows, lambda f: f.severity == "critical") == 16.0
    assert first(rows, lambda f: f.rule == "wiring.cell-implausibly-high") == 16.0
    faulty = next(r for t, r, _f in rows if t == 16.0)
    assert faulty.cells[7] > 4.5 and faulty.cells[6] < 3.1  # cell 8 high, cell 7 low by the same amount
    assert faulty.derived()["pack_cells_gap"] < 0.1  # their sum, and the pack voltage, stay right
    calm = next(fs for t, _r, fs in rows if t == 19.0)  # the lead makes contact again
    assert not any(f.rule == "wiring.cell-implausibly-high" for f in calm)


@pytest.mark.parametrize("family", FAMILIES)
def test_overcurrent_trip_latches_the_discharge_fet(family: str, kb: Any) -> None:
    rows = run("overcurrent-trip", family, kb)
    assert first(rows, lambda f: f.rule == "current.battery-limit-above-ocp") == 0.0
    assert first(rows, lambda f: f.rule == "current.discharge-above-continuous") == 25.0
    assert first(rows, lambda f: f.rule == "fet.discharge-off-while-riding" and f.severity == "critical") == 27.0
    latched = [fs for t, _r, fs in rows if t >= 27.0]
    assert latched and all(any(f.rule == "fet.discharge-off-while-riding" for f in fs) for fs in latched)
    tripped = next(r for t, r, _f in rows if t == 30.0)
    assert tripped.discharge_fet is False and tripped.current == 0.0 and tripped.fault


def test_every_scenario_carries_the_riders_context() -> None:
    for s in SCENARIOS.values():
        assert {"series", "chemistry", "state", "regen_limit"} <= set(s.context), s.name
        assert s.description and s.duration > 0
        st = s.state_at(0.0)
        assert len(st.cells) == s.context["series"]
