"""`bmsdoc scan`: find the BMS advertising nearby and say what they are."""

from __future__ import annotations

import argparse


def _seconds(text: str) -> float:
    try:
        v = float(text.strip().lower().removesuffix("s"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0.5 <= v <= 120:
        raise argparse.ArgumentTypeError(f"a scan of {v:g} s is out of range (0.5..120)")
    return v


def register(sub) -> None:
    p = sub.add_parser("scan", help="find Bluetooth BMS nearby (JK, JBD, ANT, Daly, ...)",
                       description="Listen for Bluetooth LE advertisements and identify each BMS with aiobmsble's "
                                   "matchers: name, address, type and signal strength (aim for -75 dBm or better). "
                                   "A BMS connected to a phone app usually stops advertising: close the app first.")
    p.add_argument("--timeout", type=_seconds, default=5.0, metavar="S", help="seconds to listen (default 5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from drivers.ble import scan
    from tui.cli import emit_json

    found = asyncio.run(scan(args.timeout))
    if args.json:
        emit_json([f.to_json() for f in found])
        return 0
    if not found:
        print(f"no BMS found in {args.timeout:g} s (is it awake? a BMS connected to a phone app stops advertising)")
        return 0
    print(f"{'name':<20} {'address':<18} {'type':<6} {'aiobmsble':<14} rssi")
    for f in found:
        rssi = f"{f.rssi} dBm" if f.rssi is not None else "?"
        weak = "  (weak: move closer, aim for -75 dBm)" if f.rssi is not None and f.rssi < -80 else ""
        print(f"{f.name[:20]:<20} {f.address:<18} {f.family or '-':<6} {f.bms_class:<14} {rssi}{weak}")
    return 0
