"""A small BM25 index over the knowledge base, for the handbook's search box. No widgets here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tui.widgets.kbtext import tokens


@dataclass(frozen=True)
class Hit:
    kind: str  # guide | family | rule | source | flow
    title: str
    target: str  # "section:ID" or "cite:LABEL"
    anchor: str  # heading to scroll to inside the section ("" = top)
    snippet: str


class HandbookIndex:
    def __init__(self, kb: Any):
        self.docs: list[Hit] = []
        texts: list[list[str]] = []

        def add(hit: Hit, text: str) -> None:
            self.docs.append(hit)
            texts.append(tokens(hit.title + " " + hit.title + " " + text))

        fam_section = family_section(kb)
        for sid, g in kb.guide_sections.items():
            for e in g.entries:
                add(Hit("guide", e.title, f"section:{sid}", e.title, e.summary), " ".join([e.summary, *e.steps, *e.families]))
        for f in kb.families.values():
            text = " ".join([f.summary, *f.aliases, *f.traits, *(s.text for s in f.strengths),
                             *(p.text + " " + p.mitigation for p in f.pitfalls), *(s.text for s in f.failure_modes)])
            add(Hit("family", f.name, f"section:{fam_section}", f.name, f.summary), text + " " + f.id)
        for lr in kb.rules.values():
            r = lr.rule
            add(Hit("rule", r.title, f"section:{r.section}", "Checks on a reading", r.message),
                " ".join([r.message, *r.remedy, r.when.replace("_", " ")]))
        for label, s in kb.sources.items():
            add(Hit("source", f"[^{label}]", f"cite:{label}", "", s.summary), s.summary + " " + label)
        self._bm25 = None
        if texts:
            from rank_bm25 import BM25Okapi

            self._bm25 = BM25Okapi(texts)
        self._texts = texts

    def search(self, query: str, limit: int = 30) -> list[Hit]:
        q = tokens(query)
        if not q or self._bm25 is None:
            return []
        scores = self._bm25.get_scores(q)
        # BM25 gives 0 to words present in every document; also keep plain substring matches
        ql = query.lower().strip()
        ranked = []
        for i, sc in enumerate(scores):
            sub = any(t in self._texts[i] for t in q) or ql in self.docs[i].title.lower()
            if sc > 0 or sub:
                ranked.append((-(sc + (0.5 if sub else 0)), i))
        ranked.sort()
        return [self.docs[i] for _, i in ranked[:limit]]


def family_section(kb: Any) -> str:
    ids = [s.id for s in kb.manifest.sections]
    for cand in ("families", "selection", "matrix"):
        if cand in ids:
            return cand
    for s in kb.manifest.sections:
        if "selection" in s.heading.lower() or "famil" in s.title.lower():
            return s.id
    return ids[0] if ids else "selection"
