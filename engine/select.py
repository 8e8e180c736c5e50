"""The selection advisor: rank the five BMS families for a pack's needs.

All knowledge (ratings, series limits, traits, criteria, weights, thresholds) comes from content/: family cards
give the facts, content/selection.yaml the criteria. This module only evaluates criteria (with the same
three-valued evaluator the rules use: a criterion about a need the user did not give does not apply) and sums.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kb.errors import UserError
from kb.fields import KNOWN_PREFIX
from kb.selection import BUDGETS, FAMILY_FACTS, INTEGRATIONS, NEEDS, SPACES, UPTIMES, family_facts

VERDICT_ORDER = {"recommended": 0, "acceptable": 1, "avoid": 2}


@dataclass(frozen=True)
class Needs:
    series: int
    continuous: float
    peak: float | None = None
    regen: float | None = None
    space: str | None = None
    uptime: str | None = None
    budget: str | None = None
    full_protection: bool | None = None
    integration: str | None = None

    def __post_init__(self) -> None:
        for name in ("series", "continuous", "peak", "regen"):
            v = getattr(self, name)
            if v is None:
                continue
            lo, hi = NEEDS[name].bounds or (0, float("inf"))
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or not lo <= v <= hi:
                raise UserError(f"{name} must be a number from {lo:g} to {hi:g}, not {v!r}")
        if self.peak is not None and self.peak < self.continuous:
            raise UserError(f"peak current ({self.peak:g} A) is below the continuous current ({self.continuous:g} A)")
        for name, allowed in (("space", SPACES), ("uptime", UPTIMES), ("budget", BUDGETS), ("integration", INTEGRATIONS)):
            v = getattr(self, name)
            if v is not None and v not in allowed:
                raise UserError(f"{name} must be one of {', '.join(allowed)}, not {v!r}")

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Point:
    text: str
    citations: list[str]
    criterion: str
    points: int = 0


@dataclass
class Ranked:
    family: str
    name: str
    verdict: str
    score: int
    reasons: list[Point] = field(default_factory=list)
    pitfalls: list[Point] = field(default_factory=list)
    otherwise: list[Point] = field(default_factory=list)  # strengths of a family the verdict rules out

    @property
    def citations(self) -> list[str]:
        seen: dict[str, None] = {}
        for p in self.reasons + self.pitfalls:
            for c in p.citations:
                seen.setdefault(c, None)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family, "name": self.name, "verdict": self.verdict, "score": self.score,
            "reasons": [{"text": p.text, "citations": p.citations} for p in self.reasons],
            "pitfalls": [{"text": p.text, "citations": p.citations} for p in self.pitfalls],
            "citations": self.citations,
        }


@dataclass
class Selection:
    kb_version: str
    needs: dict[str, Any]
    ranking: list[Ranked]

    def to_json(self) -> dict[str, Any]:
        return {"kb_version": self.kb_version, "needs": self.needs, "ranking": [r.to_json() for r in self.ranking]}


def select(needs: Needs, kb=None) -> Selection:
    from engine.evaluate import render_template, truth
    from kb.load import load_kb

    kb = kb or load_kb()
    spec = kb.selection
    trees = kb.selection_trees
    if spec is None:
        raise UserError("the knowledge base has no selection criteria (content/selection.yaml)")
    ranking = []
    all_traits = {t for f in kb.families.values() for t in f.traits}
    for fid, card in kb.families.items():
        values = needs.values()
        values.update(family_facts(card))
        for t in all_traits:  # every trait is known true or false, so "not has_x" criteria can apply
            values["has_" + t.replace("-", "_")] = t in card.traits
        for name in (*NEEDS, *FAMILY_FACTS):  # known(continuous) in a criterion: did the user give it?
            values[KNOWN_PREFIX + name] = values.get(name) is not None
        r = Ranked(fid, card.name, "acceptable", spec.base_score)
        avoid = False
        for c in spec.criteria:
            if truth(trees[c.id], values) is not True:  # truth(): the same answer without an explanation, 4x faster
                continue
            cites = list(c.citations) + _family_citations(card, c.cite_family)
            p = Point(render_template(c.text, values), list(dict.fromkeys(cites)), c.id, c.points)
            (r.pitfalls if c.kind == "pitfall" else r.reasons).append(p)
            r.score += c.points
            avoid = avoid or c.effect == "avoid"
        th = spec.thresholds
        r.verdict = "avoid" if avoid or r.score < th.acceptable else ("recommended" if r.score >= th.recommended else "acceptable")
        if r.verdict == "avoid":  # the reasons shown must agree with the verdict: strengths stay out of an "avoid"
            r.otherwise, r.reasons = r.reasons, []
        ranking.append(r)
    ranking.sort(key=lambda r: (VERDICT_ORDER[r.verdict], -r.score, r.family))
    return Selection(kb.kb_version, needs.values(), ranking)


def _family_citations(card, part: str | None) -> list[str]:
    if part is None:
        return []
    if part == "all":
        return list(card.citations)
    return list(getattr(card, part).citations)
