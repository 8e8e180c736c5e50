"""Paste parsing time per format: median and 90th percentile in µs over repeated parses (parse_text, including
shape detection and, for BLE frames, the replay through aiobmsble's BMS class). Name and frame caches are cleared
before every parse, so the figures are for a paste never seen before.

Then the sniffer-log goal: a 300-notification sniffer log (ANT 2021 status frames in 20-byte notifications with the
app's write requests between them, as a phone sniffer records it) must parse in under 50 ms; a JK log of 300
notifications (128-byte chunks) and a 3,000-line log (300 whole ANT frames) are timed beside it.

    .venv/bin/python bench/bench_paste.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "data" / "paste" / "corpus"))

from build import requests_for, sniffer  # noqa: E402

from drivers.paste import entities, frames, parse_text  # noqa: E402

DATA = ROOT / "tests" / "data" / "paste"
GOAL_MS = 50.0

INPUTS = {
    "esphome-log (real JK sample, 193 lines)": (DATA / "esphome-jk-bms-ble-log.txt").read_text(),
    "jbdtool (real sample)": (DATA / "jbdtool-jbd-4s.txt").read_text(),
    "ble-frames JK02_32S (dev+cell)": (DATA / "frames-jk02-32s.txt").read_text(),
    "ble-frames JK02_24S (cell only)": (DATA / "frames-jk02-24s-cell-only.txt").read_text(),
    "ble-frames JBD (sniffer log)": (DATA / "frames-jbd.txt").read_text(),
    "ble-frames ANT": (DATA / "frames-ant.txt").read_text(),
    "ble-frames Daly": (DATA / "frames-daly.txt").read_text(),
    "ble-frames JK04 (refused in words)": (DATA / "corpus" / "jk04.esphome-dotted.txt").read_text(),
    "ble-frames ANT legacy, nRF Connect log": (DATA / "corpus" / "ant-legacy-status.nrf-connect.txt").read_text(),
    "ble-frames JBD hexdump -C": (DATA / "corpus" / "jbd-v4.hexdump-c.txt").read_text(),
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


def _cold() -> None:
    entities.lookup.cache_clear()  # cold: every paste brings names not seen before
    entities._suffix_start.cache_clear()
    frames.frames_of.cache_clear()


def measure(text: str, repeat: int, cpu: list[float] | None = None) -> tuple[float, float, str]:
    """(median µs, p90 µs, format) of wall time; `cpu`, when given, receives the median CPU time in µs (the figure
    that does not grow when other processes share the cores)."""
    parse_text(text)  # warm-up (imports, regex compilation)
    times, cpu_times = [], []
    for _ in range(repeat):
        _cold()
        t0, c0 = time.perf_counter_ns(), time.process_time_ns()
        parsed = parse_text(text)
        times.append((time.perf_counter_ns() - t0) / 1000.0)
        cpu_times.append((time.process_time_ns() - c0) / 1000.0)
    times.sort()
    if cpu is not None:
        cpu.append(statistics.median(cpu_times))
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], parsed.format


def sniffer_logs() -> dict[str, str]:
    d = json.loads((ROOT / "tests" / "data" / "frames" / "aiobmsble_frames.json").read_text())
    ant = bytes.fromhex(d["ant"]["2021"]["frames"]["status"])  # 190 bytes: 10 notifications of 20 bytes
    jk = bytes.fromhex(d["jk"]["JK02_32S_v15"]["frames"]["cell"])  # 300 bytes: 3 notifications
    return {
        "ANT sniffer log, 300 notifications + app writes": sniffer([ant] * 30, 20, requests_for("ant") * 15),
        "JK sniffer log, 300 notifications + app writes": sniffer([jk] * 100, 128, requests_for("jk") * 50),
        "ANT sniffer log, 300 whole frames (3,000 lines)": sniffer([ant] * 300, 20, requests_for("ant") * 150),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=100)
    args = ap.parse_args()
    print(f"{'input':46} {'detected as':52} {'median µs':>10} {'p90 µs':>10}")
    for name, text in INPUTS.items():
        med, p90, fmt = measure(text, args.repeat)
        print(f"{name:46} {fmt[:52]:52} {med:10.0f} {p90:10.0f}")
    print()
    for i, (name, text) in enumerate(sniffer_logs().items()):
        cpu: list[float] = []
        med, p90, _fmt = measure(text, max(5, args.repeat // 10), cpu)
        lines = sum(1 for ln in text.splitlines() if ln.strip())
        verdict = ("goal < 50 ms: " + ("met" if med / 1000 < GOAL_MS else "MISSED")) if i == 0 else ""
        print(f"{name:50} {lines:5} lines  median {med / 1000:6.1f} ms (CPU {cpu[0] / 1000:5.1f} ms)  "
              f"p90 {p90 / 1000:6.1f} ms  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
