"""BLE notification frames (JK, JBD, ANT 2021 and legacy, Daly D2 and 0x81), decoded by aiobmsble's own BMS classes.

aiobmsble has no public decode API, so the frames are replayed the way its own tests do: the BMS object gets
a stand-in Bluetooth client, and each request the BMS writes is answered by feeding the pasted frames to the BMS's
notification handler. Header, length and CRC checks, firmware layouts and field scaling all stay in aiobmsble; this
module picks the BMS class and the firmware layout the way aiobmsble does, and names the protocol generation found.
Finding the bytes in the text (every layout riders paste) and cutting them into frames is drivers/paste/hexlog.py.

Where aiobmsble lacks a protocol (JK04: the older JK-B2A16S/B1A24S/B5A24S boards; Daly's A5 UART protocol) the rider
is told exactly that; of a JK04 frame only the cell voltages are read, and only when every one of them is a
plausible float32 voltage and the frame checksum holds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import struct
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from drivers.paste.hexlog import Frame, extract, segment
from drivers.paste.parsed import Parsed
from drivers.sample import sample_to_fields
from kb.errors import UserError

NAME = "ble-frames"

# reply headers as hex, for the cheap first look (the exact rules are hexlog's)
_HEADS = ("55aaeb90", "dd03", "dd04", "dd05", "7ea1", "aa55aaff", "d203", "5103", "a50190", "a50193", "a50195")
# (the exponential `_HEX_RUN` of earlier versions is gone: hexlog._RUN matches linearly)
_ESPHOME_STATE = re.compile(r"\]:\s*['\"][^'\"]+['\"]:\s*(?:Sending state|Received new state)")
_NON_HEX = bytes(c for c in range(256) if chr(c) not in "0123456789abcdefABCDEF")
_NON_ALNUM = bytes(c for c in range(256) if not chr(c).isascii() or not chr(c).isalnum())
_NRF = re.compile(r"^[VDIAWE]\t\d{1,2}:\d{2}:\d{2}", re.MULTILINE)
_FAMILY = {"jk": "jk", "jbd": "jbd", "ant": "ant", "ant_leg": "ant", "daly": "daly", "daly_x81": "daly",
           "daly_a5": "daly"}
JK04_MESSAGE = ("JK04 protocol (older JK-B2A16S/B1A24S/B5A24S boards): aiobmsble does not decode it; only the cell "
                "voltages were read (float32, as syssi/esphome-jk-bms documents the JK04 cell-info frame); pack "
                "voltage, current, temperatures, FETs and alarms were not read: take them from the JK app")


@lru_cache(maxsize=4)
def frames_of(text: str) -> tuple[list[Frame], Any, Any]:
    """(frames, what was extracted, how it was cut); cached: detection and parsing read the same text."""
    ex = extract(text)
    seg = segment(ex.chunks)
    return seg.frames, ex, seg


def _type_key(f: Frame) -> tuple:
    d = f.data
    return {"jk": (d[4:5],), "jbd": (d[1:2],), "ant": (d[2:3],), "daly": (d[0:1], d[2:3]),
            "daly_x81": (d[0:1], d[2:3])}.get(f.family, ())


def latest(frames: list[Frame], keep: int = 2) -> list[Frame]:
    """The last `keep` complete frames of each reply type, in their order: a paste is one reading, and a long
    sniffer log would otherwise be replayed through aiobmsble hundreds of times."""
    seen: dict[tuple, int] = {}
    out: list[Frame] = []
    for f in reversed(frames):
        k = (f.family, *_type_key(f))
        if seen.get(k, 0) < keep:
            seen[k] = seen.get(k, 0) + 1
            out.append(f)
    return out[::-1]


def notifications(text: str) -> list[bytes]:
    """The whole reply frames found in the text, in order (requests dropped)."""
    return [f.data for f in frames_of(text)[0]]


def family_of(frames: list[bytes]) -> str | None:
    from drivers.paste.hexlog import _reply_kind

    for f in frames:
        kind = _reply_kind(f, 0)
        if kind:
            return _FAMILY[kind]
    return None


def detect(text: str) -> float:
    head = text[:200_000]
    raw = head.replace("0x", "").replace("0X", "").encode("ascii", "ignore")
    compact = raw.translate(None, _NON_HEX).decode().lower()
    nrf = bool(_NRF.search(head))
    literals = "b'" in head or 'b"' in head  # bytes literals show printable bytes as characters (`b"~\xa1"`)
    if not nrf and not literals and not any(h in compact for h in _HEADS):
        return 0.0  # cheap refusal: no frame header anywhere
    frames, ex, seg = frames_of(text)
    if not frames:
        return 0.9 if ex.nrf_lines else 0.0  # an nRF Connect log: claimed, to be refused with its reason
    hex_chars = sum(len(f.data) * 2 for f in frames) + seg.requests * 16
    letters = len(raw.translate(None, _NON_ALNUM))
    lines = sum(1 for ln in head.split("\n") if ln.strip())
    carrying = len(ex.chunks) + ex.requests
    complete = any(f.complete for f in frames)
    esphome_lines = len(_ESPHOME_STATE.findall(head)) if " state " in head else 0
    if esphome_lines >= 3 and esphome_lines >= carrying:
        return 0.7  # an ESPHome log with its UART debug frames: its sensor lines say more
    if complete and (hex_chars * 2 >= letters or carrying * 2 >= lines or ex.nrf_lines or ex.literals):
        return 0.98
    return 0.7


# ------------------------------------------------------------------ the stand-in client


class _Services(list):
    def get_characteristic(self, _char: Any) -> None:
        return None  # -> aiobmsble writes without response, which is all a replay needs

    def get_service(self, _uuid: Any) -> None:
        return None


class _ReplayClient:
    """Answers each write with the pasted notifications; no reply at all is a TimeoutError at once."""

    is_connected = True

    def __init__(self, bms: Any, frames: list[bytes], route: Callable[[bytes, bytes], bool]):
        self._bms, self._frames, self._route = bms, frames, route
        self.services = _Services()
        self._callback: Callable[[Any, bytearray], None] | None = None

    async def start_notify(self, _char: Any, callback: Callable[[Any, bytearray], None], **_kw: Any) -> None:
        self._callback = callback

    async def stop_notify(self, _char: Any) -> None:
        return None

    async def write_gatt_char(self, _char: Any, data: bytes, response: bool = False) -> None:
        callback = self._callback or self._bms._notification_handler
        for f in self._frames:
            if self._route(bytes(data), f):
                callback(None, bytearray(f))
        if not self._bms._msg_event.is_set():
            raise TimeoutError

    async def disconnect(self) -> None:
        return None


def _all(_request: bytes, _frame: bytes) -> bool:
    return True  # the BMS's handler itself checks the reply type


def _daly_route(request: bytes, frame: bytes) -> bool:
    # Daly replies carry no command code: a read of N registers is answered with 2*N data bytes
    return len(request) >= 6 and len(frame) >= 3 and frame[2] == 2 * int.from_bytes(request[4:6], "big")


def _run(coro_fn: Callable[[], Any]) -> Any:
    """Run a coroutine to completion, also when called from inside a running event loop (the app, the chat)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_fn())
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = asyncio.run(coro_fn())
        except BaseException as e:  # handed back to the caller's thread
            box["error"] = e

    t = threading.Thread(target=work, name="paste-frames")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


_KEEP_ZERO_LOCK = threading.Lock()


def _cells_keeping_zeros(data: bytes, *, cells: int, start: int, size: int = 2, gap: int = 0,
                         byteorder: str = "big", divider: int = 1000) -> list[float]:
    """aiobmsble's BaseBMS._cell_voltages with the same arguments (each plugin still picks the positions), except
    that a cell reading exactly 0 V keeps its place: inside the BMS's own cell count it is a dead cell or an open
    sense lead, which must be flagged, not silently dropped (shifting every later cell's number)."""
    out = []
    for idx in range(cells):
        pos = start + idx * (size + gap)
        if len(data) >= pos + size:
            out.append(int.from_bytes(data[pos:pos + size], byteorder=byteorder, signed=False) / divider)  # type: ignore[arg-type]
    return out


class _zero_cells_kept:
    def __enter__(self) -> None:
        from aiobmsble.basebms import BaseBMS

        _KEEP_ZERO_LOCK.acquire()
        self._orig = BaseBMS.__dict__["_cell_voltages"]
        BaseBMS._cell_voltages = staticmethod(_cells_keeping_zeros)  # type: ignore[method-assign]

    def __exit__(self, *_exc: Any) -> None:
        from aiobmsble.basebms import BaseBMS

        BaseBMS._cell_voltages = self._orig  # type: ignore[method-assign]
        _KEEP_ZERO_LOCK.release()


def _new_bms(module: Any, frames: list[bytes], route: Callable[[bytes, bytes], bool]) -> Any:
    from bleak.backends.device import BLEDevice

    bms = module.BMS(BLEDevice("00:00:00:00:00:00", "pasted frames", {"path": ""}))
    bms._client = _ReplayClient(bms, frames, route)
    return bms


async def _sample(bms: Any) -> dict:
    data = await bms._async_update()
    bms._add_missing_values(data, bms._raw_values())  # what BaseBMS.async_update adds to every sample
    return dict(data)


# ------------------------------------------------------------------ per family


@dataclass
class Decoded:
    sample: dict
    protocol: str  # the protocol generation found, in words
    variant: str = ""  # for drivers.protection: 'legacy' (ANT), 'x81' (Daly)
    alarm: Any = None  # a drivers.protection.Alarm from the raw status bytes, when they say more than problem_code
    extra: dict = field(default_factory=dict)  # identity fields (model, firmware) from a device-info frame


async def _decode_generic(module: Any, frames: list[bytes], route=_all) -> tuple[dict, Any]:
    bms = _new_bms(module, frames, route)
    await bms._init_connection()  # registers the handler; Daly picks its protocol variant here
    return await _sample(bms), bms


def _jk04_cells(frame: bytes) -> list[float] | None:
    """The 24 float32 cell voltages of a JK04 cell-info frame, or None unless every one is certain."""
    if len(frame) < 300 or frame[4] != 0x02 or (sum(frame[:299]) & 0xFF) != frame[299]:
        return None
    values = struct.unpack_from("<24f", frame, 6)
    if not all(v == 0.0 or 0.5 <= v <= 5.5 for v in values) or not any(values):
        return None
    return [round(v, 4) for v in values]


_FIRMWARE = re.compile(r"\b(?:firmware|fw|sw|software)(?:\s*version)?\s*[:=]?\s*v?(\d{1,2})\.(\d{1,3})\b",
                       re.IGNORECASE)


def firmware_in_text(text: str) -> str | None:
    """`firmware V15.38` / `sw: 11.48` said beside the hex: the JK layout follows it as it follows a device-info
    frame."""
    m = _FIRMWARE.search(text[:200_000])
    return f"{int(m.group(1))}.{m.group(2)}" if m else None


async def _decode_jk(frames: list[bytes], p: Parsed, said: str | None = None) -> Decoded:
    from aiobmsble.basebms import lstr2int
    from aiobmsble.bms import jikong_bms

    from drivers.protection import decode_bits

    if any(f[4:5] == b"\x01" for f in frames):
        p.note("a JK settings frame (type 01) is present: aiobmsble does not decode settings, so protection "
               "values were not read from it (type them as 'ovp: 4.25 V' lines)")
    cell = next((f for f in reversed(frames) if f[4:5] == b"\x02"), None)
    bms = _new_bms(jikong_bms, frames, _all)
    info: dict = {}
    sw: int | None = None
    try:
        info = await bms._fetch_device_info()  # the device-info frame (type 03) tells the firmware layout
        try:
            sw = lstr2int(info.get("sw_version", "0") or "0")
        except ValueError:
            sw = 0  # as aiobmsble does with an unreadable version
        p.note(f"JK firmware {info.get('sw_version')} ({info.get('model', '?')}) from the device-info frame")
    except (TimeoutError, ValueError):
        if said:
            sw = lstr2int(said)
            info = {"sw_version": said}
            p.note(f"JK firmware {said} as the paste says (no device-info frame): its frame layout was used")
    extra = {k: v for k, v in (("model", info.get("model")), ("firmware", info.get("sw_version"))) if v}
    if cell is not None and (cells := _jk04_cells(cell)) is not None:
        p.unsure(JK04_MESSAGE)
        return Decoded({"cell_voltages_jk04": cells}, "JK04 (older JK-B2A16S/B1A24S/B5A24S)", extra=extra)
    if cell is None:
        raise TimeoutError
    if sw is not None:
        data = await _jk_with(bms, sw)
        layout = _jk_layout(sw)
    else:
        # no device-info frame: try both frame layouts, keep the one whose pack voltage matches its cells
        best: tuple[float, int, dict] | None = None
        for version in (11, 10):
            data = await _jk_with(_new_bms(jikong_bms, frames, _all), version)
            cells, volt = data.get("cell_voltages") or [], data.get("voltage") or 0.0
            gap = abs(sum(cells) - volt) / max(volt, 1e-6) if cells else 1.0
            if best is None or gap < best[0]:
                best = (gap, version, data)
        assert best is not None
        gap, version, data = best
        t45 = ""
        if version == 11 and int(data.get("temp_sensors") or 0) & 0x30:
            # probes T4/T5 are enabled in the frame; they exist only in the firmware >= 14 layout, where they sit
            # at bytes 256-259: taken when they read like probes (not exactly 0 °C, within -40..100 °C)
            raw = [int.from_bytes(cell[i:i + 2], "little", signed=True) / 10 for i in (256, 258)]
            if all(-40 < t < 100 and t != 0 for t in raw):
                version = 14
                data = await _jk_with(_new_bms(jikong_bms, frames, _all), 14)
                t45 = " and temperature probes T4/T5 read like probes at the firmware-14 positions"
            else:
                t45 = "; probes T4/T5 are flagged but read 0 °C there (firmware 11-13, or not fitted): left out"
        layout = _jk_layout(version)
        if gap <= 0.05:
            p.note(f"no JK device-info frame: the layout was taken as {layout} because its pack voltage matches "
                   f"the cells{t45}")
        else:
            p.unsure(f"no JK device-info frame and neither firmware layout gives a pack voltage matching the cells: "
                     f"read as {layout}; paste the 55 AA EB 90 03 frame too")
        sw = version
    alarm = None
    msg = bms._msg if sw is not None and sw >= 11 else b""
    if sw is not None and sw >= 11 and len(msg) >= 170 and msg[4] == 0x02:
        alarm = decode_bits("jk", int.from_bytes(msg[166:170], "little"))  # the full 32-bit word
    return Decoded(data, layout, alarm=alarm, extra=extra)


def _jk_layout(sw: int) -> str:
    if sw < 11:
        return "JK02_24S (firmware before 11)"
    if sw >= 14:
        return "JK02_32S (firmware 14 or later: probes T4/T5)"
    return "JK02_32S (firmware 11 or later)"


async def _jk_with(bms: Any, sw_version: int) -> dict:
    bms._sw_version = sw_version
    bms._prot_offset = -32 if sw_version < 11 else 0  # as aiobmsble's _init_connection sets it
    bms._valid_reply = 0x02
    return await _sample(bms)


async def _decode_ant(frames: list[bytes]) -> Decoded:
    from aiobmsble.bms import ant_bms

    from drivers.protection import decode_status

    data, bms = await _decode_generic(ant_bms, frames)
    msg = bms._msg
    start = (min(msg[8], 6) + min(msg[9], 32)) * 2  # as aiobmsble's ant_bms offsets its fields
    alarm = decode_status("ant", msg[46 + start], msg[47 + start]) if len(msg) > 47 + start else None
    return Decoded(data, "ANT 2021 protocol (7E A1)", alarm=alarm)


async def _decode_ant_leg(frames: list[bytes]) -> Decoded:
    from aiobmsble.bms import ant_leg_bms

    from drivers.protection import decode_status

    data, bms = await _decode_generic(ant_leg_bms, frames)
    msg = bms._msg
    alarm = decode_status("ant_leg", msg[103], msg[104]) if len(msg) > 104 else None
    return Decoded(data, "ANT legacy protocol (AA 55 AA FF)", "legacy", alarm=alarm)


async def _decode_daly(frames: list[bytes]) -> Decoded:
    from aiobmsble.bms import daly_bms

    data, bms = await _decode_generic(daly_bms, frames, _daly_route)
    if int(bms._proto) == 0x81:
        return Decoded(data, "Daly 0x81 protocol (51 03)", "x81")
    return Decoded(data, "Daly D2 protocol (Modbus, D2 03)")


async def _decode_jbd(frames: list[bytes], p: Parsed) -> Decoded:
    from aiobmsble.bms import jbd_bms

    try:
        data, _bms = await _decode_generic(jbd_bms, frames)
        return Decoded(data, "JBD protocol (DD 03 / DD 04)")
    except TimeoutError:
        if not any(f[1:2] == b"\x03" for f in frames) or any(f[1:2] == b"\x04" for f in frames):
            raise
    # the basic-info reply alone: checked by the BMS's own handler, decoded with its own field table, as its
    # _async_update does before it asks for the cells
    bms = _new_bms(jbd_bms, frames, _all)
    await bms._init_connection()
    bms._valid_reply = 0x03
    for f in frames:
        bms._notification_handler(None, bytearray(f))
    if not bms._msg_event.is_set():
        raise TimeoutError
    cls = jbd_bms.BMS
    msg = bms._msg
    data = cls._decode_data(cls._FIELDS, msg)
    ctrl = 27 + 2 * data.get("temp_sensors", 0)
    if int.from_bytes(msg[ctrl:ctrl + 1]) & 0x80:
        data |= cls._decode_data(cls._FIELDS_D10, msg)
    data["temp_values"] = cls._temp_values(msg, values=data.get("temp_sensors", 0), start=27, signed=False,
                                           offset=2731, divider=10, types=cls._TEMP_TYPES)
    bms._add_missing_values(data, bms._raw_values())
    p.unsure("only the JBD basic-info reply (DD 03) is there: pack voltage, current, SoC, FETs, temperatures and "
             "alarms were read, the cell voltages were not (paste the DD 04 reply too)")
    return Decoded(dict(data), "JBD protocol (DD 03 basic info only)")


_NEED = {"jk": "a 55 AA EB 90 02 cell-info frame (300 bytes)",
         "jbd": "both the DD 03 (basic info) and DD 04 (cell voltages) replies",
         "ant": "a 7E A1 11 status frame",
         "ant_leg": "an AA 55 AA FF status frame (140 bytes)",
         "daly": "the D2 03 7C status reply (or, for the 0x81 protocol, both 51 03 replies)"}


def decode(frames: list[bytes], family: str, p: Parsed, firmware: str | None = None) -> Decoded:
    """What aiobmsble decodes from the frames (raises UserError when no complete reply is there)."""
    quiet = logging.getLogger("aiobmsble")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # its debug chatter is for live links
    runner = {"jk": lambda: _decode_jk(frames, p, firmware), "jbd": lambda: _decode_jbd(frames, p),
              "ant": lambda: _decode_ant(frames), "ant_leg": lambda: _decode_ant_leg(frames),
              "daly": lambda: _decode_daly(frames)}[family]
    label = {"ant_leg": "ANT legacy"}.get(family, family.upper())
    try:
        with _zero_cells_kept():
            return _run(runner)
    except TimeoutError:
        raise UserError(f"the {label} frames hold no complete reply that aiobmsble accepts (checksum or "
                        f"length wrong, or a part missing): paste {_NEED[family]}") from None
    except (ValueError, IndexError, KeyError, struct.error) as e:
        raise UserError(f"aiobmsble could not decode the {label} frames: {e}") from None
    finally:
        quiet.setLevel(level)


def _pick(frames: list[Frame], p: Parsed) -> str:
    kinds = Counter("daly" if f.family == "daly_x81" else f.family for f in frames)
    complete = Counter("daly" if f.family == "daly_x81" else f.family for f in frames if f.complete)
    family = (complete or kinds).most_common(1)[0][0]
    others = [k for k in kinds if k != family]
    if others:
        p.unsure(f"frames of more than one protocol were found ({', '.join(sorted(kinds))}); "
                 f"the {family} frames were read")
    return family


def parse(text: str) -> Parsed:
    from drivers.protection import describe

    p = Parsed(format=NAME)
    frames, ex, seg = frames_of(text)
    if not frames:
        if ex.nrf_lines:
            raise UserError("this nRF Connect log holds no BMS notification frames (only connection events): "
                            "paste the lines 'Notification received from ..., value: (0x) ...'")
        raise UserError("hex found, but no frame starts like a JK, JBD, ANT or Daly reply")
    family = _pick(frames, p)
    if family == "daly_a5":
        raise UserError("these are Daly A5 frames (the older UART protocol, commands 0x90-0x98): aiobmsble does not "
                        "decode it, so they were not read; paste the values from the Daly app instead")
    mine = [f for f in frames if ("daly" if f.family == "daly_x81" else f.family) == family and f.complete]
    chosen = [f.data for f in latest(mine)]
    if not chosen:
        raise UserError(f"the {family.upper()} frames are cut short: paste {_NEED[family]} whole")
    layout = []
    if ex.literals:
        layout.append("Python bytes literals")
    if ex.dump_lines:
        layout.append(f"a hexdump ({ex.dump_lines} lines; offsets and ASCII column left out)")
    p.note(f"{len(mine)} {family.replace('_', ' ')} frame(s) found in {len(ex.chunks)} line(s) of hex"
           + (f" ({', '.join(layout)})" if layout else "")
           + (f"; the latest of each kind were decoded ({len(chosen)})" if len(chosen) < len(mine) else ""))
    if ex.requests or seg.requests:
        p.note(f"{ex.requests + seg.requests} request(s) written by the app or tool were left out (replies kept)")
    if seg.skipped:
        p.note(f"{seg.skipped} byte(s) belonging to no frame were skipped")
    d = decode(chosen, family, p, firmware_in_text(text) if family == "jk" else None)
    p.format = f"{NAME}: {d.protocol}"
    jk04 = "cell_voltages_jk04" in d.sample
    p.note(f"protocol: {d.protocol}" + ("" if jk04 else "; decoded by aiobmsble"))
    fam = _FAMILY[family]
    if jk04:
        p.fields = {"bms": "jk", "cells": d.sample["cell_voltages_jk04"], **d.extra}
        return p
    p.fields = sample_to_fields(d.sample, fam, p.notes, d.variant)
    p.fields.update(d.extra)
    if d.alarm is not None:
        p.fields.update(d.alarm.fields())
    if (words := describe(p.fields)) is not None:
        p.note(f"BMS alarm: {words}")
    if "current" in p.fields:
        p.note("current as aiobmsble reports it: positive = charging")
    return p
