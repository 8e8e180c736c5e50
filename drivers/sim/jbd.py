"""JBD / LLT / Overkill frames (aiobmsble's jbd_bms decodes them).

Frame: DD <cmd> <status> <len> <data...> <checksum: 0x10000 - sum(status, len, data), 2 bytes BE> 77.
Requests: DD A5 03 00 FF FD 77 (basic info), DD A5 04 00 FF FC 77 (cell voltages), DD A5 05 ... (hardware version).
Basic info (offsets in the frame): 4 pack voltage 10 mV, 6 current 10 mA (signed, + = charging), 8 remaining and
10 nominal capacity 10 mAh, 12 cycles, 14 production date, 16 balance bits (cells 1-16, then 17-32), 20 protection
bits, 22 software version, 23 SoC %, 24 FET bits (1 charge, 2 discharge), 25 cell count, 26 NTC count, 27.. NTCs in
0.1 K. A real BLE module sends it in 20-byte notifications.
"""

from __future__ import annotations

from drivers.sim.encoder import Encoder, Gatt, u
from drivers.sim.state import PackState

ALARM_BITS = {"cell_overvoltage": 1 << 0, "cell_undervoltage": 1 << 1, "charge_overcurrent": 1 << 8,
              "discharge_overcurrent": 1 << 9, "short_circuit": 1 << 10}
_DATE = ((2024 - 2000) << 9) | (5 << 5) | 1  # 2024-05-01, as the BMS packs it


def checksum(body: bytes) -> int:
    return (0x10000 - sum(body)) & 0xFFFF


def frame(cmd: int, data: bytes, status: int = 0) -> bytes:
    body = bytes([status, len(data)]) + data
    return b"\xdd" + bytes([cmd]) + body + checksum(body).to_bytes(2, "big") + b"\x77"


def basic_info(s: PackState) -> bytes:
    mask = s.balancing_mask()
    data = (
        u(s.voltage * 100, 2) + u(s.current * 100, 2, signed=True)
        + u(s.remaining_ah * 100, 2) + u(s.capacity_ah * 100, 2) + u(s.cycles, 2) + u(_DATE, 2)
        + u(mask & 0xFFFF, 2) + u(mask >> 16, 2)
        + u(ALARM_BITS.get(s.alarm or "", 0), 2)
        + bytes([0x80, int(round(s.soc)) & 0xFF, int(s.charge_fet) | int(s.discharge_fet) << 1, len(s.cells),
                 len(s.temps)])
        + b"".join(u(t * 10 + 2731, 2) for t in s.temps)
    )
    return frame(0x03, data)


def cell_info(s: PackState) -> bytes:
    return frame(0x04, b"".join(u(c * 1000, 2) for c in s.cells))


class JbdEncoder(Encoder):
    family = "jbd"
    module = "jbd_bms"
    chunk = 20
    gatt = Gatt("ff00", "ff01", "ff02")
    local_name = "JBD-SP04S034"

    def reply(self, request: bytes, state: PackState) -> list[tuple[float, bytes]]:
        if len(request) < 7 or request[:2] != b"\xdd\xa5" or request[-1] != 0x77:
            return []
        match request[2]:
            case 0x03:
                return [(0.0, basic_info(state))]
            case 0x04:
                return [(0.0, cell_info(state))]
            case 0x05:
                return [(0.0, frame(0x05, b"bmsdoc-sim"))]
        return []
