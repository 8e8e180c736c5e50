"""Argument types shared by the commands: `20S` and `70A` are what riders type."""

from __future__ import annotations

import argparse
import re


def series(text: str) -> int:
    t = text.strip().lower().removesuffix("s").strip()
    try:
        v = int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a series count such as 20 or 20S") from None
    if not 1 <= v <= 64:
        raise argparse.ArgumentTypeError(f"{v} series is out of range (1..64)")
    return v


def amps(text: str, low: float = 0.0, high: float = 2000.0) -> float:
    t = text.strip().lower().removesuffix("a").strip()
    try:
        v = float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a current in amps") from None
    if not low <= v <= high:
        raise argparse.ArgumentTypeError(f"'{text}' is not a plausible current ({low:g}..{high:g} A)")
    return v


def positive_amps(text: str) -> float:
    v = amps(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a plausible current (0..2000 A)")
    return v


_MAC = re.compile(r"[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}", re.I)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def bluetooth_address(text: str) -> str:
    """A BMS's Bluetooth address: a MAC such as C8:47:8C:10:20:30 (Linux, Windows) or the UUID macOS shows."""
    t = text.strip()
    if _MAC.fullmatch(t):
        return t.replace("-", ":").upper()
    if _UUID.fullmatch(t):
        return t.upper()
    raise argparse.ArgumentTypeError(
        f"'{text}' is not a Bluetooth address: six pairs of hex digits such as C8:47:8C:10:20:30 (or the UUID "
        "macOS shows); bmsdoc scan lists the BMS nearby")
