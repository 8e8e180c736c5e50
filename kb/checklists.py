"""Checklists (content/checklists/*.yaml): the commissioning guardrails as ordered, checkable steps.

A step points at a guide entry (its text and citations) and may carry automatic checks (conditions over a live
or pasted reading) and a measurement the technician enters (e.g. balance-tap voltages from B-).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kb.errors import Problem
from kb.expr import ExprError, parse
from kb.load import Collection, register_collection
from kb.schema import Basis, Citations, Strict
from kb.validate import expr_position, register_check


class AutoCheck(Strict):
    text: str  # what passing means, e.g. "Both FET banks report enabled"
    when: str  # condition over reading fields; true = pass
    basis: Basis | None = None  # whose each number in `when` is


class TapMeasure(Strict):
    kind: Literal["taps"]
    prompt: str
    step_min: float  # each tap must rise by at least this much over the previous one (V)
    step_max: float
    citations: Citations = Field(min_length=1)
    basis: Basis | None = None  # whose step_min and step_max are


class ChecklistStep(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    guide: str  # guide entry id
    checks: list[AutoCheck] = Field(default_factory=list)
    measure: TapMeasure | None = None
    citations: Citations = Field(default_factory=list)  # beyond the guide entry's own


class Checklist(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: int = Field(ge=1)
    title: str
    intro: str
    steps: list[ChecklistStep] = Field(min_length=1)


register_collection(Collection("checklists", "checklists/*.yaml", Checklist))


@register_check
def _check_checklists(kb, problems: list[Problem]) -> None:
    lists, trees = {}, {}
    for doc in kb.docs.get("checklists", []):
        c = doc.model
        if c is None:
            continue
        if c.id in lists:
            problems.append(Problem(doc.path, *doc.pos(("id",), True), f"duplicate checklist id '{c.id}'"))
        lists[c.id] = c
        seen: set[str] = set()
        for i, s in enumerate(c.steps):
            if s.id in seen:
                problems.append(Problem(doc.path, *doc.pos(("steps", i, "id"), True), f"duplicate step id '{s.id}'"))
            seen.add(s.id)
            if s.guide not in kb.guides:
                problems.append(Problem(doc.path, *doc.pos(("steps", i, "guide"), True), f"unknown guide entry '{s.guide}'"))
            for j, chk in enumerate(s.checks):
                try:
                    trees[(c.id, s.id, j)] = parse(chk.when)
                except ExprError as e:
                    loc = ("steps", i, "checks", j, "when")
                    problems.append(Problem(doc.path, *expr_position(doc, loc, e.line, e.col), f"condition: {e.message}"))
                else:
                    from kb.reasoning import literals

                    _basis(doc, ("steps", i, "checks", j), literals(trees[(c.id, s.id, j)]), chk.basis, problems)
            if s.measure:
                _basis(doc, ("steps", i, "measure"), [s.measure.step_min, s.measure.step_max], s.measure.basis, problems)
            if s.measure and not 0 < s.measure.step_min < s.measure.step_max:
                problems.append(Problem(doc.path, *doc.pos(("steps", i, "measure")), "step_min must be above 0 and below step_max"))
    kb.checklists = lists
    kb.checklist_trees = trees
    kb.counts["checklist_steps"] = sum(len(c.steps) for c in lists.values())
    items = []
    for c in lists.values():
        for s in c.steps:
            g = kb.guides.get(s.guide)
            cites = list(s.citations) + (list(g.citations) if g else []) + (list(s.measure.citations) if s.measure else [])
            items.append({"kind": "checklist", "id": f"{c.id}.{s.id}", "section": "commissioning", "citations": cites})
        kb.diff_items[f"checklist:{c.id}"] = c
    kb.coverage_items["checklists"] = items


def _basis(doc, loc: tuple, nums, basis, problems: list[Problem]) -> None:
    listed = [*basis.handbook, *basis.ours] if basis else []
    missing = sorted({v for v in nums if v != 0 and not any(abs(abs(v) - abs(x)) < 1e-9 for x in listed)})
    if missing:
        problems.append(Problem(doc.path, *doc.pos(loc), f"the number(s) {', '.join(f'{v:g}' for v in missing)} "
                                                         "have no basis (basis: handbook or basis: ours)"))
