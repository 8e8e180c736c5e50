"""Ride-log loaders: a file in, a columnar LogData (numpy arrays on one time axis) out.

Formats, detected from the file itself:
  vesc-rt-csv     VESC Tool real-time log (55 or 22 columns, header starts with ms_today)
  logui-csv       VESC Express / LogUI log to SD (key:name:unit:... descriptors)
  bmsdoc-session  a session recorded by `bmsdoc` (SQLite, drivers/record.py)
  generic-csv     any other CSV, with a column mapping (--map time=COL,voltage=COL,current=COL)
Anything else is a one-line UserError. Current is converted at this boundary to our convention
(positive = charging/regen).
"""

from __future__ import annotations

from pathlib import Path

from drivers.logs.data import LogData
from drivers.logs.generic import MAP_HELP, ColumnMap, parse_map
from drivers.logs.text import LogFile, Progress, _regular, read_lines, split_header
from kb.errors import UserError

SQLITE_MAGIC = b"SQLite format 3\x00"
FORMATS = ("vesc-rt-csv", "logui-csv", "bmsdoc-session", "generic-csv")

__all__ = ["FORMATS", "ColumnMap", "LogData", "MAP_HELP", "detect", "load_log", "parse_map"]


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def detect(path: str | Path, mapping: ColumnMap | None = None) -> str:
    """The format name of a file (reads only its first line)."""
    p = Path(path)
    _regular(p)  # before anything opens it: a FIFO would block, a device never end
    if _is_sqlite(p):
        return "bmsdoc-session"
    if mapping is not None:
        return "generic-csv"
    log = LogFile(p)
    return _detect_lines(p.name, [log.header_line])


def _detect_lines(name: str, lines: list[str]) -> str:
    from drivers.logs import logui, vesc_rt

    _, header = split_header(lines[0])
    if vesc_rt.matches(header):
        return "vesc-rt-csv"
    if logui.matches(header):
        return "logui-csv"
    shown = lines[0].strip()
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise UserError(f"{name}: line 1: not a log format bmsdoc knows ('{shown}'); for another CSV give "
                    f"--map {MAP_HELP}")


def load_log(path: str | Path, mapping: ColumnMap | str | None = None, progress: Progress | None = None,
             session: int | None = None) -> LogData:
    """Load a ride log. `mapping` (a ColumnMap or --map text) forces the generic CSV reader; `session` picks
    one session of a bmsdoc recording (default: the newest)."""
    p = Path(path)
    if isinstance(mapping, str):
        mapping = parse_map(mapping)
    _regular(p)  # before anything opens it: a FIFO would block, a device never end
    if _is_sqlite(p):
        from drivers.logs import session as session_reader

        return session_reader.load(p, progress, session)
    log = LogFile(p)  # a regular, non-binary file with a header line; nothing read beyond that yet
    if mapping is None:
        fmt = _detect_lines(log.name, [log.header_line])
        if log.streamable:
            from drivers.logs import logui, vesc_rt

            delim, header = split_header(log.header_line)
            loader = vesc_rt if fmt == "vesc-rt-csv" else logui
            return loader.load_stream(log, header, delim, progress)
    name, lines = read_lines(p)
    if mapping is not None:
        from drivers.logs import generic

        return generic.load(name, lines, mapping, progress)
    fmt = _detect_lines(name, lines)
    delim, header = split_header(lines[0])
    if fmt == "vesc-rt-csv":
        from drivers.logs import vesc_rt

        return vesc_rt.load(name, lines, header, delim, progress)
    from drivers.logs import logui

    return logui.load(name, lines, header, delim, progress)
