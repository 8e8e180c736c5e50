"""The chat's last resort: BM25 retrieval over the KB's items (rules, family notes, guides, sources, flow conclusions),
with the synonym lexicon (content/lexicon.yaml) and typo correction.

The index is plain data (documents and their token lists) built once per KB version and kept on disk as JSON in the
user cache directory beside the KB cache (never a pickle); scoring is Okapi BM25 in plain Python, which on a few
hundred short documents is faster than importing numpy for rank_bm25.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.text import tokens

MIN_SCORE = 2.5  # a best score below this is not an answer
INDEX_FORMAT = 2  # bump when what is indexed changes (the cache file name carries it)
_INDEXES: dict[str, tuple[Any, Index]] = {}


@dataclass
class Passage:
    kind: str  # rule | family | guide | source | flow
    ref: str
    title: str
    text: str
    citations: list[str]
    show: str = ""  # what an answer quotes


def _docs(kb) -> list[Passage]:
    """Unconditional notes only (family cards, guides, source notes). A rule's remedy or a flow's conclusion holds
    under its condition (a chemistry, a reading), so quoted out of context it could give LiFePO4 advice to a Li-ion
    pack; those are reached through check and the flows instead."""
    out: list[Passage] = []
    for f in kb.families.values():
        names = " ".join([f.name, *f.aliases])
        out.append(Passage("family", f.id, f.name, names + " " + f.summary, list(f.citations[:3]), f.summary))
        for s in f.strengths:
            out.append(Passage("family", f.id, f.name, names + " " + s.text, list(s.citations), s.text))
        for p in f.pitfalls:
            out.append(Passage("family", f.id, f.name, f"{names} {p.text} {p.mitigation}", list(p.citations),
                           f"{p.mitigation} ({p.text})"))
    for g in kb.guides.values():
        out.append(Passage("guide", g.id, g.title, " ".join([g.title, g.summary, *g.steps]), list(g.citations),
                       g.summary + " " + " ".join(g.steps)))
    for label, s in kb.sources.items():
        out.append(Passage("source", label, "", s.summary, [label], s.summary))
    return out


def _lexicon(root: Path) -> dict[str, list[str]]:
    from ruamel.yaml import YAML

    path = Path(root) / "lexicon.yaml"
    if not path.exists():
        return {}
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    lex: dict[str, set[str]] = {}
    for k, vs in data.items():
        for key in tokens(str(k)):
            lex.setdefault(key, set()).update(t for v in vs or [] for t in tokens(str(v)))
    return {k: sorted(v) for k, v in lex.items()}


def _cache_path(root: Path) -> Path | None:
    from engine.chatdata import cache_file

    return cache_file(Path(root), f"index-{INDEX_FORMAT}")


class Index:
    K1, B = 1.5, 0.75

    def __init__(self, docs: list[Passage], corpus: list[list[str]], lex: dict[str, list[str]]) -> None:
        self.docs, self.corpus, self.lex = docs, corpus, lex
        self.vocab = sorted({t for d in corpus for t in d})
        self._vocab = set(self.vocab)
        n = len(corpus)
        df: dict[str, int] = {}
        for d in corpus:
            for t in set(d):
                df[t] = df.get(t, 0) + 1
        self.idf = {t: math.log((n - c + 0.5) / (c + 0.5) + 1) for t, c in df.items()}
        self.avg = sum(len(d) for d in corpus) / max(1, n)
        self.tf: list[dict[str, int]] = [{} for _ in corpus]
        for i, d in enumerate(corpus):
            for t in d:
                self.tf[i][t] = self.tf[i].get(t, 0) + 1
        self._fix: dict[str, str | None] = {}

    @classmethod
    def build(cls, kb) -> Index:
        docs = _docs(kb)
        return cls(docs, [tokens(d.title + " " + d.text) for d in docs], _lexicon(kb.root))

    def to_json(self) -> dict[str, Any]:
        return {"docs": [asdict(d) for d in self.docs], "corpus": self.corpus, "lex": self.lex}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Index:
        return cls([Passage(**d) for d in data["docs"]], data["corpus"], data["lex"])

    def _correct(self, t: str) -> str | None:
        if t in self._vocab or t in self.lex:
            return t
        if t not in self._fix:
            hit = None
            if len(t) >= 6:
                from rapidfuzz import fuzz, process

                m = process.extractOne(t, self.vocab, scorer=fuzz.ratio, score_cutoff=80)
                hit = m[0] if m else None
            self._fix[t] = hit
        return self._fix[t]

    def search(self, text: str, k: int = 3) -> list[tuple[float, Passage]]:
        ts = tokens(text[:4000])
        if not ts:
            return []
        fixed = [self._correct(t) for t in ts]
        if sum(f is not None for f in fixed) / len(ts) < 0.5:
            return []
        q: list[str] = []
        for c in fixed:
            if c is None:
                continue
            q.append(c)
            q.extend(s for s in self.lex.get(c, ()) if s in self._vocab)
        scores = []
        for i, tf in enumerate(self.tf):
            dl = len(self.corpus[i])
            s = 0.0
            for t in q:
                f = tf.get(t)
                if f:
                    s += self.idf[t] * f * (self.K1 + 1) / (f + self.K1 * (1 - self.B + self.B * dl / self.avg))
            scores.append(s)
        best = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [(scores[i], self.docs[i]) for i in best if scores[i] >= MIN_SCORE]


def index_for(root: Path, get_kb) -> Index:
    """The index for the content at `root`: from memory, from the JSON cache, or built from get_kb() and cached."""
    key = str(root)
    hit = _INDEXES.get(key)
    if hit is not None:
        return hit[1]
    path = _cache_path(Path(root))
    idx = None
    if path is not None and path.exists():
        try:
            idx = Index.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError, OSError):  # a stale or broken cache is rebuilt, never trusted
            idx = None
    if idx is None:
        idx = Index.build(get_kb())
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(idx.to_json()), encoding="utf-8")
                os.replace(tmp, path)
            except OSError:
                pass
    _INDEXES[key] = (None, idx)
    return idx
