"""Shared text handling for the CSV loaders: safe reading, vectorised numeric parsing, carry-forward, clocks.

Numbers are parsed by numpy's C reader (np.loadtxt) in chunks, so a progress callback can be told how far it
got. Only when that reader refuses a chunk do we walk its lines in Python, to name the first bad line.

Large files are streamed (LogFile.blocks + parse_blocks): the file is read a few MB of whole lines at a time and
only the columns a loader needs are kept, so memory is the size of those columns, not 4x the file. Formats
that need every line at once (read_lines) are capped at WHOLE_FILE_BYTES; any file must be a regular file of
at most MAX_LOG_BYTES (so /dev/zero or a FIFO is a one-line error, not a MemoryError).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from kb.errors import UserError

Progress = Callable[[float], None]  # fraction done, 0..1
CHUNK_ROWS = 8192
DAY_S = 86400.0
MAX_LOG_BYTES = 8_000_000_000  # about 40 million VESC rows
WHOLE_FILE_BYTES = 400_000_000  # formats read whole (LogUI, --map CSV, cell CSV)
BLOCK_BYTES = 4 << 20  # streamed reads
HEAD_BYTES = 1 << 16  # the header line must fit in this


def _regular(path: str | Path) -> os.stat_result:
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{path}: is a directory, not a log file")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{path}: not a regular file (a device or a pipe): give a saved log file")
    if st.st_size > MAX_LOG_BYTES:
        raise UserError(f"{p.name}: {st.st_size / 1e9:.1f} GB is too large (at most {MAX_LOG_BYTES / 1e9:g} GB)")
    return st


def read_lines(path: str | Path) -> tuple[str, list[str]]:
    """The file's lines (without line ends), after checks that make a wrong file a one-line error."""
    p = Path(path)
    name = p.name
    st = _regular(path)
    if st.st_size > WHOLE_FILE_BYTES:
        raise UserError(f"{name}: {st.st_size / 1e6:.0f} MB is too large for this format (at most "
                        f"{WHOLE_FILE_BYTES / 1e6:g} MB; VESC Tool logs of any size are streamed)")
    try:
        with p.open("rb") as f:
            raw = f.read(WHOLE_FILE_BYTES + 1)
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    if not raw.strip():
        raise UserError(f"{name}: the file is empty")
    if looks_binary(raw):
        raise UserError(f"{name}: binary data, not a text log (expected a VESC Tool, LogUI or other CSV)")
    text = _decode(raw)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return name, lines


def _decode(raw: bytes) -> str:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16", errors="replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # old Windows exports; numbers and ASCII headers decode the same


class LogFile:
    """A log opened for streaming: the header line now, the data as blocks of whole lines later."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = self.path.name
        self.size = _regular(path).st_size
        try:
            with self.path.open("rb") as f:
                head = f.read(HEAD_BYTES)
        except OSError as e:
            raise UserError(f"{path}: cannot read ({e.strerror})") from None
        if not head.strip():
            if self.size <= HEAD_BYTES:
                raise UserError(f"{self.name}: the file is empty")
        if looks_binary(head):
            raise UserError(f"{self.name}: binary data, not a text log (expected a VESC Tool, LogUI or other CSV)")
        self.streamable = head[:2] not in (b"\xff\xfe", b"\xfe\xff")  # UTF-16 is read whole
        bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        nl = head.find(b"\n", bom)
        if nl < 0 and self.size > HEAD_BYTES:
            raise UserError(f"{self.name}: line 1 is longer than {HEAD_BYTES // 1024} KB: not a log header")
        first = head[bom:nl if nl >= 0 else len(head)]
        self.header_line = _decode(first).rstrip("\r")
        self.data_offset = (nl + 1) if nl >= 0 else self.size

    def blocks(self, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[int, bytes, float]]:
        """(file line number of the block's first line, whole lines, fraction of the file read) after line 1."""
        line_no = 2
        carry = b""
        with self.path.open("rb") as f:
            f.seek(self.data_offset)
            while True:
                chunk = f.read(block_bytes)
                if not chunk:
                    break
                buf = carry + chunk
                cut = buf.rfind(b"\n")
                if cut < 0:
                    carry = buf
                    if len(carry) > 64 * block_bytes:
                        raise UserError(f"{self.name}: line {line_no} is longer than {64 * block_bytes >> 20} MB")
                    continue
                block, carry = buf[:cut + 1], buf[cut + 1:]
                yield line_no, block, min(1.0, f.tell() / max(self.size, 1))
                line_no += block.count(b"\n")
        if carry:
            yield line_no, carry, 1.0


def parse_blocks(log: LogFile, ncols: int, delim: str, usecols: Sequence[int], labels: Sequence[str] | None,
                 progress: Progress | None = None, trailing_delim: bool = True,
                 notes: list[str] | None = None) -> np.ndarray:
    """The `usecols` columns of every data row, streamed. A last line cut short (a log that just ends) is
    dropped with a note; trailing blank lines are ignored; anything else wrong is a one-line UserError naming
    the line, as parse_numbers does."""
    parts: list[np.ndarray] = []
    want = log.header_line.count(delim)
    pending: tuple[int, list[str]] | None = None
    rows = 0

    dd = delim + delim

    def flush(first_line: int, lines: list[str], clean: bool = False) -> None:
        nonlocal rows
        if lines:
            parts.append(parse_numbers(log.name, lines, first_line, ncols, delim, None, trailing_delim,
                                       usecols=usecols, labels=labels, no_empty_cells=clean))
            rows += len(lines)

    for first_line, block, frac in log.blocks():
        text = _decode(block)
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        # one look at the whole block instead of one per line: are there empty cells to fill with 'nan'?
        clean = not (dd in text or text.startswith(delim) or ("\n" + delim) in text
                     or (not trailing_delim and ((delim + "\n") in text or text.endswith(delim))))
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if pending is not None:
            flush(*pending)
        pending = (first_line, lines, clean)
        if progress is not None:
            progress(frac)
    if pending is None:
        raise UserError(f"{log.name}: a header with no samples")
    first_line, lines, clean = pending
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and lines[-1].count(delim) < want and (rows or len(lines) > 1):
        lines.pop()
        if notes is not None:
            notes.append(f"line {first_line + len(lines)} is cut short (the log just ends): dropped")
    flush(first_line, lines, clean)
    if not parts or rows == 0:
        raise UserError(f"{log.name}: a header with no samples")
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def looks_binary(raw: bytes) -> bool:
    head = raw[:8192]
    if b"\0" in head:
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > len(head) // 100


def split_header(line: str) -> tuple[str, list[str]]:
    """Delimiter and header names. VESC files use ';' (with a trailing one); otherwise ',' or a tab."""
    for delim in (";", ",", "\t"):
        cells = line.split(delim)
        if len(cells) > 1:
            if cells[-1].strip() == "":
                cells = cells[:-1]  # trailing delimiter
            return delim, [c.strip() for c in cells]
    return ";", [line.strip()]


def parse_numbers(name: str, lines: Sequence[str], first_line: int, ncols: int, delim: str,
                  progress: Progress | None = None, trailing_delim: bool = True,
                  usecols: Sequence[int] | None = None, labels: Sequence[str] | None = None, no_empty_cells: bool = False) -> np.ndarray:
    """Rows of `ncols` numbers (float64, shape rows x ncols). `first_line` is the file line number of lines[0].

    Empty cells become NaN (callers carry values forward or reject them). Blank lines are not allowed inside the
    data because they would shift the line numbers in error messages.
    """
    cols = list(usecols) if usecols is not None else list(range(ncols))
    out = np.empty((len(lines), len(cols)), dtype=np.float64)
    total = max(len(lines), 1)
    for start in range(0, len(lines), CHUNK_ROWS):
        chunk = lines[start:start + CHUNK_ROWS]
        try:
            block = np.loadtxt(chunk if no_empty_cells else _fill_empty(chunk, delim, trailing_delim), delimiter=delim, usecols=cols, ndmin=2,
                               dtype=np.float64, comments=None, quotechar='"')
            if block.shape[0] != len(chunk):
                raise ValueError("blank line")
        except ValueError:
            raise UserError(_first_bad_line(name, chunk, first_line + start, ncols, delim, cols, labels,
                                            trailing_delim)) from None
        out[start:start + len(chunk)] = block
        if progress is not None:
            progress(min(1.0, (start + len(chunk)) / total))
    return out


def _fill_empty(chunk: Sequence[str], delim: str, trailing_delim: bool) -> list[str] | Sequence[str]:
    """Write 'nan' into empty cells (LogUI leaves a cell empty when the value did not change).

    Without a trailing delimiter in the format, a line that ends in one has an empty last cell.
    """
    dd = delim + delim
    if not any(dd in ln or ln.startswith(delim) or (not trailing_delim and ln.endswith(delim)) for ln in chunk):
        return chunk
    out = []
    for ln in chunk:
        if ln.startswith(delim):
            ln = "nan" + ln
        if not trailing_delim and ln.endswith(delim):
            ln = ln + "nan"
        while dd in ln:
            ln = ln.replace(dd, delim + "nan" + delim)
        out.append(ln)
    return out


def _first_bad_line(name: str, chunk: Sequence[str], first_line: int, ncols: int, delim: str,
                    cols: Sequence[int], labels: Sequence[str] | None, trailing_delim: bool = True) -> str:
    for i, ln in enumerate(chunk):
        line_no = first_line + i
        if not ln.strip():
            return f"{name}: line {line_no}: blank line inside the data"
        cells = ln.split(delim)
        if trailing_delim and len(cells) > 1 and cells[-1].strip() == "":
            cells = cells[:-1]  # the format's trailing delimiter, not a value
        if len(cells) <= max(cols):
            return f"{name}: line {line_no}: {len(cells)} values where the header has {ncols} columns"
        for j in cols:
            s = cells[j].strip().strip('"')
            if s == "":
                continue
            try:
                float(s)
            except ValueError:
                shown = s if len(s) <= 20 else s[:17] + "..."
                where = f"column {j + 1}" + (f" ({labels[j]})" if labels and j < len(labels) and labels[j] else "")
                return f"{name}: line {line_no}, {where}: '{shown}' is not a number"
    return f"{name}: lines {first_line}-{first_line + len(chunk) - 1}: unreadable numbers"


def carry_forward(a: np.ndarray) -> np.ndarray:
    """Replace NaN with the last value above it, column by column (vectorised). Leading NaN stay NaN."""
    if a.ndim == 1:
        return carry_forward(a[:, None])[:, 0]
    mask = np.isnan(a)
    if not mask.any():
        return a
    idx = np.where(mask, 0, np.arange(a.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = a[idx, np.arange(a.shape[1])[None, :]]
    # rows above a column's first value pointed at row 0, which may itself be NaN: that is the intent
    return filled


def unwrap_day_clock(t: np.ndarray, day: float) -> tuple[np.ndarray, int]:
    """Time of day that wraps at midnight -> time since the first sample. Returns (t, number of wraps)."""
    d = np.diff(t)
    wraps = d < -day / 2  # a jump back of more than half a day is midnight, not jitter
    n = int(wraps.sum())
    if n:
        t = t + np.concatenate(([0.0], np.cumsum(wraps) * day))
    return t - t[0], n


def monotonic(name: str, t: np.ndarray, notes: list[str]) -> np.ndarray:
    """Small clock steps backwards (phone clock adjustments) are clamped so time never runs backwards."""
    back = np.diff(t) < 0
    if back.any():
        notes.append(f"the clock stepped back {int(back.sum())} time(s); those samples keep the previous time")
        t = np.maximum.accumulate(t)
    return t
