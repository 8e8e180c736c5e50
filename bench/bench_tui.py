"""TUI figures: time from launch to the first screen, and whether a 10 Hz stream keeps the UI responsive.

Prints: import time, launch-to-first-screen (goal < 1.5 s), and for a 10 Hz replay on the live dashboard:
readings posted vs handled (coalesced), the lag from post to handled (mean / p95 / max) and the time the app
needed per reading, plus the worst stall of a 20 ms UI heartbeat timer (a blocked event loop shows up there).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time

LAUNCH = r"""
import time, sys
t0 = time.perf_counter()
from tui.app import BmsDocApp
t_import = time.perf_counter() - t0
import asyncio
async def main():
    app = BmsDocApp(autostart=False, data_dir=sys.argv[1])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        t_first = time.perf_counter() - t0
        print(f"{t_import:.3f} {t_first:.3f}")
asyncio.run(main())
"""


def launch_time(tmp: str) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", LAUNCH, tmp], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise SystemExit(f"launch failed: {out.stderr.strip().splitlines()[-1:]}")
    a, b = out.stdout.split()
    return float(a), float(b)


async def stream_10hz(tmp: str, seconds: float = 5.0) -> dict:
    from engine.reading import Reading
    from tui.app import BmsDocApp

    readings = []
    for i in range(50):
        cells = [3.9 + 0.001 * ((k + i) % 7) for k in range(20)]
        readings.append(Reading.parse({"bms": "jk", "series": 20, "cells": cells, "current": -20 + (i % 10),
                                       "soc": 70, "temperatures": [30, 31], "charge_fet": i % 20 != 0,
                                       "discharge_fet": True, "state": "riding"}))
    app = BmsDocApp(autostart=False, data_dir=tmp, animate=False)
    stalls: list[float] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        last = [time.monotonic()]

        def beat() -> None:
            now = time.monotonic()
            stalls.append((now - last[0]) * 1000.0 - 20.0)
            last[0] = now

        app.set_interval(0.02, beat)
        app.start_source({"kind": "replay", "name": "bench", "readings": readings, "hz": 10, "loop": True})
        await asyncio.sleep(seconds)
        live = app.live
        app.stop_source()
        await pilot.pause()
        lag = sorted(live.lag_ms)
        return {"kb_ok": app.kb is not None, "posted": live.received, "handled": live.seq, "lag": lag, "work": list(live.work_ms),
                "stall": max(stalls) if stalls else 0.0}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runs = [launch_time(tmp) for _ in range(3)]
        imp = min(r[0] for r in runs)
        first = min(r[1] for r in runs)
        print(f"launch: import {imp * 1000:.0f} ms, first screen {first * 1000:.0f} ms "
              f"(best of 3; goal < 1500 ms: {'ok' if first < 1.5 else 'SLOW'})")
        from tui.screens.base import available

        r = asyncio.run(stream_10hz(tmp))
        print(f"(measured with engine.check {'in' if available('engine.check') else 'NOT in'} this build and "
              f"{'a valid' if r['kb_ok'] else 'NO valid'} knowledge base: without both, no rule runs per reading)")
        lag = r["lag"] or [0.0]
        p95 = lag[int(0.95 * (len(lag) - 1))]
        print(f"10 Hz stream for 5 s: {r['posted']} posted, {r['handled']} handled "
              f"({r['posted'] - r['handled']} coalesced)")
        print(f"  lag post->handled: mean {statistics.mean(lag):.1f} ms, p95 {p95:.1f} ms, max {max(lag):.1f} ms; "
              f"work per reading mean {statistics.mean(r['work'] or [0]):.1f} ms")
        print(f"  worst UI heartbeat stall: {r['stall']:.0f} ms "
              f"({'responsive' if r['stall'] < 100 and p95 < 100 else 'SLUGGISH'})")


if __name__ == "__main__":
    main()
