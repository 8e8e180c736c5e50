"""TUI figures: first paint, handbook pages, and whether a 10 Hz stream keeps the UI responsive.

Prints:
- first paint: process start to the first screen drawn, the real start-up (demo autostart, the knowledge base loading
  in its thread); warm (best of 3, goal < 1 s) and cold (no compiled bytecode, no KB disk cache);
- handbook: opening each section, a source note and a search hit, from the request to the page drawn (goal < 200 ms);
- a 10 Hz replay on the live dashboard: readings posted vs handled (coalesced), the lag from post to handled
  (mean / p95 / max), the time per reading, and the worst stall of a 20 ms UI heartbeat timer.
Wall times depend on the machine's load (2 shared cores here): the load average and each figure's CPU time are
printed beside them.
"""

from __future__ import annotations

import asyncio
import os
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
    app = BmsDocApp(data_dir=sys.argv[1])
    app.first = None
    display = app._display
    def timed(screen, renderable):  # the first frame of the Live area, as it would go to the terminal
        if renderable is not None and app.first is None and type(screen).__name__ == "DashboardScreen":
            app.first = (time.perf_counter() - t0, time.process_time())
        display(screen, renderable)
    app._display = timed
    async with app.run_test(size=(100, 30)) as pilot:
        while app.first is None:
            await asyncio.sleep(0.005)
        print(f"{t_import:.3f} {app.first[0]:.3f} {app.first[1]:.3f}")
asyncio.run(main())
"""


def launch_time(tmp: str, env: dict | None = None) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, "-c", LAUNCH, tmp], capture_output=True, text=True, timeout=120,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        raise SystemExit(f"launch failed: {out.stderr.strip().splitlines()[-1:]}")
    a, b, c = out.stdout.split()[-3:]
    return float(a), float(b), float(c)


async def handbook_times(tmp: str) -> dict[str, list[tuple[float, float]]]:
    """(wall ms, cpu ms) from open_page to the page drawn, per kind of page."""
    from tui.app import BmsDocApp

    app = BmsDocApp(autostart=False, data_dir=tmp, animate=False)
    out: dict[str, list[tuple[float, float]]] = {"section": [], "note": [], "search hit": []}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.switch_mode("handbook")
        await pilot.pause(0.5)
        hb = app.screen
        for w in app.workers:  # the warm-up thread started when the handbook was opened
            if w.group == "hb-index":
                await w.wait()
        kb = app.kb
        pages = [("section", f"section:{s.id}") for s in kb.manifest.sections]
        pages += [("note", f"cite:{c}") for c in ("4", "ant-cutoff", "9")]
        hits = hb.search("regen charge fet") or []
        pages += [("search hit", h.target + (f"#{h.anchor}" if h.anchor else "")) for h in hits[:3]]
        frames: list[tuple[float, float]] = []
        display = app._display

        def timed(screen, renderable):  # when a frame of the handbook would go to the terminal
            if renderable is not None and screen is hb:
                frames.append((time.perf_counter(), time.process_time()))
            display(screen, renderable)

        app._display = timed
        for kind, page in pages:
            await pilot.pause(0.3)  # the previous page is complete
            frames.clear()
            t0, c0 = time.perf_counter(), time.process_time()
            hb.open_page(page)
            while not frames:
                await asyncio.sleep(0.002)
            t1, c1 = frames[0]
            out[kind].append(((t1 - t0) * 1000, (c1 - c0) * 1000))
    return out


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
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [launch_time(tmp) for _ in range(3)]
        best = min(runs, key=lambda r: r[1])
        print(f"first paint (warm): {best[1] * 1000:.0f} ms, import {best[0] * 1000:.0f} ms, CPU {best[2] * 1000:.0f} ms "
              f"(best of 3; goal < 1000 ms: {'ok' if best[1] < 1.0 else 'SLOW'})")
        with tempfile.TemporaryDirectory() as pyc, tempfile.TemporaryDirectory() as kbc:
            cold = launch_time(tmp, {"PYTHONPYCACHEPREFIX": pyc, "BMSDOC_CACHE_DIR": kbc})
        print(f"first paint (cold, worst case: no compiled bytecode even for Textual, no KB cache): "
              f"{cold[1] * 1000:.0f} ms, CPU {cold[2] * 1000:.0f} ms")

        hb = asyncio.run(handbook_times(tmp))
        every = []
        for kind, times in hb.items():
            if not times:
                continue
            walls, cpus = [t[0] for t in times], [t[1] for t in times]
            every += walls
            print(f"handbook {kind}: median {statistics.median(walls):.0f} ms, max {max(walls):.0f} ms "
                  f"(CPU median {statistics.median(cpus):.0f} ms, max {max(cpus):.0f} ms) over {len(times)}")
        med = statistics.median(every)
        print(f"handbook page open (request to the page's first frame): median {med:.0f} ms, worst {max(every):.0f} ms "
              f"(goal < 200 ms: {'ok' if med < 200 else 'SLOW'}{'' if max(every) < 200 else ', with slower outliers'})")

        r = asyncio.run(stream_10hz(tmp))
        print(f"(measured with {'a valid' if r['kb_ok'] else 'NO valid'} knowledge base: without it, no rule runs "
              f"per reading)")
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
