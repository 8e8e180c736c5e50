"""The diagnosis runner: one session of a flow (kb/flows.py), kept as plain data.

A session is the flow id, the answers given (by step id, in any order) and the reading. Everything else, the path
taken, the next question and the conclusion, is recomputed from those by walking the flow from its entry:
  - a `check` step is answered by the reading when the reading holds its fields (the value used is recorded),
    otherwise it is asked as a yes/no question;
  - an `ask`/`measure` step that names a reading field is answered by the reading when it has that field, and an
    answer the rider gives feeds later checks;
  - an answer the rider gave wins over the reading (the rider may know the reading is stale).
So changing an earlier answer recomputes everything after it, answers to steps not reached yet are kept and used
when the walk gets there (the chat can take them out of order), and `to_json()` needs only those three things.

Front ends: `start(kb, flow_id, reading)` -> Session; `next_step()` -> Prompt or None; `answer(step_id, value)`
(or `answer(value)` for the step asked now); `rewind(i)`/`back()`; `why(step_id)`; `how()`; `conclusion`;
`result_json()`. `match_symptom(kb, text)` ranks flows for free text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kb.errors import UserError
from kb.expr import fields_of
from kb.flows import (
    AskChoiceStep,
    ConcludeStep,
    Flow,
    MeasureStep,
    NumberStep,
    Step,
    coerce_answer,
    exits,
    reachable,
    route,
    show_answer,
    step_field,
)

_UNSET = object()


# ---------------------------------------------------------------- what front ends get


@dataclass(frozen=True)
class Prompt:
    """A question the rider must answer now."""

    flow: str
    id: str
    kind: str  # check | ask | measure
    type: str  # yesno | choice | number
    question: str
    instruction: str = ""  # measure: what to do first
    help: str = ""  # how to find the answer
    unit: str = ""
    min: float | None = None
    max: float | None = None
    options: list[dict[str, Any]] = field(default_factory=list)  # [{"label", "value"}]; yes/no included
    citations: list[str] = field(default_factory=list)

    @property
    def how(self) -> str:
        return " ".join(x for x in (self.instruction, self.help) if x)

    @property
    def allowed(self) -> str:
        if self.type == "number":
            return f"a number from {self.min:g} to {self.max:g}" + (f" {self.unit}" if self.unit else "")
        return ", ".join(str(o["value"]) for o in self.options)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["allowed"] = self.allowed
        return d


@dataclass(frozen=True)
class Conclusion:
    flow: str
    id: str
    title: str
    severity: str
    text: str
    remedy: list[str]
    citations: list[str]
    rules: list[str] = field(default_factory=list)
    guides: list[str] = field(default_factory=list)
    kind: str = "conclude"

    @property
    def question(self) -> str:  # the heading a step view shows
        return self.title

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "severity": self.severity, "text": self.text,
                "remedy": list(self.remedy), "citations": list(self.citations), "rules": list(self.rules),
                "guides": list(self.guides)}


@dataclass(frozen=True)
class PathEntry:
    """One answered step on the way: what was asked, the answer, where it came from, where it led."""

    step: str
    kind: str
    question: str
    answer: str  # as shown ("yes", "3.2 V", an option's label)
    value: Any  # typed: bool, option value, float
    auto: bool  # answered from the reading
    next: str
    evidence: dict[str, Any] = field(default_factory=dict)  # reading values the answer came from
    explanation: list[str] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "kind": self.kind, "question": self.question, "answer": self.answer,
                "value": self.value, "source": "reading" if self.auto else "answer", "next": self.next,
                "evidence": dict(self.evidence), "explanation": list(self.explanation)}


def prompt_of(flow: Flow, s: Step) -> Prompt:
    if isinstance(s, ConcludeStep):
        raise ValueError(f"'{s.id}' is a conclusion, not a question")
    t = s.answer_type
    if t == "yesno":
        opts = [{"label": "yes", "value": "yes"}, {"label": "no", "value": "no"}]
    elif isinstance(s, AskChoiceStep):
        opts = [{"label": o.label, "value": o.value} for o in s.options]
    else:
        opts = []
    number = s if isinstance(s, NumberStep) else None
    return Prompt(flow=flow.id, id=s.id, kind=s.kind, type=t, question=s.question,
                  instruction=s.instruction if isinstance(s, MeasureStep) else "", help=s.help or "",
                  unit=number.unit if number else "", min=number.min if number else None,
                  max=number.max if number else None, options=opts, citations=list(s.citations))


def conclusion_of(flow: Flow, s: ConcludeStep) -> Conclusion:
    return Conclusion(flow=flow.id, id=s.id, title=s.title, severity=s.severity, text=s.text, remedy=list(s.remedy),
                      citations=list(s.citations), rules=list(s.rules), guides=list(s.guides))


# ---------------------------------------------------------------- the session


def flows_of(kb) -> dict[str, Flow]:
    return kb.flows


def get_flow(kb, flow_id: str) -> Flow:
    flows = flows_of(kb)
    if flow_id not in flows:
        import difflib

        close = difflib.get_close_matches(flow_id, list(flows), n=3)
        hint = f" (did you mean: {', '.join(close)}?)" if close else f" (known: {', '.join(sorted(flows))})"
        raise UserError(f"no diagnosis flow '{flow_id}'{hint}")
    return flows[flow_id]


def _as_reading(reading: Any):
    from engine.reading import Reading

    if reading is None or isinstance(reading, Reading):
        return reading
    if isinstance(reading, dict):
        return Reading.parse(reading)
    raise UserError("a reading must be a mapping of field names to values")


class Session:
    def __init__(self, kb, flow_id: str, reading: Any = None, answers: dict[str, Any] | None = None):
        self.kb = kb
        self.flow = get_flow(kb, flow_id)
        self.steps = self.flow.index()
        self.reading = _as_reading(reading)
        self.answers: dict[str, Any] = {}
        self._walked: tuple | None = None
        for sid, v in (answers or {}).items():
            self._set(sid, v)

    # ------------------------------------------------------------ answering

    def _step(self, sid: str) -> Step:
        s = self.steps.get(sid)
        if s is None:
            import difflib

            close = difflib.get_close_matches(str(sid), list(self.steps), n=3)
            raise UserError(f"flow '{self.flow.id}' has no step '{sid}'" + (f" (did you mean: {', '.join(close)}?)" if close else ""))
        return s

    def _set(self, sid: str, value: Any) -> None:
        s = self._step(sid)
        if s.kind == "conclude":
            raise UserError(f"'{sid}' is a conclusion; it takes no answer")
        try:
            self.answers[sid] = coerce_answer(s, value)
        except ValueError as e:
            raise UserError(str(e)) from None
        self._walked = None

    def answer(self, step_or_value: Any, value: Any = _UNSET) -> Session:
        """answer(step_id, value) for any step of the flow (out of order is fine); answer(value) for the step asked now.
        Bad answers raise UserError naming the allowed answers."""
        if value is _UNSET:
            p = self.next_step()
            if p is None:
                raise UserError("the diagnosis is concluded; change an earlier answer to continue")
            sid, value = p.id, step_or_value
        else:
            sid = step_or_value
        self._set(sid, value)
        return self

    def change(self, step_id: str, value: Any) -> Session:
        """Change (or with None, forget) an answer; everything after it is recomputed."""
        if value is None:
            return self.forget(step_id)
        return self.answer(step_id, value)

    def forget(self, step_id: str) -> Session:
        self._step(step_id)
        self.answers.pop(step_id, None)
        self._walked = None
        return self

    def rewind(self, index: int) -> Session:
        """Ask the step at `index` of the path again: forget its answer and every answer given after it on the path.
        Steps the reading answered cannot be asked again; if only those follow `index`, the rider's last answer
        before it is forgotten instead, so going back always goes back."""
        path = self.path
        mine = [e.step for e in path[index:] if not e.auto]
        if not mine:
            mine = [e.step for e in path[:index] if not e.auto][-1:]
        for sid in mine:
            self.answers.pop(sid, None)
        self._walked = None
        return self

    def back(self) -> bool:
        """Forget the last answer the rider gave on the path (the reading's answers stay); False if there is none."""
        for i in range(len(self.path) - 1, -1, -1):
            if not self.path[i].auto:
                self.rewind(i)
                return True
        return False

    # ------------------------------------------------------------ the walk

    def _values(self) -> dict[str, Any]:
        """Reading values with the rider's answers to field steps laid over them (derived values follow)."""
        given = self.reading.given() if self.reading is not None else {}
        overlay = {field: v for sid, v in self.answers.items() if (field := step_field(self.steps[sid])) is not None}
        from engine.check import values_for  # the same derived facts as `check`: inferred series, chemistry...
        from engine.reading import Reading
        from kb.fields import FIELDS

        if not overlay:
            return values_for(self.reading, self.kb) if self.reading is not None else {}

        base = {k: v for k, v in given.items()}
        derived_over = {}
        for k, v in overlay.items():
            if FIELDS[k].derived:
                derived_over[k] = v
            else:
                base[k] = int(v) if FIELDS[k].kind == "int" else v
        try:
            vals = values_for(Reading.parse(base), self.kb)
        except UserError:  # an answer outside what the reading model accepts: use it as given
            vals = dict(values_for(self.reading, self.kb) if self.reading is not None else {})
            vals.update({k: v for k, v in overlay.items()})
        vals.update(derived_over)
        return vals

    def _walk(self) -> tuple[list[PathEntry], Step | None]:
        if self._walked is not None:
            return self._walked
        from engine.evaluate import evaluate

        values = self._values()
        trees = self.kb.flow_trees
        path: list[PathEntry] = []
        sid = self.flow.entry
        stop: Step | None = None
        for _ in range(len(self.steps) + 1):  # flows are acyclic; the bound only guards a broken KB
            s = self.steps[sid]
            if s.kind == "conclude":
                stop = s
                break
            evidence: dict[str, Any] = {}
            explanation: list[str] = []
            if sid in self.answers:
                v, auto = self.answers[sid], False
            elif s.kind == "check":
                tree = trees.get((self.flow.id, sid))
                out = evaluate(tree, values) if tree is not None else None
                if out is None or out.value is None:
                    stop = s
                    break
                v, auto = bool(out.value), True
                evidence = {f: values[f] for f in fields_of(tree) if f in values}
                explanation = list(out.explanation)
            elif s.field is not None and values.get(s.field) is not None:
                try:
                    v = coerce_answer(s, values[s.field])
                except ValueError:  # the reading's value is outside what the step takes: ask instead
                    stop = s
                    break
                auto = True
                evidence = {s.field: values[s.field]}
            else:
                stop = s
                break
            nxt = route(s, v)
            if nxt is None:  # validation makes this unreachable; ask again rather than guess
                stop = s
                break
            path.append(PathEntry(step=sid, kind=s.kind, question=s.question or "", answer=show_answer(s, v), value=v,
                                  auto=auto, next=nxt, evidence=evidence, explanation=explanation,
                                  citations=list(s.citations)))
            sid = nxt
        self._walked = (path, stop)
        return self._walked

    @property
    def path(self) -> list[PathEntry]:
        return self._walk()[0]

    def next_step(self) -> Prompt | None:
        """The question to ask now (checks the reading answers are skipped), or None once concluded."""
        stop = self._walk()[1]
        return None if stop is None or stop.kind == "conclude" else prompt_of(self.flow, stop)

    @property
    def pending(self) -> Prompt | None:
        return self.next_step()

    @property
    def conclusion(self) -> Conclusion | None:
        stop = self._walk()[1]
        return conclusion_of(self.flow, stop) if stop is not None and stop.kind == "conclude" else None

    @property
    def concluded(self) -> bool:
        return self.conclusion is not None

    def path_ids(self) -> list[str]:
        """Step ids from the entry to where the walk stands (the conclusion included)."""
        stop = self._walk()[1]
        return [e.step for e in self.path] + ([stop.id] if stop is not None else [])

    def unused_answers(self) -> list[str]:
        """Answers given for steps off the current path (kept: a changed answer may lead back to them)."""
        on = {e.step for e in self.path}
        return [sid for sid in self.answers if sid not in on]

    def askable(self) -> list[Prompt]:
        """Every question of the flow not answered yet and not answered by the reading (for a chat that takes
        answers in any order). The one asked now comes first."""
        now = self.next_step()
        auto = {e.step for e in self.path if e.auto}
        out = [now] if now is not None else []
        for s in self.flow.steps:
            if s.kind != "conclude" and s.id not in self.answers and s.id not in auto and (now is None or s.id != now.id):
                out.append(prompt_of(self.flow, s))
        return out

    def possible(self) -> list[Conclusion]:
        """Conclusions still reachable from where the walk stands."""
        stop = self._walk()[1]
        if stop is None:
            return []
        return [conclusion_of(self.flow, st) for x in reachable(self.flow, stop.id)
                if isinstance(st := self.steps[x], ConcludeStep)]

    # ------------------------------------------------------------ explanations

    def why(self, step_id: str | None = None) -> str:
        """Why is this asked: the flow, what the answer decides and which conclusions each answer can still lead to."""
        if step_id is None:
            p = self.next_step()
            if p is None:
                return "Nothing is being asked: the diagnosis is concluded (see how it was concluded)."
            step_id = p.id
        s = self._step(step_id)
        if s.kind == "conclude":
            return f"'{s.title}' is a conclusion of '{self.flow.title}', not a question."
        lines = [f"Part of '{self.flow.title}': {self.flow.summary}"]
        if s.why:
            lines.append(s.why)
        lines.append("The answer decides the next step:")
        for label, _, nxt in exits(s):
            ends = [st.title for x in reachable(self.flow, nxt) if isinstance(st := self.steps[x], ConcludeStep)]
            lines.append(f"  {label}: can lead to {_join(ends)}")
        on = next((e for e in self.path if e.step == step_id), None)
        if on is not None and on.auto:
            got = ", ".join(f"{k} = {evidence_value(v)}" for k, v in on.evidence.items())
            lines.append(f"The reading answered it ({got}): {on.answer}.")
        elif on is None and (now := self.next_step()) is not None and now.id != step_id:
            lines.append("It is not on the current path; an answer given now is kept and used if the path reaches it.")
        if s.citations:
            lines.append("Sources: " + " ".join(f"[^{c}]" for c in s.citations))
        return "\n".join(lines)

    def how(self) -> str:
        """How was this concluded: each step on the path with its answer (and the reading's values), then the sources."""
        c = self.conclusion
        lines = [f"Concluded '{c.title}' ({c.severity}) in '{self.flow.title}':" if c
                 else f"Not concluded yet in '{self.flow.title}'; so far:"]
        for i, e in enumerate(self.path, 1):
            src = ""
            if e.auto:
                src = " (from the reading: " + ", ".join(f"{k} = {evidence_value(v)}" for k, v in e.evidence.items()) + ")"
            lines.append(f"  {i}. {e.question} -> {e.answer}{src}")
        if c is not None:
            lines.append("Sources: " + " ".join(f"[^{x}]" for x in c.citations))
        else:
            p = self.next_step()
            if p is not None:
                lines.append(f"Next: {p.question}")
        return "\n".join(lines)

    # ------------------------------------------------------------ plain data

    def to_json(self) -> dict[str, Any]:
        """The session as plain data: enough to rebuild it (flow, answers, reading) plus what it computes."""
        return {
            "flow": self.flow.id,
            "flow_version": self.flow.version,
            "answers": dict(self.answers),
            "reading": self.reading.given() if self.reading is not None else None,
            "path": [e.to_json() for e in self.path],
            "pending": p.to_json() if (p := self.next_step()) else None,
            "conclusion": self.conclusion.to_json() if self.conclusion else None,
        }

    @classmethod
    def from_json(cls, kb, data: Any) -> Session:
        if not isinstance(data, dict) or not isinstance(data.get("flow"), str):
            raise UserError("a saved diagnosis is a mapping with at least 'flow'")
        answers = data.get("answers") or {}
        if not isinstance(answers, dict):
            raise UserError("'answers' of a saved diagnosis must be a mapping of step id to answer")
        return cls(kb, data["flow"], reading=data.get("reading"), answers=answers)

    def result_json(self) -> dict[str, Any]:
        """What `bmsdoc diagnose --json` prints."""
        c = self.conclusion
        p = self.next_step()
        return {
            "flow": self.flow.id,
            "conclusion": c.to_json() if c else None,
            "path": [e.to_json() for e in self.path],
            "pending": p.to_json() if p else None,
            "unused_answers": self.unused_answers(),
        }

    def report_markdown(self) -> str:
        lines = [f"# Diagnosis: {self.flow.title}", "", f"Knowledge base {self.kb.kb_version}", "", "## Steps", ""]
        for e in self.path:
            src = " (from the reading)" if e.auto else ""
            lines.append(f"- {e.question}: **{e.answer}**{src}")
        c = self.conclusion
        if c is not None:
            lines += ["", f"## Conclusion: {c.title} ({c.severity})", "", c.text, ""]
            lines += [f"{i}. {r}" for i, r in enumerate(c.remedy, 1)]
            lines += ["", "## Sources", ""]
            for label in c.citations:
                src = self.kb.sources.get(label)
                lines.append(f"- [^{label}] {src.summary if src else ''}".rstrip())
        else:
            p = self.next_step()
            lines += ["", f"Not concluded: next question is '{p.question if p else ''}'."]
        return "\n".join(lines) + "\n"


def start(kb, flow_id: str, reading: Any = None, answers: dict[str, Any] | None = None) -> Session:
    return Session(kb, flow_id, reading=reading, answers=answers)


def _join(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    if not items:
        return "nothing"
    return "; ".join(f"'{x}'" for x in items)


def evidence_value(v: Any) -> str:
    """A reading value as the path shows it as evidence: true/false, 3.2, text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


# ---------------------------------------------------------------- symptom matching

# the words themselves live in engine.text, shared with the chat
from engine.text import tokens  # noqa: E402


@dataclass(frozen=True)
class SymptomMatch:
    flow: str
    title: str
    score: float  # 0..1: share of the best phrase's words found in the text (ties favour more words matched)
    phrase: str


def generic_words(kb) -> frozenset[str]:
    """Symptom words too common to pick a flow on their own: found in the phrases of at least 3 flows and of a
    quarter of them ('bms', 'battery', 'app'). "my cat ate the bms" shares only such words with any flow."""
    flows = flows_of(kb).values()
    df: dict[str, int] = {}
    for f in flows:
        for w in {t for phrase in [*f.symptoms, f.title] for t in tokens(phrase)}:
            df[w] = df.get(w, 0) + 1
    need = max(3, len(flows) / 4)
    return frozenset(w for w, n in df.items() if n >= need)


# Auxiliaries and quantifiers: part of a symptom phrase ("bms will not wake up") but never what picks it ("big
# pack, will one bms handle it" is a sizing question, not a board that will not wake).
_FUNCTION = frozenset(tokens("will wont would can cant cannot could should one any all also much many"))


def match_symptom(kb, text: str, limit: int = 5) -> list[SymptomMatch]:
    """Flows ranked by word overlap between `text` and their symptom phrases (and titles); best first.
    A phrase counts only when a word other than the generic ones (generic_words) is shared."""
    words = set(tokens(text))
    if not words:
        return []
    generic = generic_words(kb) | _FUNCTION
    out = []
    for f in flows_of(kb).values():
        best, best_phrase = 0.0, ""
        for phrase in [*f.symptoms, f.title]:
            ptoks = set(tokens(phrase))
            if not ptoks or not (words & ptoks) - generic:
                continue
            hit = len(words & ptoks)
            score = hit / len(ptoks) * 0.8 + hit / len(words) * 0.2
            if score > best:
                best, best_phrase = score, phrase
        if best > 0:
            out.append(SymptomMatch(f.id, f.title, round(best, 3), best_phrase))
    out.sort(key=lambda m: (-m.score, m.flow))
    return out[:limit]


# ---------------------------------------------------------------- the flows' own tests (bmsdoc kb test)


def run_flow_tests(kb) -> list:
    from engine.kbtest import TestResult

    results = []
    for fid, f in flows_of(kb).items():
        where = kb.locations.get(f"flow:{fid}", ("", 0, 0))
        for t in f.tests:
            try:
                s = Session(kb, fid, reading=t.reading or None, answers=t.answers)
                got, path = (s.conclusion.id if s.conclusion else None), s.path_ids()
            except UserError as e:
                results.append(TestResult("flow", fid, t.name, False, f"the test is invalid: {e}", f"{where[0]}:{where[1]}"))
                continue
            problems = []
            if got != t.expect:
                p = s.next_step()
                problems.append(f"expected '{t.expect}', got " + (f"'{got}'" if got else f"no conclusion (stopped at '{p.id}')" if p else "nothing"))
            if path != list(t.path):
                problems.append(f"path {' > '.join(path)} differs from {' > '.join(t.path)}")
            if s.unused_answers():
                problems.append(f"answers not used: {', '.join(s.unused_answers())}")
            results.append(TestResult("flow", fid, t.name, not problems, "; ".join(problems), f"{where[0]}:{where[1]}"))
    return results


def _register_suite() -> None:
    from engine import kbtest

    if run_flow_tests not in kbtest.SUITES:
        kbtest.SUITES.append(run_flow_tests)


_register_suite()
