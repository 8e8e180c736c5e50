"""The virtual BMS as a Bluetooth device, and the bleak backend that lets aiobmsble talk to it.

`VirtualBMS` is the device: an encoder (its family's frames), a function giving the pack state at the current
scenario time, and fault switches (link drop, corrupt frames, refused or occupied connections). `install()` routes
aiobmsble's BLE client to `VirtualBackend` (a bleak 3 `BaseBleakClient` backend) for virtual devices only:
aiobmsble creates clients through one name, `aiobmsble.basebms.BleakClient` (also the `client_class` of
bleak-retry-connector's `establish_connection`), and `install()` replaces it with a BleakClient subclass that picks
`backend=VirtualBackend` when the BLEDevice carries a VirtualBMS, and behaves exactly like bleak's client otherwise.
So real and virtual devices can be used in one process, and the virtual path runs aiobmsble's real code: its
connect sequence, requests, notification reassembly, frame checks and decoders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bleak.uuids import normalize_uuid_str

from drivers.sim.encoder import Encoder
from drivers.sim.state import PackState

DETAILS_KEY = "bmsdoc_virtual_bms"


@dataclass
class Faults:
    """Switches a test (or the demo) flips to make the virtual device misbehave like real ones do."""

    drop_after: int | None = None  # drop the link instead of answering the request after this many replies (once)
    corrupt: int = 0  # corrupt the next N frames (one byte flipped: the frame check fails)
    refuse: int = 0  # the next N connection attempts time out
    occupied: bool = False  # another central (the phone app) holds the only connection: every attempt times out


@dataclass
class Stats:
    connects: int = 0
    refused: int = 0
    requests: int = 0
    replies: int = 0
    frames: int = 0
    corrupted: int = 0
    drops: int = 0


class VirtualBMS:
    """A BMS that exists only in this process. `state_fn()` is asked for the pack state at each request."""

    def __init__(self, encoder: Encoder, state_fn: Callable[[], PackState], *, address: str = "5E:1D:0C:00:00:01",
                 name: str | None = None, faults: Faults | None = None) -> None:
        self.encoder = encoder
        self.state_fn = state_fn
        self.address = address
        self.name = name or encoder.local_name
        self.faults = faults or Faults()
        self.stats = Stats()
        self.link: VirtualBackend | None = None

    @property
    def family(self) -> str:
        return self.encoder.family

    def ble_device(self) -> BLEDevice:
        # no "path" key: bleak-retry-connector then skips its BlueZ look-ups, which need a D-Bus system bus
        return BLEDevice(self.address, self.name, {DETAILS_KEY: self})

    def advertisement(self, rssi: int = -58) -> dict[str, Any]:
        """The advertisement as aiobmsble's adv_dict_to_advdata() takes it (for scans and identification)."""
        return {
            "local_name": self.name,
            "service_uuids": [normalize_uuid_str(self.encoder.gatt.service)],
            "manufacturer_data": {k: v.hex() for k, v in self.encoder.manufacturer_data.items()},
            "rssi": rssi,
        }

    # ------------------------------------------------------------------ what the radio link asks of the device

    def accept(self) -> None:
        if self.faults.occupied:
            self.stats.refused += 1
            raise TimeoutError("connection attempt timed out (the BMS is connected to another central)")
        if self.faults.refuse > 0:
            self.faults.refuse -= 1
            self.stats.refused += 1
            raise TimeoutError("connection attempt timed out")
        self.stats.connects += 1

    def should_drop(self) -> bool:
        f = self.faults
        if f.drop_after is not None and self.stats.replies >= f.drop_after:
            f.drop_after = None
            self.stats.drops += 1
            return True
        return False

    def answer(self, request: bytes) -> list[tuple[float, bytes]]:
        self.stats.requests += 1
        frames = self.encoder.reply(request, self.state_fn())
        if frames:
            self.stats.replies += 1
        out = []
        for delay, frame in frames:
            self.stats.frames += 1
            if self.faults.corrupt > 0:
                self.faults.corrupt -= 1
                self.stats.corrupted += 1
                frame = _corrupt(frame)
            out.append((delay, frame))
        return out


def _corrupt(frame: bytes) -> bytes:
    b = bytearray(frame)
    i = len(b) // 2
    b[i] ^= 0x5A  # a flipped byte in the payload: the checksum no longer matches
    return bytes(b)


class VirtualBackend(BaseBleakClient):
    """A bleak backend whose peer is a VirtualBMS: writes are requests, replies come back as notifications."""

    def __init__(self, address_or_ble_device: BLEDevice | str, *, disconnected_callback: Callable[[], None] | None,
                 timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        if not isinstance(address_or_ble_device, BLEDevice) or not isinstance(
                address_or_ble_device.details, dict) or DETAILS_KEY not in address_or_ble_device.details:
            raise BleakError("the virtual backend needs a virtual BMS device")
        self.device: VirtualBMS = address_or_ble_device.details[DETAILS_KEY]
        self._connected = False
        self._notify: Callable[[bytearray], None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def name(self) -> str:
        return self.device.name

    @property
    def mtu_size(self) -> int:
        return 247

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        await asyncio.sleep(0)
        self.device.accept()
        self.services = _services(self.device.encoder)
        self._connected = True
        self.device.link = self

    async def disconnect(self) -> None:
        self._close()

    def drop(self) -> None:
        """An unsolicited link loss: the peer vanished (out of range, power cut, supervision timeout)."""
        if not self._connected:
            return
        self._close()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    def _close(self) -> None:
        self._connected = False
        self._notify = None
        for t in list(self._tasks):
            t.cancel()
        if self.device.link is self:
            self.device.link = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        self._check()
        return bytearray()

    async def read_gatt_descriptor(self, descriptor: Any, **kwargs: Any) -> bytearray:
        raise BleakError("the virtual BMS has no descriptors")

    async def write_gatt_descriptor(self, descriptor: Any, data: Any) -> None:
        raise BleakError("the virtual BMS has no descriptors")

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: Callable[[bytearray], None],
                           **kwargs: Any) -> None:
        self._check()
        self._notify = callback

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._notify = None

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        self._check()
        if self.device.should_drop():
            self.drop()
            return  # the request went nowhere
        frames = self.device.answer(bytes(data))
        if frames:
            task = asyncio.get_running_loop().create_task(self._send(frames))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, frames: list[tuple[float, bytes]]) -> None:
        chunk = self.device.encoder.chunks
        for delay, frame in frames:
            await asyncio.sleep(delay)
            for piece in chunk(frame):
                if self._notify is None:
                    return
                self._notify(bytearray(piece))
                await asyncio.sleep(0)  # notifications arrive one by one, as over the air

    def _check(self) -> None:
        if not self._connected:
            raise BleakError("Not connected")


def _services(enc: Encoder) -> BleakGATTServiceCollection:
    coll = BleakGATTServiceCollection()
    svc = BleakGATTService(None, 1, normalize_uuid_str(enc.gatt.service))
    coll.add_service(svc)
    notify, write = normalize_uuid_str(enc.gatt.notify), normalize_uuid_str(enc.gatt.write)
    if notify == write:
        chars = [(2, notify, ["notify", "write", "write-without-response"])]
    else:
        chars = [(2, notify, ["notify"]), (4, write, ["write", "write-without-response"])]
    for handle, uuid, props in chars:
        coll.add_characteristic(BleakGATTCharacteristic(None, handle, uuid, props, lambda: 244, svc))
    return coll


class SimAwareBleakClient(BleakClient):
    """bleak's BleakClient, except that a virtual BMS device gets the virtual backend."""

    def __init__(self, address_or_ble_device: BLEDevice | str, *args: Any, **kwargs: Any) -> None:
        dev = address_or_ble_device
        if isinstance(dev, BLEDevice) and isinstance(dev.details, dict) and DETAILS_KEY in dev.details:
            kwargs["backend"] = VirtualBackend
        super().__init__(dev, *args, **kwargs)


def install() -> None:
    """Route aiobmsble's BLE client through SimAwareBleakClient (idempotent; real devices are unaffected)."""
    import aiobmsble.basebms as basebms

    if basebms.BleakClient is not SimAwareBleakClient:
        basebms.BleakClient = SimAwareBleakClient  # type: ignore[misc]
