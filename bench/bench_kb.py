"""Loading and validating the whole knowledge base (goal: well under 0.5 s), and the cached load `check` uses."""

import statistics
import time

from kb.load import load_kb


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    t0 = time.perf_counter()
    kb = load_kb(use_cache=False)  # first time pays for imports (ruamel, pydantic models)
    first = time.perf_counter() - t0
    runs = timed(lambda: load_kb(use_cache=False), 5)
    counts = f"{len(kb.rules)} rules, {len(kb.flows)} flows, {len(kb.guides)} guide entries"
    print(f"knowledge base {kb.kb_version}: {counts}")
    print(f"load + validate, first in process (with imports): {first * 1000:.0f} ms")
    print(f"load + validate, warm: median {statistics.median(runs) * 1000:.0f} ms, max {max(runs) * 1000:.0f} ms"
          f"  (goal < 500 ms)")
    load_kb()  # fill the disk cache
    from kb import load as load_mod

    def cached():
        load_mod._load_cached.cache_clear()
        load_kb()

    c = timed(cached, 5)
    print(f"load from the disk cache (what `bmsdoc check` pays): median {statistics.median(c) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
