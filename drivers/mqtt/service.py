"""The headless fleet worker: subscribe, assemble per-pack readings, check, publish, record (no Textual).

    svc = FleetService(broker, config, kb=load_kb(), store_path=None, group="bmsdoc")
    svc.start()          # connects (UserError when the broker cannot be reached), then runs in two threads
    ...
    svc.stop()

One thread does everything: it drives paho through its event-loop API (select on the socket, `loop_read`,
`loop_write`, `loop_misc`; reconnecting with backoff), takes the messages read, checks packs when they are due,
publishes and writes the store. No second thread
competes for the interpreter: with paho's own network thread (loop_start) the two threads handed the GIL back and
forth on every message and every publish, which cost more CPU than the checks.

Topics read: `$share/{group}/bmsdoc/+/reading` (MQTT 5 shared subscription: the broker spreads whole readings over
the group's workers), `bmsdoc/+/settings` (retained), the configured batmon-ha aliases, ESPHome nodes and
serialbattery topics (every worker assembles every split pack; only its owner checks it: drivers.mqtt.shard),
`bmsdoc/+/state` (what another worker decided, so transitions and `since` stay right whoever checks next),
`bmsdoc/workers/{group}/+` (the live workers), `homeassistant/status` and `bmsdoc/status`.

Topics written (retained): `bmsdoc/{pack}/findings` and `/state` (QoS 1), `/status`, `/questions`, `/attributes`
(QoS 0, published again after every reconnect), Home Assistant discovery, `bmsdoc/status` online (last will:
offline), `bmsdoc/workers/{group}/{id}` (QoS 1).
"""

from __future__ import annotations

import functools
import gc
import heapq
import json
import logging
import math
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drivers.mqtt import discovery, shapes, shard
from drivers.mqtt.client import FLEET_RECONNECT, MQTT_ERR_SUCCESS, connect, make_client, reason_text
from drivers.mqtt.config import FleetConfig, PackConfig, Timing, valid_pack_name
from drivers.mqtt.packs import SPLIT_SHAPES, PackState
from drivers.mqtt.url import Broker
from kb.errors import UserError
from kb.schema import SEVERITY_ORDER

log = logging.getLogger("bmsdoc.fleet")
_CONNECTED = "\x00connected"
ANNOUNCE = 5.0  # seconds between a worker's announcements
PROBE = 1.5  # seconds the workers have to re-announce after a last will
# Messages waiting beyond this: the worker is behind (more packs than its CPU checks per second), so whole readings
# are coalesced like split ones: each pack's newest reading is checked once per drained burst.
BACKLOG = 500
CHECK_BUDGET = 0.1  # seconds of checking before the worker reads its messages again
# The fleet's checks are stateless, one reading at a time: the reference evaluator decides them (it agrees with
# durable-rules on every rule, tests/test_durable.py) at a third of the cost, as `bmsdoc log analyze` does.
CHECK_ENGINE = "evaluator"
GC_EVERY = 60.0  # seconds between the worker's own full garbage collections (see _run)
SEQ_JUMP = 1_000_000  # a reading's `seq` this far ahead of the pack's last one is garbage, not a reading
HOUSEKEEPING = 0.02  # seconds between stale scans, store flushes, announcements and worker expiry checks
ATTRIBUTES_EVERY = 10.0  # seconds: unchanged attributes are published again this often, so "checked" stays fresh


@functools.lru_cache(maxsize=4096)  # a finding's `since` is the same instant on every check while it lasts
def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _questions(qs: list[Any], ps: PackState) -> list[dict[str, Any]]:
    """The report's ranked questions as plain dicts; the pack's previous list (the same object, so its JSON is
    not made again) when check() gave the same questions, which it remembers by the facts they depend on."""
    if qs == ps.questions_from:  # the same Question objects: compared by identity first, in C
        return ps.questions
    ps.questions_from = list(qs)
    return [_question_dict(q) for q in qs]


_QUESTION_DICTS: dict[int, tuple[Any, dict[str, Any]]] = {}


def _question_dict(q: Any) -> dict[str, Any]:
    """A Question as a dict, made once per Question object (check() shares them between readings and packs), so
    a thousand packs asked the same twenty questions hold one set of dicts, not twenty thousand. Read-only."""
    from dataclasses import asdict, is_dataclass

    hit = _QUESTION_DICTS.get(id(q))
    if hit is not None and hit[0] is q:
        return hit[1]
    d = asdict(q) if is_dataclass(q) else dict(q)
    if len(_QUESTION_DICTS) >= 4096:
        _QUESTION_DICTS.clear()
    _QUESTION_DICTS[id(q)] = (q, d)
    return d


def status_of(findings: list[dict[str, Any]]) -> str:
    sevs = [f["severity"] for f in findings]
    return min(sevs, key=lambda s: SEVERITY_ORDER.get(s, 9)) if sevs else "ok"


@dataclass
class Stats:
    messages: int = 0
    checks: int = 0
    published: int = 0
    malformed: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    connects: int = 0
    disconnects: int = 0
    stale: int = 0
    transitions: int = 0
    unchanged: int = 0  # checks answered from the pack's previous report (identical reading)
    latencies: list[float] = field(default_factory=list)  # receipt -> findings published, seconds (last 10,000)

    def to_json(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "latencies"}
        lat = sorted(self.latencies)
        if lat:
            d["latency_p50_ms"] = round(lat[len(lat) // 2] * 1000, 2)
            d["latency_p95_ms"] = round(lat[int(len(lat) * 0.95)] * 1000, 2)
        return d


class FleetService:
    def __init__(self, broker: Broker, config: FleetConfig | None = None, *, kb: Any = None,
                 store_path: str | None = None, group: str = "bmsdoc", worker_id: str | None = None,
                 share: bool = True, keepalive: int = 5, session_expiry: int = 0, record: bool = True,
                 on_change: Callable[[str, PackState], None] | None = None) -> None:
        if kb is None:
            from kb.load import load_kb

            kb = load_kb()
        if not valid_pack_name(group):
            raise UserError(f"--group '{group}' cannot be an MQTT topic level")
        self.broker, self.config, self.kb = broker, config or FleetConfig(), kb
        self.timing: Timing = self.config.timing
        self.group, self.share = group, share
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}"
        if not valid_pack_name(self.worker_id):
            raise UserError(f"--worker-id '{self.worker_id}' cannot be an MQTT topic level")
        self.keepalive, self.session_expiry = keepalive, session_expiry
        self.on_change = on_change
        self.stats = Stats()
        self.packs: dict[str, PackState] = {}
        self.workers: set[str] = {self.worker_id}
        self._worker_seen: dict[str, float] = {}  # other live workers -> monotonic time of their last announcement
        self._probe: tuple[float, float] | None = None  # (started, ends): who re-announces after a last will
        self.connected = threading.Event()
        self._inbox: list[tuple[str, bytes, bool, float, float]] = []  # what the network loop read, in order
        self._waiting = 0  # messages read but not handled yet (the worker is behind when there are many)
        self._retry_at: float | None = None  # broker lost: monotonic time of the next reconnect attempt
        self._retry_delay = 0.0
        self._heap: list[tuple[float, int, str]] = []
        self._n = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged: set[str] = set()
        self._routes: dict[tuple[str, str], str] = {}  # (shape, alias/node/topic) -> pack
        for pc in self.config.packs.values():
            if pc.shape != "bmsdoc":
                self._routes[(pc.shape, pc.source)] = pc.name
        self.store = None  # opened by the processing thread (SQLite connections stay in their thread)
        self._store_path, self._record = store_path, record
        if record:  # a bad database path is a one-line error now, not later in the thread
            from drivers.mqtt.store import FleetStore

            FleetStore(store_path, kb_version=kb.kb_version).close()
        self._worker_topic = f"bmsdoc/workers/{group}/{self.worker_id}"
        self.client = make_client(broker, f"bmsdoc-{self.worker_id}",
                                  will=(discovery.AVAILABILITY, b"offline", True), reconnect=FLEET_RECONNECT)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._subscribing: set[int] = set()  # mids of this connection's SUBSCRIBEs not acknowledged yet
        self._last_announce = 0.0
        self._refused = ""
        self._last_stale_scan = 0.0
        self._last_housekeeping = 0.0
        self._last_gc = 0.0
        self._started = time.time()

    # ------------------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> None:
        connect(self.client, self.broker, keepalive=self.keepalive, expiry=self.session_expiry)
        self._thread = threading.Thread(target=self._run, name="bmsdoc-fleet", daemon=True)
        self._thread.start()
        end = time.monotonic() + timeout
        while not self.connected.wait(0.05) and not self._refused and time.monotonic() < end:
            pass
        if not self.connected.is_set():
            self.stop()
            why = f" ({self._refused}: check the user name and password)" if self._refused else ""
            raise UserError(f"the broker at {self.broker.describe()} refused the connection{why}" if why else
                            f"the broker at {self.broker.describe()} did not accept the connection within {timeout:g} s")

    def stop(self) -> None:
        """Stop the thread; it says goodbye (worker entry cleared, `bmsdoc/status` offline) and disconnects."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(8)

    def _goodbye(self) -> None:
        try:
            if self.connected.is_set():
                infos = [self.client.publish(self._worker_topic, b"", qos=1, retain=True),
                         self.client.publish(discovery.AVAILABILITY, b"offline", qos=1, retain=True)]
                end = time.monotonic() + 2.0
                while time.monotonic() < end and not all(i.is_published() for i in infos) \
                        and self.client.socket() is not None:
                    self._network(0.05)
            self.client.disconnect()  # written at once (no network thread)
            sock = self.client.socket()
            if sock is not None:  # the broker closes its side: paho reads that and closes the socket
                select.select([sock], [], [], 0.5)
                self.client.loop_read()
        except (RuntimeError, ValueError, OSError):
            pass

    def run_forever(self, duration: float | None = None) -> None:
        end = None if duration is None else time.monotonic() + duration
        while not self._stop.is_set() and (end is None or time.monotonic() < end):
            if self._thread is not None and not self._thread.is_alive():
                raise RuntimeError("the processing thread stopped")
            time.sleep(0.2)

    # ------------------------------------------------------------------------------ network thread

    def _subscriptions(self) -> list[tuple[str, Any]]:
        from paho.mqtt.subscribeoptions import SubscribeOptions

        q1 = SubscribeOptions(qos=1)
        # Telemetry at QoS 1 only when the broker keeps this worker's session (session_expiry > 0): without a session
        # a reading the broker has not delivered when the connection drops is gone at either QoS, and QoS 0 spares
        # an acknowledgement per reading (a packet, a system call and paho's bookkeeping).
        tq = q1 if self.session_expiry else SubscribeOptions(qos=0)
        reading = f"$share/{self.group}/bmsdoc/+/reading" if self.share else "bmsdoc/+/reading"
        subs = [(reading, tq), ("bmsdoc/+/settings", q1), ("bmsdoc/+/state", SubscribeOptions(qos=1, noLocal=True)),
                (f"bmsdoc/workers/{self.group}/+", q1), ("homeassistant/status", q1), (discovery.AVAILABILITY, q1)]
        if self.share:  # who else checked a whole-reading pack, so a silent pack is told from one checked elsewhere
            subs.append(("bmsdoc/+/attributes", SubscribeOptions(qos=0, noLocal=True)))
        for shape, source in self._routes:
            subs.append((source if shape == "serialbattery" else f"{source}/#", tq))
        return subs

    def _network(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the broker, then let paho read what has arrived (into the inbox, at most
        BACKLOG messages), write what is queued and keep the connection alive: paho's API for an application's own
        event loop (`socket`, `want_write`, `loop_read`, `loop_write`, `loop_misc`). Publishing then writes at once,
        without the wake-up byte paho's own loops send for every publish. A lost broker is reconnected with
        backoff (FLEET_RECONNECT, as paho's own loop would), while pack work (stale scans) goes on."""
        if self._retry_at is not None:
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                self._stop.wait(min(wait, timeout))
                return
            try:
                self.client.reconnect()
            except (OSError, ValueError) as e:  # the broker is still away (refused, unreachable, TLS)
                log.debug("reconnect failed: %s", e)
                self._backoff()
                return
            self._retry_at = None
        c = self.client
        sock = c.socket()
        if sock is None:
            self._backoff()
            return
        pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted are not seen by select()
        if not (pending and pending()):
            try:
                select.select([sock], [sock] if c.want_write() else [], [], timeout)
            except (OSError, ValueError):  # the socket closed under us: the reads below say so
                pass
        rc = MQTT_ERR_SUCCESS
        while rc == MQTT_ERR_SUCCESS and len(self._inbox) < BACKLOG:
            n = len(self._inbox)
            rc = c.loop_read()  # a packet or a few; nothing waiting: returns at once
            if len(self._inbox) == n:
                break
        if rc == MQTT_ERR_SUCCESS and c.want_write():
            rc = c.loop_write()
        if rc == MQTT_ERR_SUCCESS:
            rc = c.loop_misc()  # keepalive pings, and a broker that stopped answering them
        if rc != MQTT_ERR_SUCCESS:
            self._backoff()

    def _backoff(self) -> None:
        if self._stop.is_set():
            return
        lo, hi = FLEET_RECONNECT
        self._retry_delay = min(hi, self._retry_delay * 2) if self._retry_delay else lo
        self._retry_at = time.monotonic() + self._retry_delay
        self.connected.clear()

    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if getattr(reason_code, "is_failure", False):
            self._refused = reason_text(reason_code)
            if self.stats.connects:  # at start, start() turns it into the one-line error instead
                log.warning("broker refused the connection: %s", self._refused)
            return
        self.stats.connects += 1
        self._retry_delay = 0.0
        log.info("connected (session present: %s)", getattr(flags, "session_present", None))
        subs = self._subscriptions()
        self._subscribing = set()
        for i in range(0, len(subs), 100):  # a broker limits the topics of one SUBSCRIBE
            self._subscribing.add(client.subscribe(subs[i:i + 100])[1])
        client.publish(discovery.AVAILABILITY, b"online", qos=1, retain=True)
        self._announce(force=True)
        self._inbox.append((_CONNECTED, b"", False, time.monotonic(), time.time()))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None) -> None:
        """Connected for the caller (start() returns) once the broker has confirmed every subscription: a reading
        published after that reaches this worker."""
        self._subscribing.discard(mid)
        if not self._subscribing:
            self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if self.connected.is_set() and not self._stop.is_set():
            self.stats.disconnects += 1
            log.warning("lost the broker (%s); reconnecting with backoff", reason_text(reason_code))
        self.connected.clear()

    def _on_message(self, client, userdata, msg) -> None:
        self._inbox.append((msg.topic, msg.payload, msg.retain, time.monotonic(), time.time()))

    # ------------------------------------------------------------------------------ processing thread

    def _run(self) -> None:
        if self._record:
            from drivers.mqtt.store import FleetStore

            self.store = FleetStore(self._store_path, kb_version=self.kb.kb_version)
        for pc in self.config.packs.values():
            self._pack(pc.name)
        from engine.check import check
        from engine.reading import Reading

        check(Reading(), self.kb, engine=CHECK_ENGINE)  # load what checking needs before the first reading waits
        # The knowledge base and the modules are hundreds of thousands of objects that live as long as the service:
        # out of the collector's sight, its full collections (one every few thousand readings) stop walking them.
        gc.freeze()
        # Each pack's state lives about a second (until its next reading) and then is freed by reference counting.
        # To the generational collector that is old age: with its default thresholds it ran a full collection over
        # every pack's state every few hundred checks, and with larger ones a second-generation collection over the
        # same, 20-100 ms of CPU each at 1,000 packs (measured), and the readings queued behind each pause. The
        # cyclic garbage is young (paho leaves 6 objects per message received, a reading 0.3): young collections
        # (1-2 ms) catch it, and the older generations are collected from _housekeeping every GC_EVERY seconds.
        thresholds = gc.get_threshold()
        gc.set_threshold(thresholds[0], 1_000_000_000, 1_000_000_000)  # the whole process's: restored below
        self._last_gc = time.monotonic()
        try:
            self._loop()
        finally:
            gc.set_threshold(*thresholds)
            self._goodbye()
            if self.store is not None:
                self.store.close()
                self.store = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            timeout = 0.2
            if self._heap:
                timeout = max(0.0, min(timeout, self._heap[0][0] - now))
            try:
                self._network(timeout)
            except Exception:  # noqa: BLE001 - a paho surprise must never stop the service
                log.exception("unexpected error in the network loop")
                self._backoff()
            batch, self._inbox = self._inbox, []
            for i, item in enumerate(batch):
                self._waiting = len(batch) - i - 1
                try:
                    self._handle(*item)
                except Exception:  # noqa: BLE001 - one bad message must never stop the service
                    log.exception("unexpected error while handling a message")
            self._waiting = 0
            self._due_checks()
            self._housekeeping()

    def _due_checks(self) -> None:
        """Check the packs that are due, for at most CHECK_BUDGET seconds: a worker that is behind goes back to
        reading, so each pack's newest reading replaces the older ones still waiting (coalesced, never queued)."""
        now = time.monotonic()
        while self._heap and self._heap[0][0] <= now and time.monotonic() - now < CHECK_BUDGET:
            due, _n, name = heapq.heappop(self._heap)
            ps = self.packs.get(name)
            if ps is None:
                continue
            if ps.queued == due:
                ps.queued = None
            if ps.due is None:
                continue
            if ps.due > due:  # more messages came since: it is due later now
                self._schedule(ps)
                continue
            try:
                self._check(ps)
            except Exception:  # noqa: BLE001
                log.exception("unexpected error while checking pack %s", name)

    def _schedule(self, ps: PackState) -> None:
        """Put the pack in the heap for its due time, unless it is there already for a time no later: then that
        entry, when it comes, puts it back for the later time (a split pack's 20 messages per reading make one
        entry, not 20)."""
        if ps.due is None or ps.queued is not None and ps.queued <= ps.due:
            return
        self._n += 1
        ps.queued = ps.due
        heapq.heappush(self._heap, (ps.due, self._n, ps.name))

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_housekeeping < HOUSEKEEPING and not (self.store is not None and self.store.flushing):
            return  # a busy worker goes round its loop a thousand times a second: this work is timed in seconds
        self._last_housekeeping = now
        if now - self._last_stale_scan >= 1.0:
            self._last_stale_scan = now
            self._stale_scan()
        if self.store is not None:
            self.store.flush()
        if now - self._last_announce >= ANNOUNCE:
            self._announce()
        self._expire_workers()
        if now - self._last_gc >= GC_EVERY:
            gc.collect()  # ~15 ms at 1,000 packs
            self._last_gc = time.monotonic()

    def _announce(self, force: bool = False) -> None:
        self._last_announce = time.monotonic()
        body = {"state": "online", "worker": self.worker_id, "group": self.group, "time": round(time.time(), 3),
                "packs": len(self.packs), "stats": self.stats.to_json()}
        self.client.publish(self._worker_topic, json.dumps(body).encode(), qos=1, retain=True)

    def _pack(self, name: str, pc: PackConfig | None = None) -> PackState:
        ps = self.packs.get(name)
        if ps is None:
            pc = pc or self.config.packs.get(name) or PackConfig(name)
            ps = PackState(name, pc)
            ps.last_msg = time.monotonic()  # a configured pack that never speaks goes stale after stale_after
            ps.seen_wall = time.time()
            if self.store is not None:
                ps.active = self.store.active(name)
                if ps.active:
                    ps.active_time = max(s for _sev, s in ps.active.values())
            self.packs[name] = ps
        return ps

    def owns(self, pack: str) -> bool:
        return shard.owner(pack, self.workers) == self.worker_id

    def _malformed(self, topic: str, why: str) -> None:
        self.stats.malformed += 1
        if topic not in self._logged:
            self._logged.add(topic)
            log.warning("malformed message on %s: %s (further ones on this topic are counted, not logged)", topic,
                        why)

    def _handle(self, topic: str, payload: bytes, retained: bool, mono: float, wall: float) -> None:
        if topic == _CONNECTED:
            self._republish_all()
            return
        self.stats.messages += 1
        parts = topic.split("/")
        try:
            if parts[0] == "bmsdoc" and len(parts) == 3:
                name, kind = parts[1], parts[2]
                if kind == "reading":
                    self._whole(name, payload, mono, wall)
                elif kind == "settings":
                    self._settings(name, payload)
                elif kind == "state":
                    self._adopt(name, payload)
                elif kind == "attributes" and not retained and name in self.packs:
                    self.packs[name].seen_wall = max(self.packs[name].seen_wall, wall)
                return
            if parts[0] == "bmsdoc" and len(parts) == 4 and parts[1] == "workers" and parts[2] == self.group:
                self._worker(parts[3], payload)
                return
            if topic == "homeassistant/status":
                if shapes.text(payload).lower() == "online":
                    log.info("Home Assistant is back online: discovery sent again")
                    for ps in self.packs.values():
                        if ps.announced:
                            self._discovery(ps)
                return
            if topic == discovery.AVAILABILITY:
                if payload == b"offline" and not self._stop.is_set() and self.connected.is_set() and not retained:
                    # a worker's last will: say online again, re-announce, and find out who is gone
                    self.client.publish(discovery.AVAILABILITY, b"online", qos=1, retain=True)
                    self._announce()
                    now = time.monotonic()
                    self._probe = (now, now + PROBE)
                return
            self._split(topic, parts, payload, mono, wall)
        except shapes.Malformed as e:
            self._malformed(topic, str(e))
        except UserError as e:
            self._malformed(topic, str(e))

    def _whole(self, name: str, payload: bytes, mono: float, wall: float) -> None:
        if not valid_pack_name(name):
            raise shapes.Malformed(f"'{name}' is not a pack name")
        fields, seq, when = shapes.bmsdoc_reading(payload)
        if not any(v is not None for v in fields.values()):
            raise shapes.Malformed("a reading with no values")  # it would be checked as a healthy pack ("ok")
        ps = self._pack(name)
        if when is not None and ps.last_time is not None and when <= ps.last_time:
            if when == ps.last_time:
                self.stats.duplicates += 1
            else:
                self.stats.out_of_order += 1
            return
        if when is None and seq is not None and ps.last_seq is not None and seq > ps.last_seq + SEQ_JUMP:
            # one garbage `seq` would have every later reading dropped as older until the sender restarts at 1
            raise shapes.Malformed(f"'seq' jumps from {ps.last_seq} to {seq}")
        if when is None and seq is not None and ps.last_seq is not None and seq <= ps.last_seq and seq != 1:
            if seq == ps.last_seq:
                self.stats.duplicates += 1
            else:
                self.stats.out_of_order += 1
            return
        ps.last_seq = seq if seq is not None else ps.last_seq
        ps.last_time = when if when is not None else ps.last_time
        ps.whole = fields
        self._touched(ps, mono, wall)

    def _touched(self, ps: PackState, mono: float, wall: float, *, slot: Any = None) -> None:
        ps.received = wall
        ps.seen_wall = wall
        ps.touched(mono, self.timing, slot=slot)
        if ps.due is not None and ps.due <= time.monotonic() and self._waiting < BACKLOG:
            # a whole reading (or a split one whose every value came again) within the rate limit is checked at
            # once, before the next overwrites it
            self._check(ps)
        else:
            self._schedule(ps)

    def _settings(self, name: str, payload: bytes) -> None:
        if not valid_pack_name(name):
            raise shapes.Malformed(f"'{name}' is not a pack name")
        data = shapes.settings(payload)
        if name not in self.packs:  # checked before the pack exists: a malformed message makes no phantom pack
            PackState(name, PackConfig(name)).set_retained(data)
        ps = self._pack(name)
        ps.set_retained(data)
        if ps.whole is not None or ps.split or ps.states:
            ps.due = max(time.monotonic(), ps.last_check + self.timing.min_interval)
            self._schedule(ps)

    def _split(self, topic: str, parts: list[str], payload: bytes, mono: float, wall: float) -> None:
        name = self._routes.get(("serialbattery", topic))
        if name is not None:
            ps = self._pack(name)
            ps.whole = shapes.serialbattery(payload)
            self._touched(ps, mono, wall)
            return
        if len(parts) < 2:
            return
        name = self._routes.get(("batmon", parts[0]))
        if name is not None:
            ps = self._pack(name)
            got = shapes.batmon(parts[1:], payload) if len(parts) == 3 else shapes.batmon_single(parts[1], payload)
            if got is None:
                return
            slot, value = got
            ps.split[slot] = value
            self._touched(ps, mono, wall, slot=slot)
            return
        name = self._routes.get(("esphome", parts[0]))
        if name is not None:
            ps = self._pack(name)
            if len(parts) == 2 and parts[1] == "status":
                return
            if len(parts) != 4 or parts[3] != "state" or parts[1] not in shapes.ESPHOME_DOMAINS:
                return
            key = (parts[1], parts[2])
            value = shapes.esphome_state(parts[1], payload)  # garbage raises: counted, and the last good value stays
            if value is None:
                ps.states.pop(key, None)
                return
            ps.states[key] = value
            self._touched(ps, mono, wall, slot=key)

    def _worker(self, wid: str, payload: bytes) -> None:
        """A worker's announcement (every ANNOUNCE s, and at once when `bmsdoc/status` went offline); empty or
        not online: it left."""
        if wid == self.worker_id:
            return
        alive = False
        if payload:
            try:
                body = json.loads(payload)
            except (ValueError, UnicodeDecodeError):
                raise shapes.Malformed("a worker announcement is JSON") from None
            fresh = isinstance(body, dict) and isinstance(body.get("time"), (int, float)) \
                and time.time() - body["time"] < 3 * ANNOUNCE
            alive = fresh and body.get("state") == "online"
        if alive:
            self._worker_seen[wid] = time.monotonic()
            self._set_workers(self.workers | {wid})
        else:
            self._worker_seen.pop(wid, None)
            self._set_workers(self.workers - {wid})

    def _set_workers(self, workers: set[str]) -> None:
        workers = set(workers) | {self.worker_id}
        if workers == self.workers:
            return
        self.workers = workers
        log.info("workers of group %s: %s", self.group, ", ".join(sorted(self.workers)))
        now = time.monotonic()
        for ps in self.packs.values():  # take over the packs that moved here: check them now
            if ps.shape != "bmsdoc" and self.owns(ps.name) and (ps.split or ps.states or ps.whole):
                ps.due = max(now, ps.last_check + self.timing.min_interval)
                self._schedule(ps)

    def _expire_workers(self) -> None:
        """Drop workers that stopped announcing: at once after a probe (someone's last will fired), else after
        3 missed announcements."""
        now = time.monotonic()
        probing = self._probe is not None and now >= self._probe[1]
        gone = {w for w, seen in self._worker_seen.items()
                if now - seen > 3 * ANNOUNCE or probing and seen < self._probe[0]}  # type: ignore[index]
        if probing:
            self._probe = None
        if gone:
            for w in gone:
                self._worker_seen.pop(w, None)
            log.info("worker(s) %s stopped: taking over their packs", ", ".join(sorted(gone)))
            self._set_workers(self.workers - gone)

    def _adopt(self, name: str, payload: bytes) -> None:
        """Another worker's decision for a pack (retained: also the previous run's)."""
        if not payload or not valid_pack_name(name):
            return
        data = shapes.json_object(payload, "a pack state")
        when = data.get("decided")
        active = data.get("active")
        if not isinstance(when, (int, float)) or not isinstance(active, dict):
            raise shapes.Malformed("a pack state has 'decided' and 'active'")
        if data.get("group", self.group) != self.group:
            return  # another group's decision (two groups on one broker each keep their own)
        ps = self._pack(name)
        if when <= ps.active_time:
            return
        ps.active = {r: (str(v.get("severity")), float(v.get("since", when))) for r, v in active.items()
                     if isinstance(v, dict)}
        ps.active_time = float(when)
        if isinstance(data.get("findings"), list):
            ps.findings = data["findings"]
            ps.status = status_of(ps.findings)
        if isinstance(data.get("stale"), bool):
            ps.stale = data["stale"]  # a silent pack stays stale whoever publishes it next (after a restart)
        checked = data.get("checked")
        if isinstance(checked, (int, float)) and not isinstance(checked, bool) and math.isfinite(checked) and \
                checked <= time.time() + 60:
            ps.checked_wall = max(ps.checked_wall or 0.0, float(checked))
        if isinstance(data.get("seq"), int) and (ps.last_seq is None or data["seq"] > ps.last_seq):
            ps.last_seq = data["seq"]
        t = data.get("time")
        if isinstance(t, (int, float)) and not isinstance(t, bool) and t <= time.time() + shapes.MAX_AHEAD and \
                (ps.last_time is None or t > ps.last_time):  # a far-future time would have every reading dropped
            ps.last_time = float(t)

    # ------------------------------------------------------------------------------ checking

    def _fields(self, ps: PackState) -> tuple[dict[str, Any], list[str]]:
        """The pack's reading fields before validation: its latest values and its settings."""
        measured, notes = ps.measured()
        fields = dict(measured)
        fields.update(ps.settings(self.config.defaults))  # the owner's settings win over what the BMS reports
        return fields, notes

    def _reading(self, ps: PackState, fields: dict[str, Any], notes: list[str]):
        from pydantic import ValidationError

        from engine.reading import Reading, one_line

        fields = dict(fields)
        for _attempt in range(3):
            try:
                return Reading.model_validate(fields), notes
            except ValidationError as e:
                bad = {str(err["loc"][0]) for err in e.errors() if err["loc"]}
                if ps.shape not in SPLIT_SHAPES or not bad or not bad & set(fields):
                    raise UserError(one_line(e)) from None
                notes.append(f"left out: {one_line(e).removeprefix('invalid reading: ')}")
                for k in bad:
                    fields.pop(k, None)
        raise UserError("invalid reading")

    def _check(self, ps: PackState) -> None:
        from engine.check import check

        mono = time.monotonic()
        ps.due, ps.first_pending, ps.last_check = None, None, mono
        ps.checked_values()
        if ps.shape != "bmsdoc" and not self.owns(ps.name):
            return
        fields, notes = self._fields(ps)
        if fields == ps.last_key and ps.last_result is not None:
            # the same values again (a pack at rest, batmon-ha's repeats): the same reading, the same findings
            reading, (sorted_findings, questions_asked) = ps.last_reading, ps.last_result
            self.stats.unchanged += 1
        else:
            try:
                reading, _notes = self._reading(ps, fields, notes)
            except UserError as e:
                self._malformed(f"bmsdoc/{ps.name}/reading" if ps.shape == "bmsdoc" else f"{ps.config.source}/#",
                                str(e))
                return
            report = check(reading, self.kb, engine=CHECK_ENGINE)
            sorted_findings, questions_asked = report.sorted_findings(), report.questions
            # not the report: its facts are ~40 objects per pack that the collector would walk (see _run)
            ps.last_key, ps.last_reading, ps.last_result = fields, reading, (sorted_findings, questions_asked)
        self.stats.checks += 1
        now = time.time()
        ps.checked_wall = now
        findings = []
        current: dict[str, tuple[str, float]] = {}
        raised, cleared = [], []
        for f in sorted_findings:
            prev = ps.active.get(f.rule)
            since = prev[1] if prev and prev[0] == f.severity else now
            current[f.rule] = (f.severity, since)
            item = {"rule": f.rule, "severity": f.severity, "title": f.title, "message": f.message,
                    "evidence": f.evidence, "citations": list(f.citations), "since": iso(since)}
            for extra in ("assumed", "explained_by"):
                if getattr(f, extra, None):
                    item[extra] = getattr(f, extra)
            findings.append(item)
            if since == now:
                raised.append(f.to_json())
        for rule, (_sev, since) in ps.active.items():
            if rule not in current:
                cleared.append((rule, since))
        questions = _questions(questions_asked, ps)
        status = status_of(findings)
        was_stale = ps.stale
        ps.stale = False
        if findings == ps.findings:
            findings = ps.findings  # the same object: its JSON is neither made nor published again
        ps.findings, ps.questions = findings, questions
        if raised or cleared or was_stale or ps.status is None:
            ps.active, ps.active_time = current, now
            if raised or cleared:
                self.stats.transitions += 1
                if self.store is not None:
                    self.store.session(ps.name, reading.bms, ps.settings(self.config.defaults))
                    self.store.transition(ps.name, now, reading.given(), raised, cleared)
            if was_stale and self.store is not None:
                self.store.event(ps.name, now, "fresh", "data again")
            self._publish_state(ps, now)
        ps.status = status
        if not ps.announced:
            self._discovery(ps)
        self._publish_results(ps)
        self.stats.latencies.append(time.time() - ps.received)
        if len(self.stats.latencies) > 10_000:
            del self.stats.latencies[:5_000]
        if self.store is not None:  # the JSON just published, not serialised again
            base = f"bmsdoc/{ps.name}"
            self.store.overview(ps.name, status, ps.seen_wall, now, ps.published[f"{base}/findings"],
                                ps.published[f"{base}/questions"])
        if self.on_change is not None:
            self.on_change(ps.name, ps)

    # ------------------------------------------------------------------------------ publishing

    def _pub(self, topic: str, payload: Any, ps: PackState | None = None, force: bool = True, qos: int = 1) -> None:
        """Publish retained; with ps and force=False only when it differs from what was last published there.
        The same payload object as last time (a pack's unchanged questions) is not serialised again."""
        if isinstance(payload, bytes):
            data = payload
        elif ps is not None and ps.published_from.get(topic) is payload:
            data = ps.published[topic]
        else:
            data = json.dumps(payload, ensure_ascii=False, default=str).encode()
            if ps is not None:
                ps.published_from[topic] = payload
        if ps is not None:
            if not force and ps.published.get(topic) == data:
                return
            ps.published[topic] = data
        self.client.publish(topic, data, qos=qos, retain=True)
        self.stats.published += 1

    def _publish_results(self, ps: PackState, force: bool = False) -> None:
        """Findings, status and questions when they change (a finding's evidence is part of it: a moving value is
        a change), or after a reconnect (force); attributes when they change and at least every ATTRIBUTES_EVERY
        seconds, with the time of the latest check: the pack's sign of life for Home Assistant and the other
        workers. Findings (and the state beside them) go at QoS 1: paho keeps them through a lost connection, so
        no transition is lost. Status, questions and attributes follow from them and go at QoS 0: the broker
        acknowledges nothing, and a reconnect publishes all of them again (force) whatever was lost meanwhile."""
        base = f"bmsdoc/{ps.name}"
        status = "stale" if ps.stale else (ps.status or status_of(ps.findings))
        self._pub(f"{base}/findings", ps.findings, ps, force, qos=1)
        self._pub(f"{base}/questions", ps.questions, ps, force, qos=0)
        now = time.time()
        every = min(ATTRIBUTES_EVERY, self.timing.stale_after / 3)  # another worker must see it before "stale"
        made_from = (ps.findings, ps.questions)
        if force or now - ps.attrs_at >= every or any(a is not b for a, b in zip(made_from, ps.attrs_from)):
            attrs = {"findings": [f["title"] for f in ps.findings], "rules": [f["rule"] for f in ps.findings],
                     "questions": [q.get("ask") for q in ps.questions if isinstance(q, dict)],
                     "worker": self.worker_id}
            key = repr(attrs)  # only compared: the same order every time
            ps.attrs_from = made_from
            if force or key != ps.attrs_key or now - ps.attrs_at >= every:  # "checked" ages in between
                ps.attrs_key, ps.attrs_at = key, now
                # the time of the pack's latest check (sent again after a reconnect, it is not "now")
                self._pub(f"{base}/attributes", {**attrs, "checked": iso(ps.checked_wall or now)}, ps, qos=0)
        self._pub(f"{base}/status", status.encode(), ps, force, qos=0)

    def _publish_state(self, ps: PackState, now: float) -> None:
        self._pub(f"bmsdoc/{ps.name}/state", {
            "decided": now, "worker": self.worker_id, "group": self.group, "seq": ps.last_seq, "time": ps.last_time,
            "active": {r: {"severity": s, "since": t} for r, (s, t) in ps.active.items()},
            "findings": ps.findings, "stale": ps.stale, "checked": ps.checked_wall})

    def _discovery(self, ps: PackState) -> None:
        ps.announced = True
        for topic, payload in discovery.configs(ps.name, kb_version=self.kb.kb_version):
            self._pub(topic, payload)

    def _republish_all(self) -> None:
        """After a (re)connect: the broker may have lost its retained messages (a restart without persistence)."""
        for ps in self.packs.values():
            if ps.status is None or not self._owner_of_results(ps):
                continue
            self._discovery(ps)
            self._publish_results(ps, force=True)

    def _owner_of_results(self, ps: PackState) -> bool:
        return self.owns(ps.name)

    def _stale_scan(self) -> None:
        wall = time.time()
        for ps in self.packs.values():
            if ps.stale or wall - ps.seen_wall < self.timing.stale_after:
                continue
            if not self.owns(ps.name):
                continue
            ps.stale = True
            self.stats.stale += 1
            log.info("pack %s is stale: nothing for %.0f s", ps.name, wall - ps.seen_wall)
            if self.store is not None:
                self.store.event(ps.name, wall, "stale", f"no data for {self.timing.stale_after:g} s")
                self.store.overview(ps.name, "stale", ps.seen_wall, None, None, None)
            self._pub(f"bmsdoc/{ps.name}/status", b"stale", ps, qos=0)
            if not ps.announced:
                self._discovery(ps)
            self._publish_state(ps, wall)
            if self.on_change is not None:
                self.on_change(ps.name, ps)
