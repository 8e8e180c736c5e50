"""Cell voltages as labelled bars on a fixed scale (not autoscaled: a 30 mV spread must look small), lowest and
highest marked, with the delta underneath. More cells than rows flow into two or three columns."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

SCALES = {"li-ion": (2.8, 4.25), "lifepo4": (2.5, 3.65)}
BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(value: float, lo: float, hi: float, width: int) -> str:
    frac = 0.0 if hi <= lo else min(1.0, max(0.0, (value - lo) / (hi - lo)))
    eighths = round(frac * width * 8)
    full, part = divmod(eighths, 8)
    s = "█" * full + (BLOCKS[part] if part and full < width else "")
    return s.ljust(width, "·")


class CellBars(Widget):
    """Renders `cells` (volts, cell 1 first) for `chemistry` on a fixed scale."""

    DEFAULT_CSS = "CellBars { height: 1fr; min-height: 4; }"

    cells: reactive[tuple[float, ...]] = reactive(tuple, layout=False)
    chemistry: reactive[str] = reactive("li-ion")
    delta_severity: reactive[str] = reactive("")  # severity of a finding about the delta, if any

    def set_cells(self, cells: list[float] | None, chemistry: str | None, delta_severity: str = "") -> None:
        self.cells = tuple(cells or ())
        self.chemistry = chemistry or "li-ion"
        self.delta_severity = delta_severity

    def render(self) -> Content:
        cells = list(self.cells)
        lo_v, hi_v = SCALES.get(self.chemistry, SCALES["li-ion"])
        if not cells:
            return Content.from_markup("[$text-muted]no cell voltages in this reading[/]")
        lo_i = cells.index(min(cells))
        hi_i = cells.index(max(cells))
        rows = max(1, self.size.height - 1)
        ncols = 1
        while -(-len(cells) // ncols) > rows and ncols < 4:
            ncols += 1
        per_col = -(-len(cells) // ncols)
        col_w = max(14, (self.size.width - (ncols - 1) * 2) // ncols)
        bar_w = max(3, col_w - 2 - 1 - 5 - 2 - 1)
        lines: list[list[str]] = [[] for _ in range(per_col)]
        for i, v in enumerate(cells):
            mark, style = "  ", ""
            if i == lo_i and lo_i != hi_i:
                mark, style = " L", "$warning"
            elif i == hi_i and lo_i != hi_i:
                mark, style = " H", "$accent"
            if v < 0.5:  # a missing sense lead reads ~0 V
                style = "$error"
            b = bar(v, lo_v, hi_v, bar_w)
            text = f"{i + 1:>2} [{style or '$primary'}]{b}[/] {v:5.3f}[b {style or '$text'}]{mark}[/]"
            lines[i % per_col].append(text)
        body = "\n".join("  ".join(row) for row in lines)
        delta = max(cells) - min(cells)
        dstyle = {"critical": "$error", "warning": "$warning", "info": "$accent"}.get(self.delta_severity, "$success")
        summary = (f"[$warning]L[/] #{lo_i + 1} {cells[lo_i]:.3f}  [$accent]H[/] #{hi_i + 1} {cells[hi_i]:.3f}  "
                   f"[b {dstyle}]Δ {delta * 1000:.0f} mV[/]")
        return Content.from_markup(body + "\n" + summary)

    def scale_text(self) -> str:
        lo_v, hi_v = SCALES.get(self.chemistry, SCALES["li-ion"])
        return f"{lo_v:g}–{hi_v:g} V {self.chemistry}"
