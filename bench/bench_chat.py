"""Chat benchmark: accuracy on tests/data/chat_eval.yaml (the answer cites an expected footnote) and p95 latency."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def evaluate() -> tuple[float, float, list[str]]:
    from ruamel.yaml import YAML

    from engine.chat import NOT_COVERED, Dialogue
    from kb.load import load_kb

    kb = load_kb()
    items = YAML(typ="safe").load((ROOT / "tests/data/chat_eval.yaml").read_text(encoding="utf-8"))
    Dialogue(kb=kb).turn("warm up")
    hits, lat, misses = 0, [], []
    for it in items:
        d = Dialogue(kb=kb)
        t = time.perf_counter()
        r = d.turn(it["q"])
        lat.append((time.perf_counter() - t) * 1000)
        assert r["citations"] or NOT_COVERED in r["answer"], it["q"]
        if set(r["citations"]) & {str(x) for x in it["expect"]}:
            hits += 1
        else:
            misses.append(it["q"])
    lat.sort()
    p95 = lat[max(0, int(round(0.95 * len(lat))) - 1)]
    return hits / len(items), p95, misses


if __name__ == "__main__":
    acc, p95, misses = evaluate()
    print(f"chat accuracy: {acc:.1%} ({len(misses)} misses)   p95 latency: {p95:.2f} ms")
    for q in misses:
        print(f"  miss: {q}")
