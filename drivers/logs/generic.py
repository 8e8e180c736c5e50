"""Any other CSV, given a column mapping: `time=COL,voltage=COL,current=COL[,current_sign=discharge_positive]`.

COL is a header name (case-insensitive) or a 1-based column number. Optional keys: `duty=COL`, `temp=COL` (a pack
temperature), `time_unit=s|ms`, `current_sign=charge_positive|discharge_positive` (default charge_positive, our
convention). The time column may hold seconds (or ms) or ISO date-times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivers.logs.data import LogData
from drivers.logs.text import Progress, monotonic, parse_numbers, split_header
from kb.errors import UserError

COLUMN_KEYS = ("time", "voltage", "current", "duty", "temp")
REQUIRED = ("time", "voltage", "current")
SIGNS = ("charge_positive", "discharge_positive")
UNITS = ("s", "ms")
MAP_HELP = "time=COL,voltage=COL,current=COL[,current_sign=discharge_positive]"


@dataclass(frozen=True)
class ColumnMap:
    columns: dict[str, str]  # key -> header name or 1-based number, as the user wrote it
    current_sign: str = "charge_positive"
    time_unit: str = "s"


def parse_map(text: str) -> ColumnMap:
    """Parse the --map option. Bad text is a UserError naming the piece that is wrong."""
    from kb.untrusted import shown

    if len(text) > 2000:
        raise UserError(f"--map: {len(text):,} characters is not a column mapping (expected {MAP_HELP})")
    cols: dict[str, str] = {}
    sign, unit = "charge_positive", "s"
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, eq, val = part.partition("=")
        key, val = key.strip().lower(), val.strip()
        if not eq or not val:
            raise UserError(f"--map: '{shown(part, 60)}' is not KEY=VALUE (expected {MAP_HELP})")
        if key == "current_sign":
            if val.lower() not in SIGNS:
                raise UserError(f"--map: current_sign is {' or '.join(SIGNS)}, not '{shown(val, 40)}'")
            sign = val.lower()
        elif key == "time_unit":
            if val.lower() not in UNITS:
                raise UserError(f"--map: time_unit is s or ms, not '{shown(val, 40)}'")
            unit = val.lower()
        elif key in COLUMN_KEYS:
            if key in cols:
                raise UserError(f"--map: '{key}' is given twice")
            cols[key] = val
        else:
            raise UserError(f"--map: unknown key '{shown(key, 40)}' (known: {', '.join(COLUMN_KEYS + ('current_sign', 'time_unit'))})")
    missing = [k for k in REQUIRED if k not in cols]
    if missing:
        raise UserError(f"--map: {', '.join(missing)} missing (expected {MAP_HELP})")
    return ColumnMap(cols, sign, unit)


def _is_number(s: str) -> bool:
    try:
        float(s.strip().strip('"'))
        return True
    except ValueError:
        return False


def load(name: str, lines: list[str], cmap: ColumnMap, progress: Progress | None = None) -> LogData:
    delim, header = split_header(lines[0])
    if len(header) < 2:
        raise UserError(f"{name}: line 1: cannot tell the columns apart (expected ';', ',' or tab separators)")
    has_header = not all(_is_number(h) for h in header)
    names = [h.strip('"') for h in header] if has_header else [""] * len(header)
    index = {}
    for key, ref in cmap.columns.items():
        index[key] = _column(name, ref, names, len(header))
    data = lines[1:] if has_header else lines
    first_line = 2 if has_header else 1
    if not data:
        raise UserError(f"{name}: a header with no samples")
    trailing = lines[0].rstrip().endswith(delim)
    notes = ["columns mapped: " + ", ".join(f"{k}={names[i] or i + 1}" for k, i in index.items())]

    time_text = not _is_number(data[0].split(delim)[index["time"]]) if len(data[0].split(delim)) > index["time"] else False
    numeric_keys = [k for k in index if not (k == "time" and time_text)]
    table = parse_numbers(name, data, first_line, len(header), delim, progress, trailing_delim=trailing,
                          usecols=[index[k] for k in numeric_keys], labels=names)
    cols = {k: table[:, j].copy() for j, k in enumerate(numeric_keys)}
    for k, a in cols.items():
        bad = ~np.isfinite(a)
        if bad.any():
            i = int(np.argmax(bad))
            raise UserError(f"{name}: line {first_line + i}: no {k} value")
    if time_text:
        t = _datetimes(name, data, index["time"], delim, first_line)
        notes.append("time column read as date-times")
    else:
        t = cols.pop("time")
        if cmap.time_unit == "ms":
            t = t / 1000.0
    t = monotonic(name, t - t[0], notes)
    current = cols["current"]
    if cmap.current_sign == "discharge_positive":
        current = -current
        notes.append("current_sign=discharge_positive: sign flipped (here positive = charging/regen)")
    elif np.median(current[np.abs(current) > 1.0]) > 0 if (np.abs(current) > 1.0).any() else False:
        notes.append("current is mostly positive, which here means charging: if this is a ride, "
                     "add current_sign=discharge_positive to --map")
    pack_temps = {"temp": cols["temp"]} if "temp" in cols else {}
    return LogData(format="generic-csv", source=name, t_s=t, voltage=cols["voltage"], current=current,
                   duty=cols.get("duty"), pack_temps=pack_temps, columns=len(header), notes=notes)


def _column(name: str, ref: str, names: list[str], ncols: int) -> int:
    low = [n.lower() for n in names]
    if ref.lower() in low:
        return low.index(ref.lower())
    if ref.isascii() and ref.isdigit() and len(ref) <= 9 and 1 <= int(ref) <= ncols:  # not '²', not 5,000 digits
        return int(ref) - 1
    shown = ", ".join(n for n in names if n) or f"{ncols} unnamed columns"
    from kb.untrusted import shown as short

    raise UserError(f"{name}: no column '{short(ref, 40)}' (columns: {short(shown, 300)})")


def _datetimes(name: str, data: list[str], col: int, delim: str, first_line: int) -> np.ndarray:
    texts = [ln.split(delim)[col].strip().strip('"') for ln in data]
    try:
        stamps = np.array(texts, dtype="datetime64[ms]")
    except ValueError:
        for i, s in enumerate(texts):
            try:
                np.datetime64(s, "ms")
            except ValueError:
                raise UserError(f"{name}: line {first_line + i}: '{s[:30]}' is neither a number nor a date-time") from None
        raise
    return (stamps - stamps[0]).astype(np.float64) / 1000.0
