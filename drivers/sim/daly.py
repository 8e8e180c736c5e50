"""Daly smart BMS frames, the D2 (Modbus-style) protocol (aiobmsble's daly_bms decodes them).

Requests are Modbus reads: D2 03 <register, 2 bytes BE> <count, 2 bytes BE> <CRC-16/MODBUS LE>. Replies:
D2 03 <byte count> <data...> <CRC-16/MODBUS LE over everything before it>, each in ONE notification (aiobmsble checks
the byte count against the notification's length, so a Daly needs an ATT MTU of about 130 bytes).
Registers answered: 0x00 x 62 (live data), 0x3E x 9 (MOSFET temperature), 0xA9 x 32 (software/hardware version).
Live data (byte offsets in the data): 0.. 32 cells in mV, 64.. 8 probes as °C + 40, 80 pack voltage 0.1 V,
82 current as 30000 + 0.1 A (+ = charging), 84 SoC 0.1 %, 96 remaining capacity 0.1 Ah, 98 cell count,
100 probe count, 102 cycles, 104 balancing, 106 charge MOSFET, 108 discharge MOSFET, 112 cell delta mV,
116 alarm bits (8 bytes: the fault registers 0x3A-0x3D, big-endian, as drivers/protection.yaml reads them; the
level-2 (protection) bits: 0x3A bit 1 cell over-voltage, bit 3 cell under-voltage, 0x3B bit 1 charge and bit 3
discharge over-current; Daly has no separate short-circuit bit there, so a short reports discharge over-current).
"""

from __future__ import annotations

from drivers.sim.ant import crc_modbus
from drivers.sim.encoder import Encoder, Gatt, u
from drivers.sim.state import PackState

ALARM_BITS = {"cell_overvoltage": 1 << 49, "cell_undervoltage": 1 << 51, "charge_overcurrent": 1 << 33,
              "discharge_overcurrent": 1 << 35, "short_circuit": 1 << 35}


def frame(data: bytes, head: int = 0xD2) -> bytes:
    body = bytes([head, 0x03, len(data)]) + data
    return body + crc_modbus(body).to_bytes(2, "little")


def request(register: int, count: int, head: int = 0xD2) -> bytes:
    body = bytes([head, 0x03]) + register.to_bytes(2, "big") + count.to_bytes(2, "big")
    return body + crc_modbus(body).to_bytes(2, "little")


def live_data(s: PackState) -> bytes:
    d = bytearray(124)
    for i, c in enumerate(list(s.cells)[:32]):
        d[2 * i:2 * i + 2] = u(c * 1000, 2)
    temps = list(s.temps)[:8]
    for i, t in enumerate(temps):
        d[64 + 2 * i:66 + 2 * i] = u(t + 40, 2, signed=True)
    d[80:82] = u(s.voltage * 10, 2)
    d[82:84] = u(30000 + s.current * 10, 2)
    d[84:86] = u(s.soc * 10, 2)
    d[96:98] = u(s.remaining_ah * 10, 2)
    d[98:100] = u(len(s.cells), 2)
    d[100:102] = u(len(temps), 2)
    d[102:104] = u(s.cycles, 2)
    d[104:106] = u(1 if s.balancing else 0, 2)
    d[106:108] = u(int(s.charge_fet), 2)
    d[108:110] = u(int(s.discharge_fet), 2)
    if s.cells:
        d[112:114] = u((max(s.cells) - min(s.cells)) * 1000, 2)
    d[116:124] = u(ALARM_BITS.get(s.alarm or "", 0), 8)
    return frame(bytes(d))


def mos_info(s: PackState) -> bytes:
    d = bytearray(18)
    d[8:10] = u(s.mos_temp + 40, 2)
    return frame(bytes(d))


def version_info() -> bytes:
    return frame(b"bmsdoc-sim-D2".ljust(16, b"\x00") + b"H2.0_SIM".ljust(16, b"\x00") + bytes(32))


class DalyEncoder(Encoder):
    family = "daly"
    module = "daly_bms"
    chunk = None  # whole frames
    gatt = Gatt("fff0", "fff1", "fff2")
    local_name = "DL-40D63C210F0B"

    def reply(self, req: bytes, state: PackState) -> list[tuple[float, bytes]]:
        if len(req) != 8 or req[0] != 0xD2 or req[1] != 0x03:
            return []  # 0x81-protocol probes and anything else go unanswered, as on a D2 device
        if crc_modbus(req[:6]) != int.from_bytes(req[6:8], "little"):
            return []
        match int.from_bytes(req[2:4], "big"), int.from_bytes(req[4:6], "big"):
            case 0x00, 62:
                return [(0.0, live_data(state))]
            case 0x3E, 9:
                return [(0.0, mos_info(state))]
            case 0xA9, 32:
                return [(0.0, version_info())]
        return []
