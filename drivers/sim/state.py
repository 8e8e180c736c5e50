"""The state of a virtual pack at one instant: what an encoder turns into protocol frames."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PackState:
    """Physical quantities in the reading's conventions (V, A with positive = charging, °C)."""

    cells: tuple[float, ...]
    current: float = 0.0
    soc: float = 80.0
    temps: tuple[float, ...] = (25.0, 25.0)  # cell/pack probes
    mos_temp: float = 28.0
    charge_fet: bool = True
    discharge_fet: bool = True
    balancing: bool = False
    balance_current: float = 0.0  # A (JK reports it; other families have no field for it)
    capacity_ah: float = 20.0
    cycles: int = 12
    remaining: float | None = None  # Ah left; None: capacity x SoC
    alarm: str | None = None  # family-neutral alarm the BMS raises: "discharge_overcurrent", "charge_overcurrent"
    pack_voltage: float | None = field(default=None)  # None: the sum of the cells

    @property
    def voltage(self) -> float:
        return self.pack_voltage if self.pack_voltage is not None else round(sum(self.cells), 3)

    @property
    def remaining_ah(self) -> float:
        return self.remaining if self.remaining is not None else round(self.capacity_ah * self.soc / 100.0, 3)

    def balancing_mask(self) -> int:
        """Per-cell balancing bits (cell 1 = bit 0), for the families that report a bitmask: the cells more than
        10 mV above the lowest one bleed while balancing is on."""
        if not self.balancing or not self.cells:
            return 0
        lo = min(self.cells)
        mask = sum(1 << i for i, v in enumerate(self.cells) if v > lo + 0.010)
        return mask or 1 << self.cells.index(max(self.cells))
