"""Which worker owns which pack: rendezvous (highest random weight) hashing over the live workers of a group.

Every worker computes the same owner from the same set of live workers, so no coordination is needed. When a
worker dies, its last will (`bmsdoc/status` offline) makes the others re-announce within a second; the one that
does not is dropped (or after three missed announcements) and its packs move to the others. Only the dead
worker's packs move (about 1/N of them); the rest keep their owner.
"""

from __future__ import annotations

import hashlib


def weight(worker: str, pack: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{worker}\x00{pack}".encode(), digest_size=8).digest(), "big")


def owner(pack: str, workers: frozenset[str] | set[str]) -> str | None:
    if not workers:
        return None
    return max(workers, key=lambda w: (weight(w, pack), w))
