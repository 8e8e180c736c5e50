"""`bmsdoc fleet --status`: every pack with its status, worst finding and ages, from the broker's retained
messages (`--broker`) or from the fleet store (the recordings database)."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from drivers.mqtt.url import Broker
from kb.errors import UserError

ORDER = {"critical": 0, "warning": 1, "stale": 2, "info": 3, "ok": 4, "unknown": 5}
SORTS = ("status", "pack", "age", "since")


def _unix(text: Any) -> float | None:
    """Unix seconds from a number or an ISO time; None for anything else, or outside years 1970-5138 (what any
    retained message may hold: 1e400 is inf to JSON, and printing it as a date raised OverflowError)."""
    t: float | None = None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        t = float(text)
    elif isinstance(text, str):
        try:
            t = datetime.fromisoformat(text).timestamp()
        except (ValueError, OverflowError):
            return None
    return t if t is not None and 0 <= t < 1e11 else None


def _row(pack: str, status: str, findings: list[Any], questions: list[Any], checked: float | None,
         seen: float | None) -> dict[str, Any]:
    worst = findings[0] if findings and isinstance(findings[0], dict) else None
    return {"pack": pack, "status": status, "findings": len(findings), "questions": len(questions),
            "worst": None if worst is None else {k: worst.get(k) for k in ("rule", "severity", "title", "since")},
            "checked": checked, "last_seen": seen}


def from_store(path: str | None) -> list[dict[str, Any]]:
    from drivers.mqtt import store

    return [_row(p["pack"], p["status"], p["findings"], p["questions"], p["checked"], p["last_seen"])
            for p in store.packs(path)]


def retained(broker: Broker, pack: str | None = None, *, wait: float = 60.0, quiet: float = 0.3,
             service: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The retained results on the broker, pack -> {"status", "findings", "questions", "attributes"} (of one pack,
    or of all): from the broker's subscription acknowledgement until `quiet` s pass without a retained message
    (live ones from a running service do not hold it up), at most `wait` s. `service` gets "availability": the
    retained `bmsdoc/status` (online, or offline when the last worker is gone), if any."""
    import os

    from drivers.mqtt.client import connect, make_client, reason_text
    from drivers.mqtt.discovery import AVAILABILITY

    got: dict[str, dict[str, Any]] = {}
    last = [time.monotonic()]
    ready = threading.Event()
    refused: list[str] = []
    c = make_client(broker, f"bmsdoc-status-{os.getpid()}")
    level = "+" if pack is None else pack

    def on_connect(client, userdata, flags, rc, props=None):
        if getattr(rc, "is_failure", False):  # wrong credentials: an error, not "no packs yet"
            refused.append(reason_text(rc))
            ready.set()
            return
        client.subscribe([(f"bmsdoc/{level}/status", 1), (f"bmsdoc/{level}/findings", 1),
                          (f"bmsdoc/{level}/questions", 1), (f"bmsdoc/{level}/attributes", 1), (AVAILABILITY, 1)])

    def on_subscribe(client, userdata, mid, reason_codes, props=None):
        last[0] = time.monotonic()  # the retained messages follow (a slow link: not before the SUBACK's round trip)
        ready.set()

    def on_message(client, userdata, msg):
        if msg.topic == AVAILABILITY:
            if service is not None:
                service["availability"] = msg.payload.decode(errors="replace")[:20]
            return
        parts = msg.topic.split("/")
        if len(parts) != 3:
            return
        if msg.retain:
            last[0] = time.monotonic()
        try:
            value: Any = msg.payload.decode() if parts[2] == "status" else json.loads(msg.payload or b"null")
        except (ValueError, UnicodeDecodeError):
            return
        got.setdefault(parts[1], {})[parts[2]] = value

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    connect(c, broker)
    c.loop_start()
    try:
        if not ready.wait(5):
            raise UserError(f"the broker at {broker.describe()} did not answer")
        if refused:
            raise UserError(refusal(broker, refused[0]))
        start = time.monotonic()  # 1 s was the cap: a broker with 20,000 packs had sent 9,400 of them by then
        while time.monotonic() - start < wait and time.monotonic() - last[0] < quiet:
            time.sleep(0.05)
    finally:
        c.disconnect()
        c.loop_stop()
    return {name: d for name, d in got.items() if "status" in d}


def refusal(broker: Broker, reason: str) -> str:
    """The one-line error for a CONNACK that refuses (the words the fleet service uses)."""
    return f"the broker at {broker.describe()} refused the connection ({reason}: check the user name and password)"


def _lists(d: dict[str, Any]) -> tuple[list[Any], list[Any], float | None]:
    attrs = d.get("attributes") if isinstance(d.get("attributes"), dict) else {}
    findings = d.get("findings") if isinstance(d.get("findings"), list) else []
    questions = d.get("questions") if isinstance(d.get("questions"), list) else []
    return findings, questions, _unix(attrs.get("checked"))


def from_broker(broker: Broker, *, wait: float = 60.0, quiet: float = 0.3,
                service: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every pack's row from the retained results on the broker (`service`: as for retained())."""
    rows = []
    for pack, d in retained(broker, wait=wait, quiet=quiet, service=service).items():
        findings, questions, checked = _lists(d)
        rows.append(_row(pack, str(d["status"]), findings, questions, checked, None))
    return rows


def pack_from_broker(broker: Broker, pack: str, service: dict[str, str] | None = None) -> dict[str, Any] | None:
    """One pack's retained results, shaped as drivers.mqtt.store.packs() gives them (no session: the broker keeps
    no history), or None when the broker has none for it."""
    from drivers.mqtt.config import valid_pack_name

    if not valid_pack_name(pack):
        return None
    d = retained(broker, pack, service=service).get(pack)
    if d is None:
        return None
    findings, questions, checked = _lists(d)
    return {"pack": pack, "session": None, "status": str(d["status"]), "last_seen": None, "checked": checked,
            "findings": [f for f in findings if isinstance(f, dict)], "questions": questions,
            "worst": findings[0] if findings and isinstance(findings[0], dict) else None}


def sort_rows(rows: list[dict[str, Any]], key: str = "status") -> list[dict[str, Any]]:
    if key not in SORTS:
        raise UserError(f"sort by one of {', '.join(SORTS)}, not '{key}'")
    now = time.time()
    if key == "pack":
        return sorted(rows, key=lambda r: r["pack"])
    if key == "age":  # the longest unchecked first
        return sorted(rows, key=lambda r: (-(now - (r["checked"] or 0)), r["pack"]))
    if key == "since":  # the oldest finding first
        return sorted(rows, key=lambda r: (_unix((r["worst"] or {}).get("since")) or now + 1, r["pack"]))
    # worst first: by status, then by the worst finding (a stale pack last seen critical before one seen ok)
    return sorted(rows, key=lambda r: (ORDER.get(r["status"], 9), ORDER.get((r["worst"] or {}).get("severity"), 4),
                                       r["pack"]))


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = max(0.0, seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.0f} h"
    return f"{s / 86400:.0f} d"
