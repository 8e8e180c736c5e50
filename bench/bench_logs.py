"""Ride-log analysis figures: a one-hour 20 Hz VESC Tool RT CSV (72,000 rows x 55 columns), generated here.

Prints, each measured in a fresh subprocess (time inside it, peak memory = its ru_maxrss):
  read      reading the file's bytes (the floor)
  parse     np.loadtxt of the whole 55-column table (what "just reading the CSV" costs with numpy)
  load      drivers.logs.load_log (detection, parsing, sign conversion, clocks)
  analyze   load + engine.logs.analyze with the shipped knowledge base (events judged by the rules engine)
and analyze's ratio to read and to parse. Goals: analyze under 3 s and under 300 MB.

  .venv/bin/python bench/bench_logs.py [--rows 72000] [--kb DIR] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HEADER = ("ms_today;input_voltage;temp_mos_max;temp_mos_1;temp_mos_2;temp_mos_3;temp_motor;current_motor;current_in;"
          "d_axis_current;q_axis_current;erpm;duty_cycle;amp_hours_used;amp_hours_charged;watt_hours_used;"
          "watt_hours_charged;tachometer;tachometer_abs;encoder_position;fault_code;vesc_id;d_axis_voltage;"
          "q_axis_voltage;ms_today_setup;amp_hours_setup;amp_hours_charged_setup;watt_hours_setup;"
          "watt_hours_charged_setup;battery_level;battery_wh_tot;current_in_setup;current_motor_setup;"
          "speed_meters_per_sec;tacho_meters;tacho_abs_meters;num_vescs;ms_today_imu;roll;pitch;yaw;accX;accY;accZ;"
          "gyroX;gyroY;gyroZ;gnss_posTime;gnss_lat;gnss_lon;gnss_alt;gnss_gVel;gnss_vVel;gnss_hAcc;gnss_vAcc").split(";")


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """A 20 Hz ride (jittered clock): launches, cruising and braking every few seconds, a 16S pack at 0.09 ohm."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows) * 0.05 + rng.uniform(-0.01, 0.01, rows)
    t.sort()
    phase = np.floor(t / 7.0).astype(int)  # a new riding phase every 7 s
    level = rng.choice([0.0, 8.0, 15.0, 40.0, 70.0, -30.0, -60.0], size=phase.max() + 1)
    i_vesc = level[phase] + rng.normal(0, 1.5, rows)
    i_vesc[t > t[-1] - 10.0] = 0.0  # the ride ends at rest, as logs do
    ah = np.cumsum(i_vesc) * 0.05 / 3600.0
    v = 16 * (4.1 - 0.5 * ah / 30.0) - 0.09 * i_vesc + rng.normal(0, 0.05, rows)
    a = np.zeros((rows, 55))
    a[:, 0] = (43_200_000 + np.round(t * 1000)) % 86_400_000
    a[:, 1] = np.round(v, 1)
    a[:, 2] = np.round(35 + 10 * np.sin(t / 600.0), 1)
    a[:, 6] = -75.0
    a[:, 7] = np.round(i_vesc * 1.4, 2)
    a[:, 8] = np.round(i_vesc, 2)
    a[:, 12] = np.round(np.clip(np.abs(i_vesc) / 90.0, 0, 0.95), 3)
    a[:, 31] = a[:, 8]
    a[:, 36] = 1
    a[:, 37:47] = rng.normal(0, 0.3, (rows, 10)).round(5)  # IMU columns: realistic width per row
    with path.open("w") as f:
        f.write(";".join(HEADER) + ";\n")
        np.savetxt(f, a, fmt="%.6g", delimiter=";", newline=";\n")


STEP = {
    "read": "Path(p).read_bytes()",
    "parse": "np.loadtxt(p, delimiter=';', skiprows=1, usecols=range(55))",
    "load": "from drivers.logs import load_log; load_log(p)",
    "analyze": ("from drivers.logs import load_log; from engine.logs import analyze; from kb.load import load_kb; "
                "kb = load_kb(kbdir) if kbdir else load_kb(); a = analyze(load_log(p), {'series': 16}, kb=kb); "
                "extra = {'events': len(a.events), 'trips': len(a.trips()), 'resistance_ohm': a.resistance_ohm}"),
}

RUNNER = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    import numpy as np
    p, kbdir, step = sys.argv[1], sys.argv[2] or None, sys.argv[3]
    extra = {}
    if step == "analyze":  # the KB is loaded (and cached) before the clock starts: we time the log work
        from kb.load import load_kb
        load_kb(kbdir) if kbdir else load_kb()
    t0 = time.perf_counter()
    exec(sys.argv[4])
    dt = time.perf_counter() - t0
    print(json.dumps({"s": dt, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}))
""")


def measure(path: Path, step: str, kbdir: str | None) -> dict:
    out = subprocess.run([sys.executable, "-c", RUNNER, str(path), kbdir or "", step, STEP[step]], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise SystemExit(f"{step} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=72_000)
    ap.add_argument("--kb", help="another content root (default: the shipped knowledge base)")
    ap.add_argument("--keep", help="also write the generated log here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "ride-1h-20hz.csv"
        generate(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        print(f"log: {args.rows:,} rows x 55 columns, {size_mb:.1f} MB")
        res = {step: measure(path, step, args.kb) for step in STEP}
    for step, r in res.items():
        print(f"{step:>8}: {r['s']:.3f} s, peak memory {r['maxrss_mb']:.0f} MB")
    a = res["analyze"]
    print(f"analyze / read: {a['s'] / res['read']['s']:.0f}x time;  analyze / parse: {a['s'] / res['parse']['s']:.2f}x "
          f"time, {a['maxrss_mb'] / res['parse']['maxrss_mb']:.2f}x memory")
    print(f"events: {a['events']}, trips: {a['trips']}, resistance: {a['resistance_ohm']:.4f} ohm (generated at 0.09)")
    ok = a["s"] < 3.0 and a["maxrss_mb"] < 300
    print(f"goal (< 3 s, < 300 MB): {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
