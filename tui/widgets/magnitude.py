"""A sparkline of magnitudes on a zero baseline: 0 draws nothing, the largest |value| a full bar.

Textual's Sparkline autoscales min..max, so a discharge current (negative) drew upside down: the 78 A launch
lowest and 0 A after a trip full. Here the bar height is |value| / max|value|; discharge (value < 0) and charge or
regen (value > 0) get different colours, so the sign is not lost.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

BARS = " ▁▂▃▄▅▆▇█"


def magnitude_bars(data: Sequence[float], width: int, floor: float = 0.05) -> list[tuple[str, int]]:
    """(bar, sign) per column for the last values of `data` (several values per column: the largest one wins)."""
    if width <= 0 or not data:
        return []
    values = list(data)
    if len(values) > width:  # bucket: each column shows its largest magnitude
        step = len(values) / width
        values = [max(values[int(i * step):max(int((i + 1) * step), int(i * step) + 1)], key=abs) for i in range(width)]
    top = max((abs(v) for v in values), default=0.0)
    out = []
    for v in values:
        if abs(v) < floor or top < floor:
            out.append((BARS[0], 0))
        else:
            out.append((BARS[max(1, min(8, math.ceil(abs(v) / top * 8)))], -1 if v < 0 else 1))
    return out


class MagnitudeSpark(Widget):
    DEFAULT_CSS = """
    MagnitudeSpark { height: 1; }
    MagnitudeSpark > .magnitude--negative { color: $accent; }
    MagnitudeSpark > .magnitude--positive { color: $success; }
    """
    COMPONENT_CLASSES = {"magnitude--negative", "magnitude--positive"}

    def __init__(self, data: Sequence[float] = (), **kw) -> None:
        super().__init__(**kw)
        self._data = list(data)

    @property
    def data(self) -> list[float]:
        return self._data

    @data.setter
    def data(self, values: Sequence[float]) -> None:
        self._data = list(values)
        self.refresh()

    def render(self) -> Text:
        neg = self.get_component_rich_style("magnitude--negative")
        pos = self.get_component_rich_style("magnitude--positive")
        text = Text()
        for bar, sign in magnitude_bars(self._data, self.size.width):
            text.append(bar, neg if sign < 0 else pos if sign > 0 else "")
        return text
