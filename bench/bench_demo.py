"""Demo (virtual BMS) figures at 10 Hz, per protocol: the whole live path in real time.

For each reading it measures, on one clock:
  frames->reading   from the moment the virtual BMS builds its reply (the "measurement") to the Reading coming out
                    of the stream: notification chunks, aiobmsble's reassembly, frame checks and decoding,
                    drivers.sample, Reading.parse
  reading->finding  engine.check on that reading (the goal: under 50 ms at 10 Hz)
  total             measurement to findings
and the rate achieved. Run: .venv/bin/python bench/bench_demo.py [--seconds S] [--kb DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


async def run_family(family: str, scenario: str, seconds: float, kb) -> dict[str, float]:
    from aiobmsble.utils import bms_cls

    from drivers import sim
    from drivers.ble import watch
    from drivers.live import DemoSource, _ScenarioClock, virtual_device
    from engine.check import check

    sim.install()
    scen = sim.SCENARIOS[scenario]
    speed = scen.duration / seconds
    src = DemoSource(scenario, family, rate=10.0, speed=speed)
    clock = _ScenarioClock(speed, None)
    dev = virtual_device(src, clock)
    built: list[float] = []
    state_fn = dev.state_fn

    def timed_state():
        built.append(time.perf_counter())
        return state_fn()

    dev.state_fn = timed_state
    cls = await bms_cls(dev.encoder.module)
    decode, checks, totals, findings = [], [], [], 0
    t_first = t_last = None
    async for ev in watch(dev.ble_device(), family=family, context=scen.context, until=scen.duration,
                          clock=clock.now, interval=0.1, bms_class=cls):
        if ev.kind != "reading":
            built.clear()
            continue
        t_reading = time.perf_counter()
        measured = built[0] if built else t_reading
        built.clear()
        report = check(ev.reading, kb)
        t_done = time.perf_counter()
        findings += len(report.findings)
        decode.append((t_reading - measured) * 1000)
        checks.append((t_done - t_reading) * 1000)
        totals.append((t_done - measured) * 1000)
        t_first = t_first or t_reading
        t_last = t_reading
    rate = (len(totals) - 1) / (t_last - t_first) if t_first and t_last and t_last > t_first else 0.0
    return {"n": len(totals), "rate": rate, "decode50": statistics.median(decode), "decode95": pct(decode, 0.95),
            "check50": statistics.median(checks), "check95": pct(checks, 0.95), "checkmax": max(checks),
            "total50": statistics.median(totals), "total95": pct(totals, 0.95), "totalmax": max(totals),
            "findings": findings}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="wall seconds per protocol (default 6)")
    ap.add_argument("--scenario", default="regen-charge-fet-off")
    ap.add_argument("--kb", help="content directory (default: the shipped content/)")
    args = ap.parse_args()

    from kb.load import load_kb

    t0 = time.perf_counter()
    kb = load_kb(args.kb) if args.kb else load_kb()
    print(f"knowledge base {kb.kb_version}: {len(kb.rules)} rules, loaded in {time.perf_counter() - t0:.2f} s")
    from engine.check import check
    from engine.reading import Reading

    t0 = time.perf_counter()
    report = check(Reading.parse({"cells": [3.9, 3.9], "state": "riding"}), kb)  # compiles the rule engine once
    print(f"first check (builds the {report.engine} engine): {(time.perf_counter() - t0) * 1000:.0f} ms, "
          "not counted below")
    print(f"scenario {args.scenario}, 10 Hz, {args.seconds:g} s per protocol; milliseconds, median / p95 (/ max)")
    print(f"{'family':<6} {'readings':>8} {'rate Hz':>8} {'frames->reading':>16} {'reading->finding':>22} "
          f"{'total':>22}")
    worst = 0.0
    for fam in ("jk", "jbd", "ant", "daly"):
        r = asyncio.run(run_family(fam, args.scenario, args.seconds, kb))
        worst = max(worst, r["total95"])
        print(f"{fam:<6} {r['n']:>8} {r['rate']:>8.2f} {r['decode50']:>7.2f} / {r['decode95']:<6.2f} "
              f"{r['check50']:>6.2f} / {r['check95']:>5.2f} / {r['checkmax']:<6.2f} "
              f"{r['total50']:>6.2f} / {r['total95']:>5.2f} / {r['totalmax']:<6.2f}")
    verdict = "meets" if worst < 50.0 else "MISSES"
    print(f"worst p95 measurement-to-findings latency: {worst:.2f} ms ({verdict} the 50 ms goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
