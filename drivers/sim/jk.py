"""JK (Jikong) JK02 frames, 24S and 32S layouts (aiobmsble's jikong_bms decodes them).

Frames are 300 bytes: 55 AA EB 90 <type> <counter> <data...> <sum of the first 299 bytes & 0xFF>. Type 0x03 is the
device info (model, hardware and software version: the software version picks the layout), type 0x02 the cell info.
Requests are 20 bytes: AA 55 90 EB <cmd> <len> <13 bytes> <sum>; 0x97 asks for the device info, 0x96 for cell info.
After the device info a real BMS sends a short 'ready' frame (AA 55 90 EB C8 01 01 ... 44) a moment later; aiobmsble
waits for it before its first poll. Real modules notify in 128-byte pieces.

Cell info layout (JK02_32S, software >= 11; JK02_24S, software < 11, puts everything from the cell mask on 32 bytes
earlier, the temperatures excepted): 6.. cells in mV (LE, 32 or 24 of them), 70 mask of present cells, 74 average and
76 delta cell voltage in mV, 144 MOSFET temperature (0.1 °C), 150 pack voltage mV, 158 current mA (signed, + =
charging), 162/164 temperature probes, 166 alarm bits, 170 balance current mA, 172 balancer action, 173 SoC %,
174 remaining and 178 nominal capacity mAh, 182 cycles, 190 SOH %, 198/199 charge/discharge MOSFET, 214 bitmask of
the temperature probes fitted. 24S: probes at 130/132, MOSFET at 134, the alarm bits in the upper half of the word
at 134. The alarm bit numbers are ours (aiobmsble passes the word through as a code).
"""

from __future__ import annotations

from drivers.sim.encoder import Encoder, Gatt, u
from drivers.sim.state import PackState

HEAD_RSP = b"\x55\xaa\xeb\x90"
HEAD_CMD = b"\xaa\x55\x90\xeb"
READY = HEAD_CMD + b"\xc8\x01\x01" + bytes(12) + b"\x44"
FRAME_LEN = 300
ALARM_BITS = {"cell_overvoltage": 1 << 4, "charge_overcurrent": 1 << 6, "cell_undervoltage": 1 << 11,
              "discharge_overcurrent": 1 << 13, "short_circuit": 1 << 14}
LAYOUTS = {"JK02_24S": "10.08", "JK02_32S": "11.48"}  # layout -> the software version the device reports


def checksum(data: bytes | bytearray) -> int:
    return sum(data) & 0xFF


def _finish(buf: bytearray) -> bytes:
    buf[-1] = checksum(buf[:-1])
    return bytes(buf)


def _put(buf: bytearray, pos: int, data: bytes) -> None:
    buf[pos:pos + len(data)] = data


def _text(s: str, size: int) -> bytes:
    return s.encode("ascii")[:size].ljust(size, b"\x00")


def device_info(sw_version: str, name: str = "bmsdoc-sim") -> bytes:
    buf = bytearray(FRAME_LEN)
    _put(buf, 0, HEAD_RSP + b"\x03\x01")
    _put(buf, 6, _text("JK_B2A8S20P", 16))
    _put(buf, 22, _text(sw_version.split(".")[0] + ".XA", 8))
    _put(buf, 30, _text(sw_version, 8))
    _put(buf, 38, u(3600, 4, "little"))  # uptime s
    _put(buf, 42, u(7, 4, "little"))  # power-on count
    _put(buf, 46, _text(name, 16))
    _put(buf, 62, _text("1234", 16))
    _put(buf, 78, _text("240501", 8))
    _put(buf, 86, _text("SIM00001", 8))
    return _finish(buf)


def cell_info(s: PackState, sw_version: str = "11.48", counter: int = 0) -> bytes:
    offs = -32 if int(sw_version.split(".")[0]) < 11 else 0
    max_cells = 24 if offs else 32
    cells = list(s.cells)[:max_cells]
    buf = bytearray(FRAME_LEN)
    _put(buf, 0, HEAD_RSP + bytes([0x02, counter & 0xFF]))
    for i, c in enumerate(cells):
        _put(buf, 6 + 2 * i, u(c * 1000, 2, "little"))
    h = offs >> 1
    _put(buf, 70 + h, u((1 << len(cells)) - 1, 4, "little"))
    if cells:
        _put(buf, 74 + h, u(sum(cells) / len(cells) * 1000, 2, "little"))
        _put(buf, 76 + h, u((max(cells) - min(cells)) * 1000, 2, "little"))
        buf[78 + h] = cells.index(max(cells))
        buf[79 + h] = cells.index(min(cells))
    alarm = ALARM_BITS.get(s.alarm or "", 0)
    temps = list(s.temps)[:2]
    if offs:  # JK02_24S: probes at 130/132, MOSFET at 134 sharing a word with the alarm bits (upper half)
        for i, t in enumerate(temps):
            _put(buf, 130 + 2 * i, u(t * 10, 2, "little", signed=True))
        _put(buf, 134, u(s.mos_temp * 10, 2, "little", signed=True))
        _put(buf, 136, u(alarm, 2, "little"))
        sensor_bits = 0b100 | sum(1 << i for i in range(len(temps)))
    else:
        _put(buf, 144, u(s.mos_temp * 10, 2, "little", signed=True))
        for i, t in enumerate(temps):
            _put(buf, 162 + 2 * i, u(t * 10, 2, "little", signed=True))
        _put(buf, 166, u(alarm, 4, "little"))
        sensor_bits = 0b1 | sum(1 << (i + 1) for i in range(len(temps)))
    _put(buf, 150 + offs, u(s.voltage * 1000, 4, "little"))
    _put(buf, 154 + offs, u(abs(s.voltage * s.current) * 1000, 4, "little"))
    _put(buf, 158 + offs, u(s.current * 1000, 4, "little", signed=True))
    _put(buf, 170 + offs, u(s.balance_current * 1000, 2, "little", signed=True))
    buf[172 + offs] = 1 if s.balancing else 0
    buf[173 + offs] = max(0, min(100, int(round(s.soc))))
    _put(buf, 174 + offs, u(s.remaining_ah * 1000, 4, "little"))
    _put(buf, 178 + offs, u(s.capacity_ah * 1000, 4, "little"))
    _put(buf, 182 + offs, u(s.cycles, 4, "little"))
    buf[190 + offs] = 100
    buf[198 + offs] = int(s.charge_fet)
    buf[199 + offs] = int(s.discharge_fet)
    buf[214 + offs] = sensor_bits
    return _finish(buf)


class JkEncoder(Encoder):
    family = "jk"
    module = "jikong_bms"
    chunk = 128
    gatt = Gatt("ffe0", "ffe1", "ffe1")
    local_name = "JK_B2A8S20P"
    manufacturer_data = {0x0B65: b"\xc8\x47\x8c\x10\x20\x30"}

    def __init__(self, layout: str = "JK02_32S") -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown JK layout {layout!r} (known: {', '.join(LAYOUTS)})")
        self.layout = layout
        self.sw_version = LAYOUTS[layout]
        self._counter = 0

    def reply(self, request: bytes, state: PackState) -> list[tuple[float, bytes]]:
        if len(request) != 20 or not request.startswith(HEAD_CMD) or checksum(request[:-1]) != request[-1]:
            return []
        match request[4]:
            case 0x97:
                return [(0.0, device_info(self.sw_version)), (0.02, READY)]
            case 0x96:
                self._counter += 1
                return [(0.0, cell_info(state, self.sw_version, self._counter))]
        return []
