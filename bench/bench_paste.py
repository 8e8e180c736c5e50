"""Paste parsing time per format: median and 90th percentile in µs over repeated parses (parse_text, including
shape detection and, for BLE frames, the replay through aiobmsble's BMS class). Name caches are cleared before
every parse, so the figures are for a paste never seen before.

    .venv/bin/python bench/bench_paste.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drivers.paste import entities, parse_text  # noqa: E402

DATA = ROOT / "tests" / "data" / "paste"

INPUTS = {
    "esphome-log (real JK sample, 193 lines)": (DATA / "esphome-jk-bms-ble-log.txt").read_text(),
    "jbdtool (real sample)": (DATA / "jbdtool-jbd-4s.txt").read_text(),
    "ble-frames JK02_32S (dev+cell)": (DATA / "frames-jk02-32s.txt").read_text(),
    "ble-frames JK02_24S (cell only)": (DATA / "frames-jk02-24s-cell-only.txt").read_text(),
    "ble-frames JBD (sniffer log)": (DATA / "frames-jbd.txt").read_text(),
    "ble-frames ANT": (DATA / "frames-ant.txt").read_text(),
    "ble-frames Daly": (DATA / "frames-daly.txt").read_text(),
    "vesc-faults": "    Fault            : FAULT_CODE_UNDER_VOLTAGE\n    Current          : 85.2\n"
                   "    Voltage          : 8.00\n    Duty             : 0.950\n    Temperature      : 56.14\n",
    "batmon-ha": "jk_bms: BmsSampl(80.1%,U=55.1V,I=63.25A,P=3485W,Q=83/100Ah,mos=25°C) "
                 "volt=[3471,3436,3450,3449,3452,3460,3447,3451,3449,3450,3455,3448,3450,3451,3452,3449]",
    "home-assistant page": "Sensors\n" + "".join(f"JK-BMS Cell voltage {i}\n3,{280 + i} V\n" for i in range(1, 17))
                           + "JK-BMS Total voltage\n52,64 V\nJK-BMS Current\n-1,23 A\nJK-BMS State of charge\n87 %\n",
    "cell-list numbered (20S)": "\n".join(f"{i}) 4.{100 + i}" for i in range(1, 21)),
    "cell-list taps (13S)": " ".join(f"{4.05 * i:.2f}" for i in range(0, 14)),
    "key-value + cells": "JK BMS 13S\nPack voltage: 52,1 V\nCurrent: -12.5 A\nSOC 87%\nCharge MOS: ON\n"
                         + "\n".join(f"Cell {i}: 4.0{i % 10}" for i in range(1, 14)),
    "json": '{"bms": "jk", "cells": [4.01, 4.02, 4.0, 4.01], "current": -12.5, "charge_fet": true}',
    "yaml": "bms: jk\ncells:\n  - 4.01\n  - 4.02\n  - 4.00\ncurrent: -12.5\n",
}


def measure(text: str, repeat: int) -> tuple[float, float, str]:
    parse_text(text)  # warm-up (imports, regex compilation)
    times = []
    for _ in range(repeat):
        entities.lookup.cache_clear()  # cold: every paste brings names not seen before
        entities._suffix_start.cache_clear()
        t0 = time.perf_counter_ns()
        parsed = parse_text(text)
        times.append((time.perf_counter_ns() - t0) / 1000.0)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], parsed.format


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    print(f"{'input':44} {'detected as':24} {'median µs':>10} {'p90 µs':>10}")
    for name, text in INPUTS.items():
        med, p90, fmt = measure(text, args.repeat)
        print(f"{name:44} {fmt:24} {med:10.0f} {p90:10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
