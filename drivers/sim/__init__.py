"""The virtual BMS: real protocol frames for scripted packs, so the live path runs end to end without hardware.

    scenario (pack state at time t) -> encoder (JK02 / JBD / ANT / Daly frames) -> VirtualBMS device
    -> VirtualBackend (bleak 3 backend, notifications chunked like real modules) -> aiobmsble (its decoders)
    -> drivers.sample -> Reading -> engine

Modules: state (PackState), encoder (the encoder interface), jk / jbd / ant / daly (one encoder per family),
scenarios (SCENARIOS: scripted time series with the rider's context), device (VirtualBMS, Faults, the backend and
`install()`). drivers.live streams a scenario through all of it (`bmsdoc watch --demo`).
"""

from __future__ import annotations

from typing import Any

# Names are imported on first use, so that `bmsdoc --help` (which lists the scenarios) does not load bleak.
_LAZY = {
    "AntEncoder": "drivers.sim.ant", "DalyEncoder": "drivers.sim.daly", "JbdEncoder": "drivers.sim.jbd",
    "JkEncoder": "drivers.sim.jk", "Encoder": "drivers.sim.encoder", "PackState": "drivers.sim.state",
    "Faults": "drivers.sim.device", "VirtualBMS": "drivers.sim.device", "install": "drivers.sim.device",
    "SCENARIOS": "drivers.sim.scenarios", "Scenario": "drivers.sim.scenarios",
    "DEFAULT_SCENARIO": "drivers.sim.scenarios",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'drivers.sim' has no attribute '{name}'")


FAMILIES = ("jk", "jbd", "ant", "daly")
# one address per family, so a recorded session says which virtual device it came from
ADDRESSES = {"jk": "5E:1D:0C:00:00:01", "jbd": "5E:1D:0C:00:00:02", "ant": "5E:1D:0C:00:00:03",
             "daly": "5E:1D:0C:00:00:04"}


def encoder_for(family: str, layout: str | None = None) -> Any:
    from drivers.sim.ant import AntEncoder
    from drivers.sim.daly import DalyEncoder
    from drivers.sim.jbd import JbdEncoder
    from drivers.sim.jk import JkEncoder

    match family:
        case "jk":
            return JkEncoder(layout or "JK02_32S")
        case "jbd":
            return JbdEncoder()
        case "ant":
            return AntEncoder()
        case "daly":
            return DalyEncoder()
    raise ValueError(f"the virtual BMS speaks {', '.join(FAMILIES)}, not '{family}'")


__all__ = ["ADDRESSES", "DEFAULT_SCENARIO", "FAMILIES", "SCENARIOS", "Encoder", "Faults", "PackState", "Scenario",
           "VirtualBMS", "encoder_for", "install"]
