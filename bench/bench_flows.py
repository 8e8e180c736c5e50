"""How fast are diagnosis flows? Prints figures; asserts nothing (goals: < 5 ms from an answer to the next question
in-process, so the app and the chat stay instant; < 1 s for a scripted `bmsdoc diagnose --json` from process start).

    .venv/bin/python bench/bench_flows.py [--kb DIR] [--runs N]

In-process: every flow's answer scripts replayed one answer at a time (each answer recomputes the walk, as in the
app), median and p99 per answer; symptom matching per query; `bmsdoc kb test`'s flow suite as a whole.
Command: wall time of `python -m tui.cli diagnose cutout --answers FILE --json`, median of several runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
    return f"median {statistics.median(xs) * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms over {len(xs)}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb", help="content directory (default: the shipped content/)")
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()

    from engine.flows import Session, match_symptom, run_flow_tests
    from kb.load import load_kb

    t = time.perf_counter()
    kb = load_kb(args.kb, use_cache=False)
    print(f"load + validate KB (no cache): {(time.perf_counter() - t) * 1000:.0f} ms, "
          f"{len(kb.flows)} flows, {kb.counts['flow_conclusions']} conclusions")

    per_answer: list[float] = []
    for _ in range(args.runs):
        for fid, f in kb.flows.items():
            for script in f.tests:
                s = Session(kb, fid, reading=script.reading or None)
                s.next_step()
                for sid, v in script.answers.items():
                    t = time.perf_counter()
                    s.answer(sid, v)
                    s.next_step()
                    per_answer.append(time.perf_counter() - t)
    print(f"answer -> next question: {_ms(per_answer)}")

    queries = ["my scooter cuts out when I brake hard", "bms will not wake, no bluetooth", "burn marks on the board",
               "external battery adds no range", "cells not balancing", "soc reads wrong"]
    times = []
    for _ in range(args.runs * 10):
        for q in queries:
            t = time.perf_counter()
            match_symptom(kb, q)
            times.append(time.perf_counter() - t)
    print(f"match_symptom: {_ms(times)}")

    t = time.perf_counter()
    results = run_flow_tests(kb)
    print(f"flow answer scripts ({len(results)}, {sum(r.passed for r in results)} passing): "
          f"{(time.perf_counter() - t) * 1000:.0f} ms")

    with tempfile.TemporaryDirectory() as d:
        answers = Path(d) / "a.json"
        answers.write_text(json.dumps({"when": "braking", "braking-charge-fet": "no", "braking-over-ocp": "yes"}))
        cmd = [sys.executable, "-m", "tui.cli", "diagnose", "cutout", "--answers", str(answers), "--json"]
        if args.kb:
            cmd += ["--kb", args.kb]
        walls = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
            walls.append(time.perf_counter() - t)
        print(f"bmsdoc diagnose --answers --json (process start to exit): median {statistics.median(walls):.3f} s")


if __name__ == "__main__":
    main()
