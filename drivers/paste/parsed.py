"""What a paste parser hands back, and the finishing steps every shape shares (cells, summaries)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Parsed:
    """Reading fields in the reading's units and conventions, plus what was understood and what was not sure."""

    fields: dict[str, Any] = field(default_factory=dict)
    format: str = ""
    notes: list[str] = field(default_factory=list)
    ambiguities: list[str] = field(default_factory=list)
    # figures the paste stated that the reading derives itself (cell delta, min, max, mean): kept to compare
    summary: dict[str, float] = field(default_factory=dict)
    # True when the paste was understood and simply holds no measurement ("No faults registered since startup")
    nothing_to_read: bool = False

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def unsure(self, text: str) -> None:
        if text not in self.ambiguities:
            self.ambiguities.append(text)


def _span(indexes: list[int]) -> str:
    return f"{indexes[0]}-{indexes[-1]}" if len(indexes) > 1 else str(indexes[0])


def cells_from_indexed(indexed: dict[int, float], p: Parsed, what: str = "cells") -> list[float]:
    """Cell voltages in index order from {1-based index: volts}; gaps are reported, not filled."""
    if not indexed:
        return []
    top = max(indexed)
    missing = [i for i in range(1, top + 1) if i not in indexed]
    if missing:
        p.unsure(f"{what}: no value for cell {', '.join(map(str, missing))}; the cells were taken in order without it")
    return [indexed[i] for i in sorted(indexed)]


def drop_unused_cells(cells: list[float], p: Parsed, series: int | None = None) -> list[float]:
    """Trailing cells at exactly 0 V are channels the board has but the pack does not use; with a known series
    count, only the channels beyond it are (a 0 V cell inside the string is a dead cell or lead, kept)."""
    n = len(cells)
    floor = series if series and series <= len(cells) else 0
    while n > floor and cells[n - 1] == 0:
        n -= 1
    if n == 0 or not any(cells[:n]):
        p.unsure("every cell reads 0 V: no cell voltages were taken")
        return []
    if n < len(cells):
        p.note(f"cells {_span(list(range(n + 1, len(cells) + 1)))} read 0 V and were dropped as unused "
               f"({n} cells remain)")
    dead = [i + 1 for i, c in enumerate(cells[:n]) if c < 0.5]
    if dead:
        p.note(f"cell {', '.join(map(str, dead))} reads below 0.5 V among live cells: kept (a broken sense lead "
               f"or a dead cell)")
    return cells[:n]


def finish(p: Parsed) -> Parsed:
    """Shared last steps: an alarm typed in words, unused cells, series against the cell count, stated summaries
    against the cells."""
    if isinstance(p.fields.get("alarm_text"), str) and "protection_active" not in p.fields:
        from drivers.protection import fields_from_words

        p.fields.update(fields_from_words(p.fields["alarm_text"]))
    cells = p.fields.get("cells")
    if cells:
        series = p.fields.get("series")
        cells = drop_unused_cells(list(cells), p, series if isinstance(series, int) else None)
        if cells:
            p.fields["cells"] = cells
        else:
            p.fields.pop("cells")
    cells = p.fields.get("cells")
    series = p.fields.get("series")
    if cells and series and series != len(cells):
        p.unsure(f"series is given as {series} but {len(cells)} cell voltages were found")
    if cells:
        lo, hi = min(cells), max(cells)
        found = {"cell_min": lo, "cell_max": hi, "cell_delta": round(hi - lo, 4),
                 "cell_mean": round(sum(cells) / len(cells), 4)}
        checked = []
        for k, stated in p.summary.items():
            if k not in found:
                continue
            if abs(stated - found[k]) <= 0.0015:
                checked.append(k.removeprefix("cell_"))
            elif k == "cell_min" and abs(stated - hi) <= 0.0015 or k == "cell_max" and abs(stated - lo) <= 0.0015:
                p.note(f"the stated {k.replace('_', ' ')} ({stated:g} V) is the other extreme: min and max are "
                       f"swapped in the paste; recomputed from the cells")
            else:
                p.note(f"the stated {k.replace('_', ' ')} {stated:g} V differs from the cells' {found[k]:g} V; "
                       f"the cells are used")
        if checked:
            p.note(f"stated {'/'.join(checked)} agree with the cells (recomputed from them)")
    elif "cell_delta" in p.summary:
        p.note(f"only a summary was given (cell delta {p.summary['cell_delta']:g} V): imbalance checks need the "
               f"cell voltages themselves")
    return p
