"""What every family's frame encoder offers the virtual BMS device.

An encoder answers one request (the bytes aiobmsble wrote) with the frames a real BMS would send back, built from a
PackState. Encoding is ours; decoding is always aiobmsble's, so an encoder is right when aiobmsble reads back what
was encoded (tests/test_sim_frames.py checks that, and the layout against real captures).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from drivers.sim.state import PackState


@dataclass(frozen=True)
class Gatt:
    """The GATT layout aiobmsble expects: one service, a notify characteristic and a write characteristic."""

    service: str
    notify: str
    write: str


class Encoder(ABC):
    family: str  # jk | jbd | ant | daly
    module: str  # aiobmsble plugin module that decodes it
    chunk: int | None  # notification size of a real device (None: one whole frame per notification)
    gatt: Gatt
    local_name: str  # what the device advertises
    manufacturer_data: dict[int, bytes] = {}

    @abstractmethod
    def reply(self, request: bytes, state: PackState) -> list[tuple[float, bytes]]:
        """(delay in seconds, frame) pairs answering `request`; [] for a request this BMS ignores."""

    def chunks(self, frame: bytes) -> list[bytes]:
        n = self.chunk or len(frame) or 1
        return [frame[i:i + n] for i in range(0, len(frame), n)]


def u(value: float, size: int, order: str = "big", signed: bool = False) -> bytes:
    """An integer field, clamped to what the field can hold (a frame never overflows, it saturates)."""
    bits = 8 * size
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return max(lo, min(hi, int(round(value)))).to_bytes(size, order, signed=signed)  # type: ignore[arg-type]
