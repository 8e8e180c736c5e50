"""Recording the app's live session, listing recorded sessions and replaying one, through drivers.record's public API
(Recorder, sessions, load, default_path): the same store `bmsdoc watch --record` and `bmsdoc history` use."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any


def source_label(spec: dict[str, Any]) -> str:
    """How a session's source is written in the store, the way `bmsdoc watch` writes it."""
    kind = spec.get("kind")
    if kind == "demo":
        return f"demo:{spec.get('family', 'jk')}/{spec.get('scenario', 'healthy-ride')}"
    if kind == "ble":
        return f"ble:{spec.get('address', '?')}"
    if kind == "recording":
        return f"replay:session {spec.get('session')}"
    return str(kind or "unknown")


class LiveRecorder:
    """One recorded session of the app: readings and their findings as they are handled, connection events."""

    def __init__(self, spec: dict[str, Any], kb: Any = None, path: str | Path | None = None) -> None:
        from drivers.record import Recorder

        self._rec = Recorder(path)
        self.path = self._rec.path
        ctx = {k: v for k, v in (spec.get("context") or {}).items()}
        self.session = self._rec.start(source_label(spec), family=spec.get("family") or None,
                                       kb_version=getattr(kb, "kb_version", None), context=ctx)
        self._t0 = time.monotonic()
        self.seq = 0

    def _t(self) -> float:
        return round(time.monotonic() - self._t0, 3)

    def reading(self, reading: Any, findings: Iterable[Any] = ()) -> None:
        self.seq += 1
        t = self._t()
        self._rec.add_reading(self.seq, t, reading)
        self._rec.add_findings(self.seq, t, list(findings))

    def event(self, kind: str, detail: str = "") -> None:
        self._rec.add_event(self._t(), kind, detail)

    def close(self) -> None:
        self._rec.close()


def recorder_for(app: Any, spec: dict[str, Any]) -> tuple[LiveRecorder | None, str]:
    """A recorder for the current source, or (None, why not) in one line."""
    from kb.errors import UserError

    if not spec or spec.get("kind") in (None, "replay"):
        return None, "choose a live source first (s): there is nothing to record"
    try:
        return LiveRecorder(spec, app.kb), ""
    except UserError as e:
        return None, f"cannot record: {e}"
    except OSError as e:
        return None, f"cannot record: {e.strerror or e}"


def recordings(path: str | Path | None = None) -> list[tuple[str, str]]:
    """(session id, label) of the recorded sessions, newest first; none when nothing was recorded yet."""
    from drivers import record
    from kb.errors import UserError

    if path is None and not record.default_path().exists():
        return []
    try:
        infos = record.sessions(path)
    except UserError:
        return []
    out = []
    for i in infos:
        worst = f" · worst {i.worst}" if i.worst else ""
        cut = "" if i.ended else " · interrupted"
        out.append((str(i.id), f"#{i.id} {i.started.replace('T', ' ')[:19]}  {i.source}  "
                               f"{i.readings} readings, {i.duration:.0f} s{worst}{cut}"))
    return out


async def replay(spec: dict[str, Any]) -> AsyncIterator[tuple[str, Any]]:
    """A recorded session as ("reading", Reading) / (status, (detail, 0)) pairs, at its recorded pace (`speed` x)."""
    from drivers import record
    from engine.reading import Reading
    from kb.errors import UserError

    try:
        session = record.load(int(spec.get("session") or 0), spec.get("db"))
    except (UserError, ValueError) as e:
        yield "error", (str(e), 0)
        return
    speed = float(spec.get("speed", 1.0)) or 1.0
    yield "connected", (f"session {session.info.id}: {session.info.source}", 0)
    last_t = None
    for row in session.readings:
        if last_t is not None:
            await asyncio.sleep(max(0.0, min(5.0, (row["t"] - last_t) / speed)))
        last_t = row["t"]
        try:
            reading = Reading.parse(row["reading"])
        except UserError:
            continue  # a reading the current vocabulary no longer accepts is skipped, not fatal
        yield "reading", reading
    yield "ended", (f"end of session {session.info.id} ({len(session.readings)} readings)", 0)
