"""The per-cell CSV: `time_s,current_a,cell1_v,...,cellN_v` with optional `pack_v`, `temp_c`, `soc`.

Current positive = charging (the project's convention). `time_s` is seconds from the start, or Unix seconds
(then the recording's start time is known, which storage gaps need). `soc` may be 0..1 or 0..100 %. Cell
voltages in mV (a median above 100) are converted and said so. Columns beyond these are ignored, with a note.
Read with pandas' C reader over the whole file; only a file it refuses is walked line by line, to name the first
bad line in a one-line error.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from drivers.logs.text import carry_forward, looks_binary, monotonic, parse_numbers, read_lines, split_header
from engine.health.data import Recording
from kb.errors import UserError

CELL = re.compile(r"^cell(\d+)_v$")
OPTIONAL = ("pack_v", "temp_c", "soc")
EPOCH_S = 1e9  # time_s above this is Unix time


def matches(header: list[str]) -> bool:
    names = [h.strip().strip('"').lower() for h in header]
    return len(names) >= 3 and names[0] == "time_s" and names[1] == "current_a" and any(CELL.match(n) for n in names)


def header_of(path: str | Path) -> list[str] | None:
    """The header names of a text file (None for binary or unreadable files)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
    except OSError:
        return None
    if not head.strip() or looks_binary(head):
        return None
    first = head.decode("utf-8-sig", errors="replace").splitlines()[0]
    return split_header(first)[1]


def load(path: str | Path) -> Recording:
    p = Path(path)
    name = p.name
    header = header_of(p)
    if header is None:
        read_lines(p)  # the precise one-line error (missing, directory, empty, binary)
        raise UserError(f"{name}: not a per-cell CSV")
    delim, header = split_header(_first_line(p))
    names = [h.strip().strip('"').lower() for h in header]
    if not matches(names):
        raise UserError(f"{name}: line 1: a per-cell CSV starts time_s,current_a,cell1_v,... (got '{','.join(header[:4])}...')")
    cells = sorted(((int(m.group(1)), j) for j, n in enumerate(names) if (m := CELL.match(n))))
    numbers = [k for k, _ in cells]
    if numbers != list(range(1, len(numbers) + 1)):
        raise UserError(f"{name}: line 1: cell columns must run cell1_v..cell{len(numbers)}_v without gaps "
                        f"(got {', '.join(f'cell{k}_v' for k in numbers[:6])}{'...' if len(numbers) > 6 else ''})")
    opt = {k: names.index(k) for k in OPTIONAL if k in names}
    used = [0, 1] + [j for _, j in cells] + list(opt.values())
    notes: list[str] = []
    extra = [header[j] for j in range(len(names)) if j not in used]
    if extra:
        notes.append(f"columns ignored: {', '.join(extra[:5])}{'...' if len(extra) > 5 else ''}")
    data = _numbers(p, name, delim, len(names), used, header)
    if data.shape[0] == 0:
        raise UserError(f"{name}: a header but no data rows")
    if np.isnan(data).any():
        data = carry_forward(data)
    t = data[:, 0]
    if np.isnan(t).any():
        raise UserError(f"{name}: time_s is empty on the first data row")
    started = None
    if t[0] > EPOCH_S:
        started = float(t[0])
    t = monotonic(name, t - t[0], notes)
    cur = data[:, 1]
    v = data[:, 2:2 + len(cells)]
    med = float(np.nanmedian(v[:: max(1, len(v) // 5000)])) if v.size else 0.0  # a sample of rows is enough
    if med > 100:
        v = v / 1000.0
        med /= 1000.0
        notes.append("cell voltages look like mV: converted to V")
    if not 0.5 < med < 5.0:
        raise UserError(f"{name}: the cell voltages (median {med:.2f}) are not cell voltages in V or mV")
    k = 2 + len(cells)
    extra_cols = {key: data[:, k + n] for n, key in enumerate(opt)}
    soc = extra_cols.get("soc")
    if soc is not None:
        soc = soc / 100.0 if np.nanmax(soc) > 1.5 else soc
    return Recording(name=name, t_s=t, current=cur, cells=v, pack_v=extra_cols.get("pack_v"),
                     temp_c=extra_cols.get("temp_c"), soc=soc, started=started, notes=notes)


def _first_line(p: Path) -> str:
    with p.open("r", encoding="utf-8-sig", errors="replace") as f:
        return f.readline().rstrip("\r\n")


def _numbers(p: Path, name: str, delim: str, ncols: int, used: list[int], header: list[str]) -> np.ndarray:
    """pandas' C reader (a month of 1 Hz logs must parse in seconds; np.loadtxt is about 4x slower)."""
    import pandas as pd

    try:
        frame = pd.read_csv(p, sep=delim, header=0, usecols=used, dtype=np.float64, engine="c",
                            encoding="utf-8-sig", encoding_errors="replace", quotechar='"')
        return frame.iloc[:, np.argsort(np.argsort(used))].to_numpy(dtype=np.float64) if len(frame.columns) == len(used) \
            else _slow(p, name, delim, ncols, used, header)
    except (ValueError, IndexError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return _slow(p, name, delim, ncols, used, header)


def _slow(p: Path, name: str, delim: str, ncols: int, used: list[int], header: list[str]) -> np.ndarray:
    """Walk the lines to name the first bad one (a one-line UserError), or parse them if they are fine."""
    _, lines = read_lines(p)
    body = lines[1:]
    trailing = _first_line(p).rstrip().endswith(delim)
    return parse_numbers(name, body, 2, ncols, delim, usecols=used, labels=header, trailing_delim=trailing)
