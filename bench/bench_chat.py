"""Chat benchmark: accuracy on tests/data/chat_eval.yaml judged by content and by citation separately, the per-turn
p95 in process, and the whole-process time of `bmsdoc chat "q" --json`.

A judged turn is right by content when every `must` pattern is found in the answer (with its follow-up question) and
no `must_not` pattern is; right by citation when it cites one of `cite`. A case is right when all its judged turns are.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EVAL = ROOT / "tests/data/chat_eval.yaml"


def load_cases(path: Path = EVAL) -> list[dict]:
    from ruamel.yaml import YAML

    cases = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    for c in cases:
        if "turns" not in c:
            c["turns"] = [{k: c[k] for k in ("q", "must", "must_not", "cite") if k in c}]
    return cases


def judge(turn: dict, r: dict) -> tuple[bool | None, bool | None, list[str]]:
    """(content ok, citation ok, reasons) for one turn; None where the turn sets no such expectation."""
    text = r["answer"] + ("\n" + r["follow_up"] if r.get("follow_up") else "")
    why = []
    content = None
    if "must" in turn or "must_not" in turn:
        content = True
        for p in turn.get("must", []):
            if not re.search(p, text, re.I | re.M):
                content = False
                why.append(f"missing /{p}/")
        for p in turn.get("must_not", []):
            if re.search(p, text, re.I | re.M):
                content = False
                why.append(f"has /{p}/")
    cite = None
    if turn.get("cite"):  # an empty list: the handbook has nothing to cite (a "no figure" answer)
        cite = bool(set(r["citations"]) & {str(c) for c in turn["cite"]})
        if not cite:
            why.append(f"cites {r['citations']} not any of {turn['cite']}")
    return content, cite, why


def evaluate(cases: list[dict] | None = None, kb=None) -> dict:
    from drivers.paste import parse_to_reading
    from engine.chat import NOT_COVERED, Dialogue
    from kb.load import load_kb

    kb = kb or load_kb()
    cases = cases if cases is not None else load_cases()
    Dialogue(kb=kb).turn("warm up: what balance trigger on a jk")
    lat: list[float] = []
    by_content = by_cite = 0
    misses: list[str] = []
    grounded = True
    for c in cases:
        d = Dialogue(kb=kb, paste_parser=parse_to_reading)
        ok_c = ok_t = True
        reasons = []
        for t in c["turns"]:
            t0 = time.perf_counter()
            r = d.turn(t["q"])
            lat.append((time.perf_counter() - t0) * 1000)
            grounded = grounded and bool(r["citations"] or NOT_COVERED in r["answer"] or r["follow_up"])
            content, cite, why = judge(t, r)
            if content is False:
                ok_c = False
            if cite is False:
                ok_t = False
            if why:
                reasons.append(f"{t['q']!r}: {'; '.join(why)} -> {r['answer'][:160]!r}")
        by_content += ok_c
        by_cite += ok_t
        if not ok_c:
            misses.append(f"{c.get('id', c['turns'][0]['q'])}: " + " | ".join(reasons))
    lat.sort()
    p95 = lat[max(0, int(round(0.95 * len(lat))) - 1)]
    n = len(cases)
    return {"cases": n, "multi_turn": sum(len(c["turns"]) > 1 for c in cases), "content": by_content / n,
            "citation": by_cite / n, "p95_ms": p95, "misses": misses, "grounded": grounded}


def whole_process(question: str = "what balance trigger should i set on my jk", runs: int = 5,
                  cmd: list[str] | None = None) -> float:
    """Median wall time of `bmsdoc chat "q" --json` as a fresh process (the KB and index caches warm)."""
    cmd = cmd or [sys.executable, "-m", "tui", "chat", question, "--json"]
    subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)  # warm the disk caches
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


if __name__ == "__main__":
    res = evaluate()
    print(f"chat eval: {res['cases']} cases ({res['multi_turn']} multi-turn)")
    print(f"  accuracy by content:  {res['content']:.1%}")
    print(f"  accuracy by citation: {res['citation']:.1%}")
    print(f"  per-turn p95 in process: {res['p95_ms']:.2f} ms (goal < 20 ms)")
    if "--no-process" not in sys.argv:
        print(f"  `bmsdoc chat \"q\" --json` whole process (median of 5): {whole_process():.3f} s (goal < 0.5 s)")
        base = whole_process(cmd=[sys.executable, "-m", "tui", "--help"])
        print(f"  for scale, `bmsdoc --help` on this machine now: {base:.3f} s")
    for m in res["misses"]:
        print(f"  miss: {m}")
