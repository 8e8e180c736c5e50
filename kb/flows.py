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
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

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


class _StepBase(Strict):
    id: str = Field(pattern=_ID)
    citations: Citations = Field(default_factory=list)
    # whose each threshold is (the numbers in `when` and the branch bounds): the handbook's or ours
    basis: Basis | None = None


class _Asked(_StepBase):
    """A step that needs an answer: from the reading when it holds the data, else from the rider."""

    question: str = Field(min_length=1)
    help: str | None = None  # how to find the answer out
    why: str | None = None  # why the answer matters (shown by "why?")


class CheckStep(_Asked):
    """A yes/no condition over reading fields; the rider answers `question` when the reading cannot."""

    kind: Literal["check"]
    when: str = Field(min_length=1)
    yes: str = Field(min_length=1)
    no: str = Field(min_length=1)
    answer_type: ClassVar[str] = "yesno"


class _AskBase(_Asked):
    kind: Literal["ask"]
    field: str | None = None  # the reading field this answers (and that an answer fills)


class AskChoiceStep(_AskBase):
    type: Literal["choice"]
    options: list[Option] = Field(min_length=1)
    answer_type: ClassVar[str] = "choice"


class AskYesNoStep(_AskBase):
    type: Literal["yesno"]
    yes: str = Field(min_length=1)
    no: str = Field(min_length=1)
    answer_type: ClassVar[str] = "yesno"


class AskNumberStep(_AskBase):
    type: Literal["number"]
    unit: str = Field(min_length=1)
    min: float
    max: float
    branches: list[Branch] = Field(min_length=1)
    answer_type: ClassVar[str] = "number"


AskStep = Annotated[AskChoiceStep | AskYesNoStep | AskNumberStep, Field(discriminator="type")]


class MeasureStep(_Asked):
    """An instruction, then a measured number routed by thresholds."""

    kind: Literal["measure"]
    instruction: str = Field(min_length=1)  # what to do before reading the value
    field: str | None = None
    unit: str = Field(min_length=1)
    min: float
    max: float
    branches: list[Branch] = Field(min_length=1)
    answer_type: ClassVar[str] = "number"


class ConcludeStep(_StepBase):
    """The finding: what it is, how bad, what to do, and the handbook notes behind it."""

    kind: Literal["conclude"]
    title: str = Field(min_length=1)
    severity: Severity
    text: str = Field(min_length=1)
    remedy: list[str] = Field(min_length=1)
    rules: list[str] = Field(default_factory=list)
    guides: list[str] = Field(default_factory=list)
    answer_type: ClassVar[str] = "none"


# One model per step kind (and per answer type of an ask): each says what that kind needs and nothing else.
Step = Annotated[CheckStep | AskStep | MeasureStep | ConcludeStep, Field(discriminator="kind")]
YesNoStep = (CheckStep, AskYesNoStep)
NumberStep = (AskNumberStep, MeasureStep)
_ASK_KEYS = set().union(*(m.model_fields for m in (AskChoiceStep, AskYesNoStep, AskNumberStep)))


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

    @model_validator(mode="wrap")
    @classmethod
    def _step_problems_in_plain_words(cls, data: Any, handler: Any) -> Flow:
        try:
            return handler(data)
        except ValidationError as e:
            raise ValidationError.from_exception_data(e.title, [_step_error(err, data) for err in e.errors()]) from None

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


_KIND_TAGS = ("check", "ask", "measure", "conclude")
_TYPE_TAGS = ("choice", "yesno", "number")
_MISSING = ("missing", "string_too_short", "too_short")  # an empty question or list is as good as none


def _step_error(err: Any, data: Any) -> InitErrorDetails:
    """A pydantic error inside the step union, said as the step author needs it: the union's tags (the kind and an
    ask's type) leave the location, so file:line:col points into the YAML; kb.load shows kb_key/kb_value errors
    verbatim, at the key or at the value."""
    loc, kind = tuple(err["loc"]), err["type"]

    def located(at: tuple, message: str, key: bool = False) -> InitErrorDetails:
        return {"type": PydanticCustomError("kb_key" if key else "kb_value", message), "loc": at, "input": err["input"]}

    if len(loc) < 2 or loc[0] != "steps" or not isinstance(loc[1], int):
        return located(loc, _plain(loc, err))
    base, rest = loc[:2], loc[2:]
    steps = data.get("steps") if isinstance(data, dict) else None
    item = steps[loc[1]] if isinstance(steps, list) and loc[1] < len(steps) and isinstance(steps[loc[1]], dict) else {}
    if not rest:  # the kind itself
        if kind == "union_tag_not_found":
            return located(base + ("kind",), "missing key 'kind'")
        got = item.get("kind")
        return located(base + ("kind",), f"steps.{loc[1]}.kind: must be 'check', 'ask', 'measure' or 'conclude', "
                                         f"not {got!r}")
    step_kind, rest = rest[0], rest[1:]
    if step_kind == "ask" and not rest:  # an ask's type
        if kind == "union_tag_not_found":
            return located(base + ("kind",), f"ask step '{item.get('id', '?')}' needs 'type'", key=True)
        return located(base + ("type",), f"steps.{loc[1]}.type: must be 'choice', 'yesno' or 'number', "
                                         f"not {item.get('type')!r}")
    ask_type = None
    if step_kind == "ask" and rest and rest[0] in _TYPE_TAGS:
        ask_type, rest = rest[0], rest[1:]
    at = base + rest
    if kind == "extra_forbidden" and len(rest) == 1:
        key = rest[0]
        what = f"a {ask_type} question" if ask_type and key in _ASK_KEYS else f"a {step_kind} step"
        return located(at, f"'{key}' does not apply to {what}", key=True)
    if kind in _MISSING and len(rest) == 1:
        return located(base + ("kind",), f"{step_kind} step '{item.get('id', '?')}' needs '{rest[0]}'", key=True)
    return located(at, _plain(at, err))


def _plain(loc: tuple, err: Any) -> str:
    """The message kb.load gives any other pydantic error, with the union's tags left out of the location."""
    where = ".".join(str(x) for x in loc)
    if err["type"] == "literal_error":
        return f"{where}: {err['msg'].replace('Input should be', 'must be')}, not {err['input']!r}"
    return f"{where}: {err['msg'].removeprefix('Value error, ')}"


# ---------------------------------------------------------------- graph helpers (shared with the runner)


def exits(step: Step) -> list[tuple[str, tuple, str]]:
    """(answer label, key path inside the step, next step id) for every way on from a step."""
    if isinstance(step, YesNoStep):
        return [("yes", ("yes",), step.yes), ("no", ("no",), step.no)]
    if isinstance(step, AskChoiceStep):
        return [(o.value, ("options", j, "next"), o.next) for j, o in enumerate(step.options)]
    if isinstance(step, NumberStep):
        return [(b.label(step.unit), ("branches", j, "next"), b.next) for j, b in enumerate(step.branches)]
    return []


def route(step: Step, value: Any) -> str | None:
    """The next step id for a typed answer (None when no branch takes it)."""
    if isinstance(step, YesNoStep):
        return step.yes if value else step.no
    if isinstance(step, AskChoiceStep):
        return next((o.next for o in step.options if o.value == value), None)
    if isinstance(step, NumberStep):
        return next((b.next for b in step.branches if b.matches(value)), None)
    return None


def step_field(step: Step) -> str | None:
    """The reading field an ask or measure step answers (None for checks, conclusions and unbound questions)."""
    return step.field if isinstance(step, (AskChoiceStep, AskYesNoStep, AskNumberStep, MeasureStep)) else None


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
    if isinstance(step, YesNoStep):
        return "yes or no"
    if isinstance(step, AskChoiceStep):
        return ", ".join(o.value for o in step.options)
    if isinstance(step, NumberStep):
        return f"a number from {step.min:g} to {step.max:g} {step.unit}"
    return "nothing (this is a conclusion)"


_NUM = re.compile(r"^\s*([-+]?\d+(?:[.,]\d+)?)\s*([^\d\s].*)?$")


def _shown(value: Any) -> str:
    from kb.untrusted import shown

    return shown(value, 60)


def coerce_answer(step: Step, value: Any) -> Any:
    """The typed answer (bool, option value or float) for what a user or a script gave; ValueError if it is not one."""
    if not isinstance(value, (str, bool, int, float)):  # the type is checked before the value is put in a message
        raise ValueError(f"a {type(value).__name__} is not an answer to '{step.id}': give {allowed_answers(step)}")
    if isinstance(value, str) and len(value) > 200:
        raise ValueError(f"an answer of {len(value):,} characters is not an answer to '{step.id}': "
                         f"give {allowed_answers(step)}")
    bad = f"'{_shown(value)}' is not an answer to '{step.id}': give {allowed_answers(step)}"
    if isinstance(step, YesNoStep):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in YES_WORDS:
            return YES_WORDS[value.strip().lower()]
        raise ValueError(bad)
    if isinstance(step, AskChoiceStep):
        if isinstance(value, str):
            w = value.strip().lower()
            for o in step.options:
                if w in (o.value.lower(), o.label.strip().lower()):
                    return o.value
        raise ValueError(bad)
    if isinstance(step, NumberStep):
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
            if not m or (unit and unit != step.unit.lower()):
                raise ValueError(bad)
            v = float(m.group(1).replace(",", "."))
        else:
            raise ValueError(bad)
        if not math.isfinite(v) or not (step.min <= v <= step.max):
            raise ValueError(bad)
        return v
    raise ValueError(f"'{step.id}' is a conclusion; it takes no answer")


def show_answer(step: Step, value: Any) -> str:
    if isinstance(step, YesNoStep):
        return "yes" if value else "no"
    if isinstance(step, AskChoiceStep):
        return next((o.label for o in step.options if o.value == value), str(value))
    if isinstance(step, NumberStep):
        return f"{value:g} {step.unit}".rstrip()
    return str(value)


register_collection(Collection("flows", "flows/*.yaml", Flow, required=False))  # small test KBs may have none


# ---------------------------------------------------------------- validation

# which keys each step kind takes and needs is said by the step models above (CheckStep, AskChoiceStep, ...)
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
    if isinstance(s, YesNoStep) and s.yes == s.no:
        rep.at(base + ("no",), f"both answers of '{s.id}' lead to '{s.yes}': the question decides nothing")
    if isinstance(s, CheckStep):
        try:
            trees[(f.id, s.id)] = parse(s.when)
        except ExprError as e:
            rep.problems.append(Problem(rep.doc.path, *expr_position(rep.doc, base + ("when",), e.line, e.col),
                                        f"condition: {e.message}"))
    _check_basis(s, base, rep, trees.get((f.id, s.id)))
    if isinstance(s, AskChoiceStep):
        if len(s.options) < 2:
            rep.at(base + ("options",), "a choice needs at least two options")
        seen: set[str] = set()
        for j, o in enumerate(s.options):
            if o.value in seen:
                rep.at(base + ("options", j, "value"), f"duplicate option '{o.value}'")
            seen.add(o.value)
    if isinstance(s, NumberStep):
        if not s.min < s.max:
            rep.at(base + ("max",), f"max ({s.max:g}) must be above min ({s.min:g})")
        else:
            _check_branches(s, base, rep)
    if isinstance(s, (AskChoiceStep, AskYesNoStep, AskNumberStep, MeasureStep)) and s.field is not None:
        _check_field(s, base, rep)
    if isinstance(s, ConcludeStep):
        if not s.citations:  # checked here, not by the model, so the rest of the flow is still checked
            rep.at(base + ("kind",), f"conclude step '{s.id}' needs 'citations'", value=False)
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
    branches = s.branches if isinstance(s, NumberStep) else []
    nums += [x for b in branches for x in (b.at_least, b.below) if x is not None and x != 0]
    listed = [*s.basis.handbook, *s.basis.ours] if s.basis else []
    missing = sorted({v for v in nums if not any(abs(abs(v) - abs(x)) < 1e-9 for x in listed)})
    if missing:
        rep.at(base, f"step '{s.id}': the number(s) {', '.join(f'{v:g}' for v in missing)} have no basis "
                     "(basis: handbook or basis: ours)")


def _check_branches(s: AskNumberStep | MeasureStep, base: tuple, rep: _Reporter) -> None:
    """Every value from min to max must take exactly one branch first, and every branch must be taken by some value."""
    bounds = sorted({s.min, s.max} | {x for b in s.branches for x in (b.at_least, b.below)
                                      if x is not None and s.min < x < s.max})
    probes = list(bounds) + [(a + b) / 2 for a, b in zip(bounds, bounds[1:])]
    taken: set[int] = set()
    for v in sorted(probes):
        hit = next((j for j, b in enumerate(s.branches) if b.matches(v)), None)
        if hit is None:
            rep.at(base + ("branches",), f"no branch of '{s.id}' takes {v:g} {s.unit}", value=False)
            return
        taken.add(hit)
    for j, b in enumerate(s.branches):
        if j not in taken:
            rep.at(base + ("branches", j), f"branch '{b.label(s.unit)}' of '{s.id}' is never taken "
                                           f"(an earlier branch or the min/max range covers it)")


def _check_field(s: AskChoiceStep | AskYesNoStep | AskNumberStep | MeasureStep, base: tuple, rep: _Reporter) -> None:
    assert s.field is not None
    spec = FIELDS.get(s.field)
    if spec is None or spec.kind == "list":
        rep.at(base + ("field",), f"unknown reading field '{s.field}'" + _close(s.field, [k for k, v in FIELDS.items() if v.kind != "list"]))
        return
    t = s.answer_type
    if spec.kind not in _FIELD_KIND.get(t, ()):
        rep.at(base + ("field",), f"'{s.field}' is a {spec.kind} field; a {t} answer cannot fill it")
        return
    if isinstance(s, AskChoiceStep):
        for j, o in enumerate(s.options):
            if o.value not in spec.values:
                rep.at(base + ("options", j, "value"), f"'{o.value}' is not a value of '{s.field}' (one of: {', '.join(spec.values)})")
    if isinstance(s, NumberStep) and spec.bounds:
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
        for pos, sid in enumerate(t.path):
            if sid not in steps:
                rep.at(base + ("path", pos), f"test '{t.name}': unknown step '{sid}' in the path" + _close(sid, steps))
                break
            if pos == 0 and sid != f.entry:
                rep.at(base + ("path", 0), f"test '{t.name}': the path must start at the entry '{f.entry}'")
                break
            if pos > 0 and t.path[pos - 1] in steps and sid not in [n for _, _, n in exits(steps[t.path[pos - 1]])]:
                rep.at(base + ("path", pos), f"test '{t.name}': no step leads from '{t.path[pos - 1]}' to '{sid}'")
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
