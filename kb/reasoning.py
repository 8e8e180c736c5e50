"""The knowledge the reasoning layer needs beyond rules, and the checks that keep rules honest.

- content/defaults.yaml: handbook defaults for settings nobody gave (used and shown as assumed).
- content/questions.yaml: how to ask for a missing fact and where a rider reads it.
- Every number in a rule's condition says whose it is (`basis: {handbook: [...], ours: [...]}`): the handbook's
  (the rule cites it) or our own judgement. A number without a basis is a validation error.
- `explains:` names the rules a root cause accounts for; every name must match a rule.
"""

from __future__ import annotations

import fnmatch

from kb.errors import Problem
from kb.expr import Arith, Lit, comparisons, known_field
from kb.fields import FIELDS
from kb.load import Collection, register_collection
from kb.schema import DefaultsFile, QuestionsFile
from kb.validate import register_check

register_collection(Collection("defaults", "defaults.yaml", DefaultsFile, required=False))
register_collection(Collection("questions", "questions.yaml", QuestionsFile, required=False))


def literals(tree) -> list[float]:
    """Every number a condition compares with (arithmetic included), in order, without repeats."""
    out: dict[float, None] = {}

    def walk(o) -> None:
        if isinstance(o, Lit):
            if isinstance(o.value, (int, float)) and not isinstance(o.value, bool):
                out[float(o.value)] = None
        elif isinstance(o, Arith):
            walk(o.left)
            walk(o.right)

    for c in comparisons(tree):
        if known_field(c.field) is None:
            walk(c.rhs)
    return list(out)


def _listed(v: float, basis) -> bool:
    if basis is None:
        return False
    return any(abs(abs(v) - abs(x)) < 1e-9 for x in [*basis.handbook, *basis.ours])


@register_check
def check_rules(kb, problems: list[Problem]) -> None:
    ids = list(kb.rules)
    for rid, lr in kb.rules.items():
        rule = lr.rule
        loc = kb.locations.get(f"rule:{rid}", (lr.doc, lr.line, 1))
        missing = [v for v in literals(lr.tree) if v != 0 and not _listed(v, rule.basis)]
        if missing:
            nums = ", ".join(f"{v:g}" for v in missing)
            problems.append(Problem(loc[0], loc[1], loc[2],
                                    f"rule '{rid}': the number(s) {nums} in its condition have no basis; list each "
                                    f"under basis: handbook (the rule cites it) or basis: ours (our judgement)"))
        if [v for v in literals(lr.tree) if v != 0] and not any(t.boundary for t in rule.tests):
            problems.append(Problem(loc[0], loc[1], loc[2],
                                    f"rule '{rid}' has thresholds but no test marked boundary: true (a reading on the "
                                    "edge of a threshold, so a change to it is noticed)"))
        for pattern in rule.explains:
            if not any(fnmatch.fnmatchcase(other, pattern) for other in ids if other != rid):
                problems.append(Problem(loc[0], loc[1], loc[2], f"rule '{rid}' explains '{pattern}', which names no rule"))


@register_check
def check_defaults(kb, problems: list[Problem]) -> None:
    defaults = []
    for doc in kb.docs.get("defaults", []):
        if doc.model is None:
            continue
        for i, d in enumerate(doc.model.defaults):
            spec = FIELDS.get(d.field)
            if spec is None or spec.group not in ("settings", "context"):
                problems.append(Problem(doc.path, *doc.pos(("defaults", i, "field"), True),
                                        f"'{d.field}' is not a setting a default can stand in for"))
                continue
            if d.basis == "handbook" and not d.citations:
                problems.append(Problem(doc.path, *doc.pos(("defaults", i)), "a handbook default needs citations"))
            defaults.append(d)
    kb.defaults = defaults


@register_check
def check_questions(kb, problems: list[Problem]) -> None:
    questions = {}
    for doc in kb.docs.get("questions", []):
        if doc.model is None:
            continue
        for i, q in enumerate(doc.model.questions):
            if q.field not in FIELDS or FIELDS[q.field].derived:
                problems.append(Problem(doc.path, *doc.pos(("questions", i, "field"), True),
                                        f"'{q.field}' is not a field a rider can give"))
                continue
            if q.field in questions:
                problems.append(Problem(doc.path, *doc.pos(("questions", i, "field"), True),
                                        f"a second question for '{q.field}'"))
            questions[q.field] = q
    kb.questions = questions


def explained(kb, root_id: str, other_id: str) -> bool:
    return any(fnmatch.fnmatchcase(other_id, p) for p in kb.rules[root_id].rule.explains)
