"""What the chat needs to answer most turns, as plain data: the answer cards, the family facts (names, series, ratings,
pitfalls, summaries) and the family aliases. Built once from the validated KB and kept on disk as JSON in the user
cache directory (never a pickle), keyed by the content files' names, sizes and modification times, so a fresh
`bmsdoc chat "q"` answers a card question without importing the KB's pydantic models; the full KB is loaded only
for the advisor, the diagnosis flows and `check`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 4  # bump when the snapshot's shape changes


@dataclass
class Variant:
    text: str
    when: str | None = None
    citations: list[str] = field(default_factory=list)


@dataclass
class Card:
    id: str
    topic: str
    answers: list[Variant]
    citations: list[str]
    intents: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    all_families: bool = False
    need: list[str] = field(default_factory=list)
    any: list[str] = field(default_factory=list)
    none: list[str] = field(default_factory=list)
    only_if: str | None = None
    weight: float = 0
    why: str = ""
    ask: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Card:
        d = dict(d)
        d["answers"] = [Variant(**{k: v for k, v in a.items() if k in ("text", "when", "citations")}) for a in d["answers"]]
        d.pop("numbers", None)
        ask = d.get("ask") or []
        d["ask"] = [ask] if isinstance(ask, dict) else list(ask)  # one ask or several
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _ns(v: Any) -> Any:
    if isinstance(v, dict):
        from types import SimpleNamespace

        return SimpleNamespace(**{k: _ns(x) for k, x in v.items()})
    if isinstance(v, list):
        return [_ns(x) for x in v]
    return v


@dataclass
class ChatData:
    cards: dict[str, Card]
    families: dict[str, dict[str, Any]]

    def __post_init__(self) -> None:
        self.family = {fid: _ns(d) for fid, d in self.families.items()}  # attribute access, like the family cards

    @classmethod
    def from_kb(cls, kb) -> ChatData:
        cards = {cid: Card.from_dict(c.model_dump()) for cid, c in (getattr(kb, "answers", None) or {}).items()}
        fams = {}
        for fid, f in kb.families.items():
            d = f.model_dump()
            fams[fid] = {k: d.get(k) for k in ("id", "name", "aliases", "summary", "citations", "series", "rating", "pitfalls",
                                                "strengths", "balancing", "footprint")}
        return cls(cards, fams)

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"format": FORMAT, "cards": [asdict(c) for c in self.cards.values()], "families": self.families}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatData:
        if data.get("format") != FORMAT:
            raise ValueError("old chat data format")
        return cls({c["id"]: Card.from_dict(c) for c in data["cards"]}, data["families"])


def default_root() -> Path:
    return Path(__file__).resolve().parents[1] / "content"


def stamp(root: Path) -> str:
    h = hashlib.sha1(f"{FORMAT}|{root}".encode())
    for dirpath, dirnames, files in os.walk(root):
        dirnames.sort()
        for name in sorted(files):
            if name.endswith((".yaml", ".yml")):
                st = os.stat(os.path.join(dirpath, name))
                h.update(f"{os.path.relpath(os.path.join(dirpath, name), root)}:{st.st_size}:{st.st_mtime_ns}|".encode())
    return h.hexdigest()[:20]


def cache_file(root: Path, kind: str) -> Path | None:
    """The JSON cache file of one kind of chat data for this content root (None when caching is off)."""
    if os.environ.get("BMSDOC_NO_CACHE"):
        return None
    try:
        from platformdirs import user_cache_path
    except ImportError:
        return None
    return user_cache_path("bmsdoc") / f"chat-{kind}-{stamp(root)}.json"


def _cache_file(root: Path) -> Path | None:
    return cache_file(root, "data")


def cached(root: Path | None = None) -> ChatData | None:
    """The snapshot for the content as it is on disk now, or None when there is none yet."""
    path = _cache_file(Path(root or default_root()))
    if path is None or not path.exists():
        return None
    try:
        return ChatData.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, OSError):  # stale or damaged: rebuilt from the KB, never trusted
        return None


def save(data: ChatData, root: Path) -> None:
    path = _cache_file(Path(root))
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data.to_json()), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
