"""Live Bluetooth LE: find BMS nearby (`scan`) and stream readings from one (`watch`), through aiobmsble.

aiobmsble decodes the protocols (JK, JBD, ANT, Daly and ~50 more); this module adds what a troubleshooting tool needs
around it: identification with aiobmsble's own advertisement matchers, normalisation of every sample to a Reading
(drivers.sample, merged with the settings and context the rider gives), reconnection with exponential backoff after
drops, and plain-language errors for the two classic failures: no Bluetooth adapter (or no BlueZ/D-Bus), and a
phone app holding the BMS's only BLE connection (the device is there but every connection attempt times out).

`watch` yields LiveEvent objects:
    connected     a connection is up (detail: device name and aiobmsble class)
    reading       one normalised Reading (seq counts readings from 1, without gaps or repeats)
    error         a poll failed (no valid reply, a corrupt frame, an implausible sample) and was skipped; with
                  fatal=True the stream ends here (no adapter, device not found, connection refused, gave up)
    disconnected  the link dropped
    reconnecting  waiting `detail` before reconnection attempt `attempt`
    ended         the stream reached its end (`until`, or the consumer stopped it)
t is seconds on the stream's clock (wall seconds since the start; scenario seconds for the virtual BMS).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.reading import Reading, canonical_field
from kb.errors import UserError

# aiobmsble module name -> our family name, for the families the handbook covers
FAMILY_MODULES = {"jk": "jikong_bms", "jbd": "jbd_bms", "ant": "ant_bms", "daly": "daly_bms"}
POLL_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, ValueError, ConnectionError, EOFError)
PHONE_APP_HINT = ("it advertises but did not accept a connection: a phone app (JK BMS, Xiaoxiang/JBD, ANT BMS, "
                  "Smart BMS) probably holds its only Bluetooth connection. Close the app completely (force-stop it) "
                  "and try again")


@dataclass(frozen=True)
class Found:
    """A BMS seen advertising."""

    name: str
    address: str
    family: str | None  # jk | jbd | ant | daly, or None for another aiobmsble-supported BMS
    bms_class: str  # aiobmsble module, e.g. "jikong_bms"
    rssi: int | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "family": self.family, "bms_class": self.bms_class,
                "rssi": self.rssi}


@dataclass(frozen=True)
class LiveEvent:
    kind: str  # connected | reading | error | disconnected | reconnecting | ended
    t: float
    reading: Reading | None = None
    seq: int = 0
    detail: str = ""
    attempt: int = 0
    fatal: bool = False
    notes: tuple[str, ...] = ()  # what the normalisation left out or converted (first reading only)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"t": round(self.t, 3), "event": self.kind}
        if self.reading is not None:
            d["seq"] = self.seq
            d["reading"] = self.reading.given()
        if self.detail:
            d["detail"] = self.detail
        if self.attempt:
            d["attempt"] = self.attempt
        if self.fatal:
            d["fatal"] = True
        return d


@dataclass
class WatchStats:
    readings: int = 0
    failed_polls: int = 0  # no valid reply in time: lost or corrupt frames (aiobmsble drops frames that fail its checks)
    rejected: int = 0  # decoded, but not a plausible reading
    drops: int = 0
    reconnects: int = 0


# ---------------------------------------------------------------------------------------------- errors


def explain(exc: BaseException) -> str | None:
    """A one-line explanation for the Bluetooth stack failures a user can fix (no adapter, no BlueZ/D-Bus, no
    permission, Bluetooth off), else None: ordinary connection failures are not explained as these."""
    low = f"{type(exc).__name__}: {exc}".lower()
    if "no bluetooth adapters" in low or re.search(r"adapter '?[\w:]+'? not found", low):
        return "no Bluetooth adapter found: plug one in or enable Bluetooth (rfkill unblock bluetooth)"
    if (isinstance(exc, (FileNotFoundError, ConnectionRefusedError)) or "system_bus_socket" in low
            or "serviceunknown" in low or "not provided by any .service files" in low):
        return ("Bluetooth is not available: BlueZ/D-Bus is not running here (no Bluetooth adapter, or a container "
                "without access to the host's Bluetooth)")
    if isinstance(exc, PermissionError) or "accessdenied" in low or "not permitted" in low:
        return "no permission to use Bluetooth: run as a user in the 'bluetooth' group, or grant the permission"
    if "org.bluez.error.notready" in low or "powered off" in low:
        return "Bluetooth is switched off: turn it on and try again"
    return None


def _unavailable(exc: BaseException) -> UserError:
    return UserError(explain(exc) or f"Bluetooth failed: {type(exc).__name__}: {exc}")


def _bleak_error() -> type[BaseException]:
    from bleak.exc import BleakError

    return BleakError


# ---------------------------------------------------------------------------------------------- scan

Discover = Callable[[float], Awaitable[Mapping[str, tuple[Any, Any]]]]


async def _discover(timeout: float) -> Mapping[str, tuple[Any, Any]]:
    from bleak import BleakScanner

    return await BleakScanner.discover(timeout=timeout, return_adv=True)


async def scan(timeout: float = 5.0, *, discover: Discover | None = None) -> list[Found]:
    """BMS advertising nearby, strongest signal first. Raises UserError when Bluetooth is unusable."""
    from aiobmsble.utils import bms_identify

    try:
        seen = await (discover or _discover)(timeout)
    except (OSError, _bleak_error()) as e:
        raise _unavailable(e) from None
    out: list[Found] = []
    for address, (device, adv) in seen.items():
        cls = await bms_identify(adv, address)
        if cls is None:
            continue
        module = cls.__module__.rsplit(".", 1)[-1]
        fam = next((f for f, m in FAMILY_MODULES.items() if m == module), None)
        if module == "ant_leg_bms":
            fam = "ant"
        out.append(Found(adv.local_name or getattr(device, "name", None) or "", address, fam, module,
                         getattr(adv, "rssi", None)))
    out.sort(key=lambda f: -(f.rssi if f.rssi is not None else -999))
    return out


async def _find(address: str, timeout: float, discover: Discover | None) -> tuple[Any, Any]:
    try:
        seen = await (discover or _discover)(timeout)
    except (OSError, _bleak_error()) as e:
        raise _unavailable(e) from None
    for addr, pair in seen.items():
        if addr.lower() == address.lower():
            return pair
    raise UserError(f"no BMS with address {address} advertised within {timeout:g} s: is it awake and in range? "
                    "(a BMS connected to a phone app stops advertising: close the app; a Daly sleeps after a while "
                    "and cannot be woken over Bluetooth)")


async def bms_class_for(family: str | None, adv: Any = None, address: str = "") -> type:
    """The aiobmsble class for a family name or an aiobmsble module name, else identified from the advertisement."""
    from aiobmsble.utils import bms_cls, bms_identify

    if family:
        module = FAMILY_MODULES.get(family, family)
        cls = await bms_cls(module)
        if cls is None:
            raise UserError(f"unknown BMS family '{family}' (known: {', '.join(FAMILY_MODULES)}, or an aiobmsble "
                            "module name such as ant_leg_bms)")
        return cls
    cls = await bms_identify(adv, address) if adv is not None else None
    if cls is None:
        raise UserError(f"could not tell which BMS {address} is from its advertisement: give --family "
                        f"({', '.join(FAMILY_MODULES)})")
    return cls


def family_of_class(cls: type) -> str | None:
    module = cls.__module__.rsplit(".", 1)[-1]
    if module == "ant_leg_bms":
        return "ant"
    return next((f for f, m in FAMILY_MODULES.items() if m == module), None)


# ---------------------------------------------------------------------------------------------- readings


def canonical_context(context: Mapping[str, Any] | None) -> dict[str, Any]:
    """The rider's settings and context under canonical names, checked once (UserError on a bad value)."""
    out: dict[str, Any] = {}
    for k, v in (context or {}).items():
        if v is None:
            continue
        name = canonical_field(k) or k  # unknown names are left for Reading.parse to reject with a suggestion
        out[name] = v
    if out:
        Reading.parse(out)
    return out


def to_reading(sample: Mapping[str, Any], family: str | None, context: Mapping[str, Any],
               notes: list[str] | None = None, variant: str = "") -> Reading:
    """One aiobmsble sample + the rider's context -> a Reading (UserError when the sample is implausible)."""
    from drivers.protection import describe
    from drivers.sample import sample_to_fields

    fields = sample_to_fields(sample, family or "", notes, variant)  # protection fields from problem_code
    if sample.get("problem_code") and (words := describe(fields)):
        fields["fault"] = words
    elif code := sample.get("problem_code"):
        fields["fault"] = f"{family or 'bms'} alarm code 0x{int(code):X}"
    fields.update(context)  # the rider's configured series wins over the BMS's cell count
    return Reading.parse(fields)


# ---------------------------------------------------------------------------------------------- watch


class _Dropped(Exception):
    pass


async def watch(address: str | Any, *, family: str | None = None, context: Mapping[str, Any] | None = None,
                interval: float = 1.0, until: float | None = None, clock: Callable[[], float] | None = None,
                scan_timeout: float = 10.0, backoff: tuple[float, float] = (0.5, 30.0),
                max_reconnects: int | None = None, failures_before_reconnect: int = 3,
                stats: WatchStats | None = None, discover: Discover | None = None,
                bms_class: type | None = None, tick: Callable[[], None] | None = None) -> AsyncIterator[LiveEvent]:
    """Poll one BMS and yield LiveEvents (see the module docstring).

    address: a MAC address (found by scanning) or a bleak BLEDevice (used as is: the virtual BMS passes its own).
    interval: seconds between polls (0: poll back to back). until: end when the clock reaches it.
    clock: the stream's clock (default: wall seconds since the start); tick, when given, is called before each poll
    (a stepped clock advances there). backoff: (first, largest) reconnect delay.
    max_reconnects: give up after this many failed reconnection attempts in a row (None: never).
    """
    from aiobmsble import BMSConfig

    BleakError = _bleak_error()
    stats = stats if stats is not None else WatchStats()
    ctx = canonical_context(context)
    t0 = time.monotonic()
    clock = clock or (lambda: time.monotonic() - t0)

    try:
        if isinstance(address, str):
            device, adv = await _find(address, scan_timeout, discover)
        else:
            device, adv = address, None
        cls = bms_class or await bms_class_for(family, adv, getattr(device, "address", ""))
    except UserError as e:
        yield LiveEvent("error", clock(), detail=str(e), fatal=True)
        return
    fam = family if family in FAMILY_MODULES else family_of_class(cls)
    label = f"{getattr(device, 'name', None) or device.address} ({cls.__module__.rsplit('.', 1)[-1]})"

    seq = 0
    ever_connected = False
    failed_connects = 0
    first_notes = True
    while True:
        if until is not None and clock() >= until:
            yield LiveEvent("ended", clock(), detail="end of the session")
            return
        try:
            async with cls(device, BMSConfig(keep_alive=True)) as bms:
                failed_connects = 0
                if ever_connected:
                    stats.reconnects += 1
                ever_connected = True
                yield LiveEvent("connected", clock(), detail=label)
                fails = 0
                next_at = time.monotonic()
                while True:
                    if tick is not None:
                        tick()
                    t = clock()
                    if until is not None and t >= until:
                        yield LiveEvent("ended", t, detail="end of the session")
                        return
                    try:
                        sample = await bms.async_update()
                    except (*POLL_ERRORS, BleakError) as e:
                        if not bms.is_connected:
                            raise _Dropped(f"{type(e).__name__}: {e}".rstrip(": ")) from None
                        fails += 1
                        stats.failed_polls += 1
                        yield LiveEvent("error", t, detail=f"no valid reply from the BMS ({type(e).__name__}); "
                                                            "poll skipped")
                        if fails >= failures_before_reconnect:
                            raise _Dropped(f"{fails} polls in a row without a valid reply") from None
                        continue
                    fails = 0
                    notes: list[str] = []
                    try:
                        reading = to_reading(sample, fam, ctx, notes,
                                             "legacy" if cls.__module__.endswith("ant_leg_bms") else "")
                    except UserError as e:
                        stats.rejected += 1
                        yield LiveEvent("error", t, detail=f"implausible sample skipped: {e}")
                        continue
                    seq += 1
                    stats.readings += 1
                    yield LiveEvent("reading", t, reading=reading, seq=seq,
                                    notes=tuple(notes) if first_notes else ())
                    first_notes = False
                    next_at += interval
                    delay = next_at - time.monotonic()
                    if delay < 0:  # running late: poll now, and do not try to catch up with a burst
                        next_at = time.monotonic()
                        delay = 0.0
                    await asyncio.sleep(delay)
        except _Dropped as e:
            stats.drops += 1
            yield LiveEvent("disconnected", clock(), detail=f"connection lost ({e})")
        except UserError as e:
            yield LiveEvent("error", clock(), detail=str(e), fatal=True)
            return
        except (OSError, BleakError, *POLL_ERRORS) as e:
            if (why := explain(e)) is not None:
                yield LiveEvent("error", clock(), detail=why, fatal=True)
                return
            if not ever_connected:
                name = getattr(device, "name", None) or device.address
                yield LiveEvent("error", clock(), detail=f"{name}: {PHONE_APP_HINT} ({type(e).__name__})",
                                fatal=True)
                return
            failed_connects += 1
            yield LiveEvent("error", clock(), detail=f"reconnection failed ({type(e).__name__})")
            if max_reconnects is not None and failed_connects >= max_reconnects:
                yield LiveEvent("error", clock(), detail=f"gave up after {failed_connects} failed reconnection "
                                                         "attempts", fatal=True)
                return
        attempt = failed_connects + 1
        delay = min(backoff[1], backoff[0] * 2 ** (attempt - 1))
        yield LiveEvent("reconnecting", clock(), detail=f"in {delay:g} s", attempt=attempt)
        await asyncio.sleep(delay)


__all__ = ["FAMILY_MODULES", "Found", "LiveEvent", "WatchStats", "bms_class_for", "explain", "scan", "to_reading",
           "watch"]
