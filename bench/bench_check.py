"""How fast is a reading checked? Prints figures; asserts nothing (goals: p95 < 2 ms per reading in-process, derived
facts and questions included; < 0.5 s for a whole `bmsdoc check` from process start).

    .venv/bin/python bench/bench_check.py [--readings N] [--runs N] [--importtime]

In-process: per reading, median and p99 of (a) durable-rules deciding which rules fire, (b) the evaluator doing
the same, (c) the whole check() (durable-rules + the evaluator's unknowns + explanations of findings).
Command: wall time of `python -m tui.cli check FILE --json` from process start, median of several runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURE = ROOT / "tests" / "fixtures" / "readings" / "jk_charge_fet_off_regen.json"


def random_reading(rng: random.Random) -> dict:
    series = rng.choice([10, 13, 16, 20, 24])
    base = rng.uniform(3.0, 4.2)
    cells = [round(base + rng.gauss(0, 0.01 if rng.random() < 0.8 else 0.15), 3) for _ in range(series)]
    r = {"bms": rng.choice(["jk", "ant", "jbd", "daly", "charge-only"]), "series": series,
         "cells": [min(max(c, 0.0), 4.5) for c in cells], "current": round(rng.uniform(-120, 60), 1),
         "soc": rng.randint(0, 100), "temperatures": [rng.randint(-5, 70) for _ in range(2)],
         "mos_temp": rng.randint(10, 100), "charge_fet": rng.random() < 0.9, "discharge_fet": rng.random() < 0.9,
         "balancing": rng.random() < 0.3, "state": rng.choice(["riding", "idle", "charging", "storage"])}
    optional = {"regen_limit": rng.choice([0, 20, 60, 150]), "cell_ovp": rng.choice([4.2, 4.25, 4.3]),
                "cell_uvp": rng.choice([2.8, 3.0, 3.2]), "balance_trigger": rng.choice([0.005, 0.01, 0.03]),
                "discharge_ocp": rng.choice([60, 150, 300]), "charge_ocp": rng.choice([10, 30, 100]),
                "rated_continuous": rng.choice([40, 100, 200]), "controller": rng.choice(["vesc", "stock"]),
                "chemistry": rng.choice(["li-ion", "lifepo4"])}
    for k, v in optional.items():
        if rng.random() < 0.5:
            r[k] = v
    return r


def load(kb_dir: str | None):
    """The whole KB; while content/ is mid-edit, its rules alone; failing that, 60 synthetic rules."""
    from kb.load import load_kb

    try:
        kb = load_kb(kb_dir) if kb_dir else load_kb()
        return kb, f"knowledge base {kb.kb_version} ({len(kb.rules)} rules)"
    except Exception as e:
        why = str(e)
    try:
        kb = rules_only(Path(kb_dir) if kb_dir else ROOT / "content")
        if kb.rules:
            return kb, f"the shipped RULES ONLY ({len(kb.rules)} rules; the whole KB did not load: {why})"
    except Exception as e:
        why += f"; its rules alone did not load either: {e}"
    return synthetic(), f"SYNTHETIC knowledge base (60 random rules; {why})"


def synthetic():
    sys.path.insert(0, str(ROOT / "tests"))
    from test_durable import RANDOM_RULES  # random rules over every reading field

    from kb.load import LoadedRule
    from kb.schema import Rule

    class Synthetic:
        kb_version = "synthetic"
        rules: dict = {}

    for rid, tree, scope in RANDOM_RULES[:60]:
        rule = Rule.model_validate({"id": rid, "version": 1, "status": "stable", "title": rid, "severity": "warning",
                                    "section": "x", "scope": scope.model_dump(), "when": "soc > 1", "message": "m",
                                    "remedy": ["r"], "citations": ["4"],
                                    "tests": [{"name": "a", "reading": {}, "fires": True},
                                              {"name": "b", "reading": {}, "fires": False}]})
        Synthetic.rules[rid] = LoadedRule(rule, tree, "synthetic", 1, "")
    return Synthetic()


def rules_only(root: Path):
    """content/rules/*.yaml alone, validated and parsed, in the shape check() reads."""
    from ruamel.yaml import YAML

    from kb.expr import parse
    from kb.load import LoadedRule
    from kb.schema import RuleFile

    class RulesKB:
        kb_version = "rules-only"
        rules: dict = {}

    for p in sorted((root / "rules").glob("*.yaml")):
        for r in RuleFile.model_validate(YAML(typ="safe", pure=True).load(p.read_text())).rules:
            RulesKB.rules[r.id] = LoadedRule(r, parse(r.when), str(p), 1, "")
    return RulesKB()


def timed(fn, items) -> list[float]:
    out = []
    for it in items:
        t = time.perf_counter()
        fn(it)
        out.append(time.perf_counter() - t)
    return out


def show(label: str, samples: list[float]) -> None:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, int(len(s) * 0.95))]
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    print(f"  {label:<44} median {statistics.median(s) * 1e3:7.3f} ms   p95 {p95 * 1e3:7.3f} ms   "
          f"p99 {p99 * 1e3:7.3f} ms")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--readings", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--kb", help="content root (default: the shipped content/)")
    ap.add_argument("--importtime", action="store_true", help="also list the slowest imports of the command")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # durable's own DeprecationWarning on every action

    from engine.check import check, durable_engine_for
    from engine.evaluate import rule_truth
    from engine.reading import Reading

    kb, what = load(args.kb)
    rng = random.Random(7)
    readings = [Reading.parse(random_reading(rng)) for _ in range(args.readings)]
    values = [r.values() for r in readings]
    t = time.perf_counter()
    eng = durable_engine_for(kb)
    compile_ms = (time.perf_counter() - t) * 1e3
    rules = list(kb.rules.values())
    print(f"In-process, {what}, {len(readings)} random readings:")
    if isinstance(eng, str):
        print(f"  durable-rules unavailable: {eng}")
    else:
        terms = [s.terms for s in eng.shards]
        print(f"  compiled in {compile_ms:.1f} ms: {len(eng.shards)} shards (terms per shard max {max(terms, default=0)}),"
              f" {len(eng.evaluator_only)} rules left to the evaluator")
        eng.fired(values[0])
        show("durable-rules: fired set", timed(eng.fired, values))

    def evaluator(v):
        return {lr.rule.id for lr in rules if rule_truth(lr.rule.scope, lr.tree, v) is True}

    show("evaluator: fired set", timed(evaluator, values))
    show("check() with durable-rules (full report)", timed(lambda r: check(r, kb=kb), readings))
    show("check() with the evaluator (full report)", timed(lambda r: check(r, kb=kb, engine="evaluator"), readings))
    fired = [len(check(r, kb=kb).findings) for r in readings[:500]]
    print(f"  findings per reading: mean {statistics.mean(fired):.1f}, max {max(fired)}")

    cmd = [sys.executable, "-m", "tui.cli", "check", str(FIXTURE), "--json"]
    if args.kb:
        cmd += ["--kb", args.kb]
    subprocess.run(cmd, cwd=ROOT, capture_output=True)  # warm the disk cache and the KB pickle
    walls = []
    for _ in range(args.runs):
        t = time.perf_counter()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True)
        walls.append(time.perf_counter() - t)
    base = []
    for _ in range(args.runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True)
        base.append(time.perf_counter() - t)
    status = "ok" if r.returncode == 0 else f"exit {r.returncode}: {r.stderr.decode().strip()[:120]}"
    print(f"Command `bmsdoc check {FIXTURE.name} --json` ({status}), {args.runs} runs:")
    print(f"  wall time from process start: median {statistics.median(walls):.3f} s, min {min(walls):.3f} s, "
          f"max {max(walls):.3f} s (bare python start: {statistics.median(base):.3f} s)")
    if args.importtime:
        r = subprocess.run([sys.executable, "-X", "importtime", *cmd[1:]], cwd=ROOT, capture_output=True, text=True)
        rows = []
        for line in r.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[1].strip().isdigit():
                rows.append((int(parts[1]), parts[2].rstrip()))
        print("  slowest imports (cumulative, ms):")
        for us, name in sorted(rows, reverse=True)[:12]:
            print(f"    {us / 1000:7.1f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
