"""BLE notification frames in hex (JK, JBD, ANT, Daly), decoded by aiobmsble's own BMS classes.

aiobmsble has no public decode API, so the frames are replayed the way its own tests do: the BMS object gets
a stand-in Bluetooth client, and each request the BMS writes is answered by feeding the pasted notifications to
the BMS's notification handler. Header, length and CRC checks, firmware layouts and field scaling all stay in
aiobmsble; this module only finds hex in the text, picks the BMS class from the first bytes, and routes replies.
One line of hex is one notification (as sniffer logs show them); a frame split over several lines is joined by
the BMS's handler, as it would be over the air.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from typing import Any, Callable

from drivers.paste.parsed import Parsed
from drivers.paste.text import clean_text
from drivers.sample import sample_to_fields
from kb.errors import UserError

NAME = "ble-frames"

# frame starts that identify a family (the reply headers of each protocol)
_STARTS: tuple[tuple[bytes, str], ...] = (
    (b"\x55\xaa\xeb\x90", "jk"),
    (b"\xdd\x03", "jbd"), (b"\xdd\x04", "jbd"), (b"\xdd\x05", "jbd"),
    (b"\x7e\xa1", "ant"),
    (b"\xd2\x03", "daly"), (b"\x51\x03", "daly"),
)
_HEX_RUN = re.compile(r"(?:0x)?[0-9a-fA-F]{2}(?:(?:[\s:\-,]|,\s|\s?0x)*(?:0x)?[0-9a-fA-F]{2})*")
_AFTER_VALUE = re.compile(r"(?:value|data|payload|notification|rx)[^:]*:\s*(?:\(0x\)\s*)?(.*)$", re.IGNORECASE)


def _payload(line: str) -> str:
    """The part of a sniffer log line that carries the bytes (after 'value:' and the like), else the line."""
    m = _AFTER_VALUE.search(line)
    return m.group(1) if m else line


def notifications(text: str) -> list[bytes]:
    """One bytes object per line that carries hex (the longest hex run on it, at least 4 bytes)."""
    out = []
    for line in clean_text(text).split("\n"):
        runs = [re.sub(r"0x|[^0-9a-fA-F]", "", r.group(0)) for r in _HEX_RUN.finditer(_payload(line))]
        runs = [r for r in runs if len(r) % 2 == 0 and len(r) >= 8]
        if runs:
            out.append(bytes.fromhex(max(runs, key=len)))
    return out


def family_of(frames: list[bytes]) -> str | None:
    for f in frames:
        for head, fam in _STARTS:
            if f.startswith(head):
                return fam
    return None


def detect(text: str) -> float:
    compact = re.sub(r"0x|[^0-9a-fA-F]", "", text[:200_000]).lower()
    if not any(head.hex() in compact for head, _fam in _STARTS):
        return 0.0  # cheap refusal: no frame header anywhere
    lines = [ln for ln in clean_text(text).split("\n") if ln.strip()]
    frames = notifications(text)
    if not frames or family_of(frames) is None:
        return 0.0
    hex_chars = sum(len(f) * 2 for f in frames)
    other = sum(len(re.sub(r"[\s:\-,()]|0x", "", _payload(ln))) for ln in lines) - hex_chars
    return 0.98 if other <= hex_chars else 0.7


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
        callback = self._callback or getattr(self._bms, "_notification_handler")
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


async def _decode_generic(module: Any, frames: list[bytes], route=_all) -> dict:
    bms = _new_bms(module, frames, route)
    await bms._init_connection()  # registers the handler; Daly picks its protocol variant here
    return await _sample(bms)


async def _decode_jk(frames: list[bytes], p: Parsed) -> dict:
    from aiobmsble.basebms import lstr2int
    from aiobmsble.bms import jikong_bms

    if any(f[4:5] == b"\x01" for f in frames if f.startswith(b"\x55\xaa\xeb\x90")):
        p.note("a JK settings frame (type 01) is present: aiobmsble does not decode settings, so protection "
               "values were not read from it (type them as 'ovp: 4.25 V' lines)")
    bms = _new_bms(jikong_bms, frames, _all)
    sw = None
    try:
        info = await bms._fetch_device_info()  # the device-info frame (type 03) tells the firmware layout
        sw = lstr2int(info.get("sw_version", "0") or "0")
        p.note(f"JK firmware {info.get('sw_version')} ({info.get('model', '?')}) from the device-info frame")
    except (TimeoutError, ValueError):
        pass
    if sw is not None:
        return await _jk_with(bms, sw)
    # no device-info frame: try both layouts, keep the one whose pack voltage matches its cells
    best: tuple[float, int, dict] | None = None
    for version in (11, 10):
        data = await _jk_with(_new_bms(jikong_bms, frames, _all), version)
        cells, volt = data.get("cell_voltages") or [], data.get("voltage") or 0.0
        gap = abs(sum(cells) - volt) / max(volt, 1e-6) if cells else 1.0
        if best is None or gap < best[0]:
            best = (gap, version, data)
    assert best is not None
    gap, version, data = best
    layout = "JK02_32S (firmware 11 or later)" if version == 11 else "JK02_24S (firmware before 11)"
    if gap <= 0.05:
        p.note(f"no JK device-info frame: the layout was taken as {layout} because its pack voltage matches the cells")
    else:
        p.unsure(f"no JK device-info frame and neither firmware layout gives a pack voltage matching the cells: "
                 f"read as {layout}; paste the 55 AA EB 90 03 frame too")
    return data


async def _jk_with(bms: Any, sw_version: int) -> dict:
    bms._sw_version = sw_version
    bms._prot_offset = -32 if sw_version < 11 else 0  # as aiobmsble's _init_connection sets it
    bms._valid_reply = 0x02
    return await _sample(bms)


def decode(frames: list[bytes], family: str, p: Parsed) -> dict:
    """The BMSSample aiobmsble decodes from the frames (raises UserError when no complete reply is there)."""
    from aiobmsble.bms import ant_bms, daly_bms, jbd_bms

    quiet = logging.getLogger("aiobmsble")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # its debug chatter is for live links
    try:
        if family == "jk":
            return _run(lambda: _decode_jk(frames, p))
        module, route = {"jbd": (jbd_bms, _all), "ant": (ant_bms, _all), "daly": (daly_bms, _daly_route)}[family]
        return _run(lambda: _decode_generic(module, frames, route))
    except TimeoutError:
        need = {"jk": "a 55 AA EB 90 02 cell-info frame",
                "jbd": "both the DD 03 (basic info) and DD 04 (cell voltages) replies",
                "ant": "a 7E A1 11 status frame",
                "daly": "the D2 03 7C (or 51 03) status reply"}[family]
        raise UserError(f"the {family.upper()} frames hold no complete reply that aiobmsble accepts (checksum or "
                        f"length wrong, or a part missing): paste {need}") from None
    except (ValueError, IndexError, KeyError) as e:
        raise UserError(f"aiobmsble could not decode the {family.upper()} frames: {e}") from None
    finally:
        quiet.setLevel(level)


def parse(text: str) -> Parsed:
    p = Parsed(format=NAME)
    frames = notifications(text)
    family = family_of(frames)
    if family is None:
        raise UserError("hex found, but no frame starts like a JK, JBD, ANT or Daly reply")
    p.note(f"{len(frames)} notification(s) in hex; {family.upper()} protocol recognised from the frame header, "
           f"decoded by aiobmsble")
    sample = decode(frames, family, p)
    p.fields = sample_to_fields(sample, family, p.notes)
    if "current" in p.fields:
        p.note("current as aiobmsble reports it: positive = charging")
    if "series" in p.fields and "cells" in p.fields and len(p.fields["cells"]) < p.fields["series"]:
        p.note(f"the BMS reports {p.fields['series']} cells but aiobmsble skips cells reading exactly 0 V: "
               f"{len(p.fields['cells'])} cell voltages decoded")
    return p
