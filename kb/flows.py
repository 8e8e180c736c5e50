"""Diagnosis flows (content/flows/*.yaml): a symptom walked step by step to a cited conclusion.

A flow is a graph of steps, checked here before anything runs it:
  check    a yes/no condition over reading fields; the reading answers it when it holds the data, else the rider
           is asked `question` (a yes/no question that means the same thing)
  ask      a typed question: `type: choice` (listed options), `yesno`, or `number` (unit, min, max, branches)
  measure  an instruction plus a measured number (unit, min, max, branches on thresholds)
  conclude the finding: title, severity, explanation, remedy steps, citations, related rule and guide ids
An `ask`/`measure` step may name a reading `field`: then the reading answers it when it has that field, and an
answer given by the rider feeds later `check` steps. Flows must be acyclic, every step reachable from `entry`,
every non-conclude step must lead on, and each conclusion must be reached by one of the flow's inline `tests`
(answer scripts). The runner lives in engine/flows.py; this module only knows the shape and the typing of answers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from kb.errors import Problem
from kb.expr import ExprError, fields_of, parse
from kb.fields import FIELDS
from kb.load import Collection, register_collection
from kb.schema import Basis, Citations, Family, Severity, Strict
from kb.validate import expr_position, register_check

_ID = r"^[a-z0-9][a-z0-9._-]*$"
KINDS = ("check", "ask", "measure", "conclude")
YES_WORDS = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}


class Option(Strict):
    value: str = Field(pattern=_ID)
    label: str = Field(min_length=1)
    next: str


class Branch(Strict):
    """A range of a measured number: at_least <= value < below (either bound may be left out)."""

    at_least: float | None = None
    below: float | None = None
    next: str

    def matches(self, v: float) -> bool:
        return (self.at_least is None or v >= self.at_least) and (self.below is None or v < self.below)

    def label(self, unit: str = "") -> str:
        u = f" {unit}" if unit else ""
        if self.at_least is None and self.below is None:
            return "any value"
        if self.at_least is None:
            return f"below {self.below:g}{u}"
        if self.below is None:
            return f"{self.at_least:g}{u} or more"
        return f"{self.at_least:g} to {self.below:g}{u}"


class Step(Strict):
    """One node. Which keys apply depends on `kind` (checked in _check_step, with positions)."""

    id: str = Field(pattern=_ID)
    kind: Literal["check", "ask", "measure", "conclude"]
    # questions
    question: str | None = None
    help: str | None = None  # how to find the answer out
    why: str | None = None  # why the answer matters (shown by "why?")
    when: str | None = None  # check: the condition
    type: Literal["choice", "yesno", "number"] | None = None  # ask
    instruction: str | None = None  # measure: what to do before reading the value
    field: str | None = None  # ask/measure: the reading field this answers
    options: list[Option] | None = None
    yes: str | None = None
    no: str | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    branches: list[Branch] | None = None
    # conclusions
    title: str | None = None
    severity: Severity | None = None
    text: str | None = None
    remedy: list[str] | None = None
    rules: list[str] = Field(default_factory=list)
    guides: list[str] = Field(default_factory=list)
    citations: Citations = Field(default_factory=list)
    # whose each threshold is (the numbers in `when` and the branch bounds): the handbook's or ours
    basis: Basis | None = None

    @property
    def answer_type(self) -> str:
        """yesno | choice | number | none (conclusions)."""
        if self.kind == "check":
            return "yesno"
        if self.kind == "measure":
            return "number"
        if self.kind == "ask":
            return self.type or "yesno"
        return "none"


class FlowTest(Strict):
    name: str = Field(min_length=1)
    reading: dict[str, Any] = Field(default_factory=dict)
    answers: dict[str, Any] = Field(default_factory=dict)
    expect: str  # conclusion step id
    path: list[str] = Field(min_length=1)  # step ids from entry to the conclusion, both included


class Flow(Strict):
    id: str = Field(pattern=_ID)
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    section: str  # handbook section id (for coverage)
    symptoms: list[str] = Field(min_length=1)  # phrases riders use; matched against free text
    families: list[Family] = Field(default_factory=list)  # families it is mostly about; empty = any
    rules: list[str] = Field(default_factory=list)  # rule ids whose findings this flow explains (front ends start it from them)
    entry: str
    steps: list[Step] = Field(min_length=2)
    tests: list[FlowTest] = Field(min_length=1)

    def step(self, sid: str) -> Step | None:
        return next((s for s in self.steps if s.id == sid), None)

    def index(self) -> dict[str, Step]:
        return {s.id: s for s in self.steps}

    def conclusions(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "conclude"]

    @property
    def citations(self) -> list[str]:
        """Every footnote the flow cites, in order of first use."""
        return list(dict.fromkeys(c for s in self.steps for c in s.citations))


# ---------------------------------------------------------------- graph helpers (shared with the runner)


def exits(step: Step) -> list[tuple[str, tuple, str]]:
    """(answer label, key path inside the step, next step id) for every way on from a step."""
    t = step.answer_type
    if t == "yesno":
        return [(lbl, (lbl,), nxt) for lbl, nxt in (("yes", step.yes), ("no", step.no)) if nxt is not None]
    if t == "choice":
        return [(o.value, ("options", j, "next"), o.next) for j, o in enumerate(step.options or [])]
    if t == "number":
        return [(b.label(step.unit or ""), ("branches", j, "next"), b.next) for j, b in enumerate(step.branches or [])]
    return []


def route(step: Step, value: Any) -> str | None:
    """The next step id for a typed answer (None when no branch takes it)."""
    t = step.answer_type
    if t == "yesno":
        return step.yes if value else step.no
    if t == "choice":
        return next((o.next for o in step.options or [] if o.value == value), None)
    if t == "number":
        return next((b.next for b in step.branches or [] if b.matches(value)), None)
    return None


def reachable(flow: Flow, start: str) -> list[str]:
    """Step ids reachable from `start` (itself included), depth first in listing order."""
    idx = flow.index()
    seen: dict[str, None] = {}
    stack = [start]
    while stack:
        sid = stack.pop()
        if sid in seen or sid not in idx:
            continue
        seen[sid] = None
        stack.extend(reversed([n for _, _, n in exits(idx[sid])]))
    return list(seen)


def allowed_answers(step: Step) -> str:
    t = step.answer_type
    if t == "yesno":
        return "yes or no"
    if t == "choice":
        return ", ".join(o.value for o in step.options or [])
    if t == "number":
        return f"a number from {step.min:g} to {step.max:g}" + (f" {step.unit}" if step.unit else "")
    return "nothing (this is a conclusion)"


_NUM = re.compile(r"^\s*([-+]?\d+(?:[.,]\d+)?)\s*([^\d\s].*)?$")


def _shown(value: Any) -> str:
    from kb.untrusted import shown

    return shown(value, 60)


def coerce_answer(step: Step, value: Any) -> Any:
    """The typed answer (bool, option value or float) for what a user or a script gave; ValueError if it is not one."""
    t = step.answer_type
    if not isinstance(value, (str, bool, int, float)):  # the type is checked before the value is put in a message
        raise ValueError(f"a {type(value).__name__} is not an answer to '{step.id}': give {allowed_answers(step)}")
    if isinstance(value, str) and len(value) > 200:
        raise ValueError(f"an answer of {len(value):,} characters is not an answer to '{step.id}': "
                         f"give {allowed_answers(step)}")
    bad = f"'{_shown(value)}' is not an answer to '{step.id}': give {allowed_answers(step)}"
    if t == "yesno":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in YES_WORDS:
            return YES_WORDS[value.strip().lower()]
        raise ValueError(bad)
    if t == "choice":
        if isinstance(value, str):
            w = value.strip().lower()
            for o in step.options or []:
                if w in (o.value.lower(), o.label.strip().lower()):
                    return o.value
        raise ValueError(bad)
    if t == "number":
        if isinstance(value, bool):
            raise ValueError(bad)
        if isinstance(value, (int, float)):
            try:
                v = float(value)
            except OverflowError:  # an integer of hundreds of digits
                raise ValueError(bad) from None
        elif isinstance(value, str):
            m = _NUM.match(value)
            unit = (m.group(2) or "").strip().lower() if m else ""
            if not m or (unit and unit != (step.unit or "").lower()):
                raise ValueError(bad)
            v = float(m.group(1).replace(",", "."))
        else:
            raise ValueError(bad)
        if not math.isfinite(v) or not (step.min <= v <= step.max):
            raise ValueError(bad)
        return v
    raise ValueError(f"'{step.id}' is a conclusion; it takes no answer")


def show_answer(step: Step, value: Any) -> str:
    t = step.answer_type
    if t == "yesno":
        return "yes" if value else "no"
    if t == "choice":
        return next((o.label for o in step.options or [] if o.value == value), str(value))
    if t == "number":
        return f"{value:g} {step.unit}".rstrip()
    return str(value)


register_collection(Collection("flows", "flows/*.yaml", Flow, required=False))  # small test KBs may have none


# ---------------------------------------------------------------- validation

_COMMON = {"id", "kind", "citations", "basis"}
_ALLOWED = {
    "check": _COMMON | {"question", "help", "why", "when", "yes", "no"},
    "ask": _COMMON | {"question", "help", "why", "type", "field", "options", "yes", "no", "unit", "min", "max", "branches"},
    "measure": _COMMON | {"question", "help", "why", "instruction", "field", "unit", "min", "max", "branches"},
    "conclude": _COMMON | {"title", "severity", "text", "remedy", "rules", "guides"},
}
_REQUIRED = {
    "check": ["question", "when", "yes", "no"],
    "ask": ["question", "type"],
    "measure": ["instruction", "question", "unit", "min", "max", "branches"],
    "conclude": ["title", "severity", "text", "remedy", "citations"],
}
_BY_TYPE = {  # ask steps: keys each answer type needs / may not have
    "choice": (["options"], {"yes", "no", "unit", "min", "max", "branches"}),
    "yesno": (["yes", "no"], {"options", "unit", "min", "max", "branches"}),
    "number": (["unit", "min", "max", "branches"], {"options", "yes", "no"}),
}
_FIELD_KIND = {"yesno": ("bool",), "choice": ("enum",), "number": ("number", "int")}


class _Reporter:
    def __init__(self, doc, problems: list[Problem]):
        self.doc, self.problems = doc, problems

    def at(self, loc: tuple, message: str, value: bool = True) -> None:
        self.problems.append(Problem(self.doc.path, *self.doc.pos(loc, value), message))


@register_check
def _check_flows(kb, problems: list[Problem]) -> None:
    flows: dict[str, Flow] = {}
    trees: dict[tuple[str, str], Any] = {}
    section_ids = {s.id for s in kb.manifest.sections}
    for doc in kb.docs.get("flows", []):
        f = doc.model
        if f is None:
            continue
        rep = _Reporter(doc, problems)
        if f.id in flows:
            rep.at(("id",), f"duplicate flow id '{f.id}'")
        flows[f.id] = f
        kb.locations[f"flow:{f.id}"] = (doc.path, 1, 1)
        if f.section not in section_ids:
            rep.at(("section",), f"unknown section '{f.section}' (known: {', '.join(sorted(section_ids))})")
        for j, rid in enumerate(f.rules):
            if rid not in kb.rules:
                rep.at(("rules", j), f"unknown rule id '{rid}'" + _close(rid, kb.rules))
        _check_graph(kb, f, rep, trees)
        _check_tests(f, rep)
    kb.flows = flows
    kb.flow_trees = trees
    kb.counts["flows"] = len(flows)
    kb.counts["flow_conclusions"] = sum(len(f.conclusions()) for f in flows.values())
    kb.coverage_items["flows"] = [
        {"kind": "flow", "id": f.id, "section": f.section, "citations": sorted(f.citations)} for f in flows.values()]
    for f in flows.values():
        kb.diff_items[f"flow:{f.id}"] = f


def _close(name: str, known) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_graph(kb, f: Flow, rep: _Reporter, trees: dict) -> None:
    idx: dict[str, int] = {}
    for i, s in enumerate(f.steps):
        if s.id in idx:
            rep.at(("steps", i, "id"), f"duplicate step id '{s.id}'")
        else:
            idx[s.id] = i
    if f.entry not in idx:
        rep.at(("entry",), f"entry '{f.entry}' is not a step of this flow" + _close(f.entry, idx))
    for i, s in enumerate(f.steps):
        _check_step(kb, f, i, s, rep, trees)
        for label, sub, nxt in exits(s):
            if nxt not in idx:
                rep.at(("steps", i) + sub, f"step '{s.id}' ({label}) leads to unknown step '{nxt}'" + _close(nxt, idx))
            elif nxt == s.id:
                rep.at(("steps", i) + sub, f"step '{s.id}' leads to itself")
    if f.entry in idx:
        seen = set(reachable(f, f.entry))
        for i, s in enumerate(f.steps):
            if s.id not in seen and idx.get(s.id) == i:
                rep.at(("steps", i, "id"), f"step '{s.id}' cannot be reached from the entry '{f.entry}'")
    _check_cycles(f, idx, rep)


def _check_cycles(f: Flow, idx: dict[str, int], rep: _Reporter) -> None:
    """Flows are acyclic, so every walk ends in a conclusion and going back is always well defined."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    steps = f.index()

    def visit(sid: str) -> None:
        state[sid] = 1
        for label, sub, nxt in exits(steps[sid]):
            if nxt not in steps or nxt == sid:
                continue
            if state.get(nxt) == 1:
                rep.at(("steps", idx[sid]) + sub, f"step '{sid}' ({label}) loops back to '{nxt}': flows may not have cycles")
            elif nxt not in state:
                visit(nxt)
        state[sid] = 2

    for s in f.steps:
        if s.id not in state and s.id in steps:
            visit(s.id)


def _check_step(kb, f: Flow, i: int, s: Step, rep: _Reporter, trees: dict) -> None:
    base = ("steps", i)
    given = s.model_fields_set
    for key in sorted(given - _ALLOWED[s.kind]):
        rep.at(base + (key,), f"'{key}' does not apply to a {s.kind} step", value=False)
    need = list(_REQUIRED[s.kind])
    if s.kind == "ask" and s.type is not None:
        extra_need, forbidden = _BY_TYPE[s.type]
        need += extra_need
        for key in sorted(given & forbidden):
            rep.at(base + (key,), f"'{key}' does not apply to a {s.type} question", value=False)
    for key in need:
        v = getattr(s, key)
        if key not in given or v is None or v == [] or v == "":
            rep.at(base + ("kind",), f"{s.kind} step '{s.id}' needs '{key}'", value=False)
    t = s.answer_type
    if s.kind != "conclude" and not exits(s) and all(k in given for k in need):
        rep.at(base + ("id",), f"dead end: step '{s.id}' has no way on")
    if t == "yesno" and s.yes is not None and s.yes == s.no:
        rep.at(base + ("no",), f"both answers of '{s.id}' lead to '{s.yes}': the question decides nothing")
    if s.kind == "check" and s.when is not None:
        try:
            trees[(f.id, s.id)] = parse(s.when)
        except ExprError as e:
            rep.problems.append(Problem(rep.doc.path, *expr_position(rep.doc, base + ("when",), e.line, e.col),
                                        f"condition: {e.message}"))
    _check_basis(s, base, rep, trees.get((f.id, s.id)))
    if t == "choice" and s.options is not None:
        if len(s.options) < 2:
            rep.at(base + ("options",), "a choice needs at least two options")
        seen: set[str] = set()
        for j, o in enumerate(s.options):
            if o.value in seen:
                rep.at(base + ("options", j, "value"), f"duplicate option '{o.value}'")
            seen.add(o.value)
    if t == "number" and s.min is not None and s.max is not None:
        if not s.min < s.max:
            rep.at(base + ("max",), f"max ({s.max:g}) must be above min ({s.min:g})")
        elif s.branches:
            _check_branches(s, base, rep)
    if s.field is not None:
        _check_field(s, base, rep)
    if s.kind == "conclude":
        for j, rid in enumerate(s.rules):
            if rid not in kb.rules:
                rep.at(base + ("rules", j), f"unknown rule id '{rid}'" + _close(rid, kb.rules))
        for j, gid in enumerate(s.guides):
            if gid not in kb.guides:
                rep.at(base + ("guides", j), f"unknown guide entry '{gid}'" + _close(gid, kb.guides))


def _check_basis(s: Step, base: tuple, rep: _Reporter, tree) -> None:
    """Every threshold of a step (condition numbers, branch bounds) says whose it is, as rules do."""
    from kb.reasoning import literals

    nums = [v for v in (literals(tree) if tree is not None else []) if v != 0]
    nums += [x for b in s.branches or [] for x in (b.at_least, b.below) if x is not None and x != 0]
    listed = [*s.basis.handbook, *s.basis.ours] if s.basis else []
    missing = sorted({v for v in nums if not any(abs(abs(v) - abs(x)) < 1e-9 for x in listed)})
    if missing:
        rep.at(base, f"step '{s.id}': the number(s) {', '.join(f'{v:g}' for v in missing)} have no basis "
                     "(basis: handbook or basis: ours)")


def _check_branches(s: Step, base: tuple, rep: _Reporter) -> None:
    """Every value from min to max must take exactly one branch first, and every branch must be taken by some value."""
    bounds = sorted({s.min, s.max} | {x for b in s.branches for x in (b.at_least, b.below)
                                      if x is not None and s.min < x < s.max})
    probes = list(bounds) + [(a + b) / 2 for a, b in zip(bounds, bounds[1:])]
    taken: set[int] = set()
    for v in sorted(probes):
        hit = next((j for j, b in enumerate(s.branches) if b.matches(v)), None)
        if hit is None:
            unit = f" {s.unit}" if s.unit else ""
            rep.at(base + ("branches",), f"no branch of '{s.id}' takes {v:g}{unit}", value=False)
            return
        taken.add(hit)
    for j, b in enumerate(s.branches):
        if j not in taken:
            rep.at(base + ("branches", j), f"branch '{b.label(s.unit or '')}' of '{s.id}' is never taken "
                                           f"(an earlier branch or the min/max range covers it)")


def _check_field(s: Step, base: tuple, rep: _Reporter) -> None:
    spec = FIELDS.get(s.field)
    if spec is None or spec.kind == "list":
        rep.at(base + ("field",), f"unknown reading field '{s.field}'" + _close(s.field, [k for k, v in FIELDS.items() if v.kind != "list"]))
        return
    t = s.answer_type
    if spec.kind not in _FIELD_KIND.get(t, ()):
        rep.at(base + ("field",), f"'{s.field}' is a {spec.kind} field; a {t} answer cannot fill it")
        return
    if t == "choice":
        for j, o in enumerate(s.options or []):
            if o.value not in spec.values:
                rep.at(base + ("options", j, "value"), f"'{o.value}' is not a value of '{s.field}' (one of: {', '.join(spec.values)})")
    if t == "number" and spec.bounds and s.min is not None and s.max is not None:
        lo, hi = spec.bounds
        if s.min < lo or s.max > hi:
            rep.at(base + ("min",), f"min/max must lie within what '{s.field}' can be ({lo:g}..{hi:g})")


def _check_tests(f: Flow, rep: _Reporter) -> None:
    steps = f.index()
    covered: set[str] = set()
    for j, t in enumerate(f.tests):
        base = ("tests", j)
        for k in t.reading:
            if k not in FIELDS or FIELDS[k].derived:
                what = "is derived; give the measured fields instead" if k in FIELDS else "is not a reading field"
                rep.at(base + ("reading", k), f"test '{t.name}': '{k}' {what}", value=False)
        for sid, v in t.answers.items():
            st = steps.get(sid)
            if st is None:
                rep.at(base + ("answers", sid), f"test '{t.name}': unknown step '{sid}'" + _close(sid, steps), value=False)
            elif st.kind == "conclude":
                rep.at(base + ("answers", sid), f"test '{t.name}': '{sid}' is a conclusion and takes no answer", value=False)
            else:
                try:
                    coerce_answer(st, v)
                except ValueError as e:
                    rep.at(base + ("answers", sid), f"test '{t.name}': {e}")
        target = steps.get(t.expect)
        if target is None or target.kind != "conclude":
            rep.at(base + ("expect",), f"test '{t.name}': '{t.expect}' is not a conclusion of this flow")
        else:
            covered.add(t.expect)
        for k, sid in enumerate(t.path):
            if sid not in steps:
                rep.at(base + ("path", k), f"test '{t.name}': unknown step '{sid}' in the path" + _close(sid, steps))
                break
            if k == 0 and sid != f.entry:
                rep.at(base + ("path", 0), f"test '{t.name}': the path must start at the entry '{f.entry}'")
                break
            if k > 0 and t.path[k - 1] in steps and sid not in [n for _, _, n in exits(steps[t.path[k - 1]])]:
                rep.at(base + ("path", k), f"test '{t.name}': no step leads from '{t.path[k - 1]}' to '{sid}'")
                break
        if t.path and t.path[-1] != t.expect:
            rep.at(base + ("path",), f"test '{t.name}': the path must end at the expected conclusion '{t.expect}'", value=False)
    for i, s in enumerate(f.steps):
        if s.kind == "conclude" and s.id not in covered:
            rep.at(("steps", i, "id"), f"conclusion '{s.id}' is not reached by any test of the flow")


def iter_checks(flow: Flow) -> Iterator[tuple[Step, list[str]]]:
    """Each check step with the reading fields its condition reads (for front ends that list what a reading could answer)."""
    for s in flow.steps:
        if s.kind == "check" and s.when:
            try:
                yield s, fields_of(parse(s.when))
            except ExprError:
                continue
