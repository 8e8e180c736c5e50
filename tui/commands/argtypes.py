"""Argument types shared by the commands: `20S` and `70A` are what riders type."""

from __future__ import annotations

import argparse


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
