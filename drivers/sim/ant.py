"""ANT BMS frames, the 2021 protocol (7E A1 ...; aiobmsble's ant_bms decodes them).

Frame: 7E A1 <type> <address, 2 bytes LE> <data length> <data...> <CRC-16/MODBUS of bytes 1.. LE> AA 55.
Requests: type 0x01 (status, address 0, length 0xBE), 0x02 (device info at 0x026C). Replies set bit 0x10 of the type.
Status data (frame offsets): 7 state (2 = charging), 8 number of temperature probes n, 9 number of cells c,
34.. cells in mV (LE), then n probes, the MOSFET and the balancer temperature (°C, signed LE); after them, with
s = 2(c + n): 38+s pack voltage 10 mV, 40+s current 0.1 A (signed, + = charging), 42+s SoC %, 44+s SOH %,
46+s charge and 47+s discharge MOSFET state (1 = on, 0 = off, 3 = over-current protection, ...), 48+s balancer bits
(4 = balancing), 50+s nominal and 54+s remaining capacity in µAh, 58+s total charge, 62+s power W, 82+s cell delta mV.
A real module notifies in 20-byte pieces.
"""

from __future__ import annotations

from drivers.sim.encoder import Encoder, Gatt, u
from drivers.sim.state import PackState

HEAD = b"\x7e\xa1"
TAIL = b"\xaa\x55"
# MOSFET state codes the BMS reports while a protection holds the MOSFET open
FET_STATE = {"cell_overvoltage": ("charge", 2), "charge_overcurrent": ("charge", 3),
             "cell_undervoltage": ("discharge", 2), "discharge_overcurrent": ("discharge", 3),
             "short_circuit": ("discharge", 3)}


def crc_modbus(data: bytes | bytearray) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(kind: int, address: int, data: bytes) -> bytes:
    body = HEAD + bytes([kind]) + address.to_bytes(2, "little") + bytes([len(data) & 0xFF]) + data
    return body + crc_modbus(body[1:]).to_bytes(2, "little") + TAIL


def status(s: PackState) -> bytes:
    cells, temps = list(s.cells), list(s.temps)
    c, n = len(cells), len(temps)
    data = bytearray(106 + 2 * (c + n))  # 6 frame bytes come before the data: data[k] is frame[k + 6]

    def put(pos: int, b: bytes) -> None:  # pos: frame offset
        data[pos - 6:pos - 6 + len(b)] = b

    put(6, b"\x05")
    put(7, bytes([2 if s.current > 0.05 else 4 if s.current < -0.05 else 1]))
    put(8, bytes([n]))
    put(9, bytes([c]))
    for i, v in enumerate(cells):
        put(34 + 2 * i, u(v * 1000, 2, "little"))
    for i, t in enumerate(temps + [s.mos_temp, s.mos_temp]):  # probes, MOSFET, balancer
        put(34 + 2 * c + 2 * i, u(t, 2, "little", signed=True))
    o = 2 * (c + n)
    chg, dsg = int(s.charge_fet), int(s.discharge_fet)
    if s.alarm in FET_STATE:  # a protection that holds a MOSFET open reports why instead of a plain 0
        which, code = FET_STATE[s.alarm]
        if which == "charge" and not s.charge_fet:
            chg = code
        elif which == "discharge" and not s.discharge_fet:
            dsg = code
    put(38 + o, u(s.voltage * 100, 2, "little"))
    put(40 + o, u(s.current * 10, 2, "little", signed=True))
    put(42 + o, u(s.soc, 2, "little"))
    put(44 + o, u(100, 2, "little"))
    put(46 + o, bytes([chg, dsg, 0x04 if s.balancing else 0x00]))
    put(50 + o, u(s.capacity_ah * 1e6, 4, "little"))
    put(54 + o, u(s.remaining_ah * 1e6, 4, "little"))
    put(58 + o, u(s.cycles * s.capacity_ah * 1000, 4, "little"))
    put(62 + o, u(s.voltage * s.current, 4, "little", signed=True))
    if cells:
        put(82 + o, u((max(cells) - min(cells)) * 1000, 2, "little"))
    return frame(0x11, 0x0000, bytes(data))


def device_info() -> bytes:
    return frame(0x12, 0x026C, b"16ZMB".ljust(16, b"\x00") + b"bmsdoc-sim-2021".ljust(16, b"\x00"))


class AntEncoder(Encoder):
    family = "ant"
    module = "ant_bms"
    chunk = 20
    gatt = Gatt("ffe0", "ffe1", "ffe1")
    local_name = "ANT-BLE24BHUB"

    def reply(self, request: bytes, state: PackState) -> list[tuple[float, bytes]]:
        if len(request) < 10 or not request.startswith(HEAD) or not request.endswith(TAIL):
            return []
        if crc_modbus(request[1:-4]) != int.from_bytes(request[-4:-2], "little"):
            return []
        match request[2]:
            case 0x01:
                return [(0.0, status(state))]
            case 0x02:
                return [(0.0, device_info())]
        return []
