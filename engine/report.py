"""A Report is plain data: the command line prints it, --json dumps it, the TUI and the chat render it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kb.schema import SEVERITY_ORDER


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # info | warning | critical
    title: str
    message: str  # the rule's template filled with the evidence values
    remedy: list[str]
    citations: list[str]  # handbook footnote labels, verbatim ("4", "ant-cutoff")
    evidence: dict[str, Any]  # the values of every field the condition read
    section: str = ""
    explanation: list[str] = field(default_factory=list)  # one line per comparison: "cell_delta 0.040 > 0.015 -> true"
    provenance: dict[str, str] = field(default_factory=dict)  # evidence field -> measured | typed | inferred | assumed
    assumed: list[str] = field(default_factory=list)  # "balance trigger assumed 0.015 V (...) [^9]"
    explained_by: str | None = None  # the root-cause finding that accounts for this one (its remedy applies)
    status: str = "stable"  # the rule's lifecycle: experimental and test rules say so wherever they are shown

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("explanation")
        d["explanation"] = list(self.explanation)
        return d


@dataclass(frozen=True)
class Question:
    """A missing fact that would decide a warning or critical finding: what to ask, why, and how to read it."""

    field: str
    ask: str
    why: str
    how: str
    severity: str  # the worst severity it could reveal
    rules: list[str]
    citations: list[str]
    relevance: int = 0  # the share (%) of those rules' facts already known (higher: closer to deciding)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class NotChecked:
    rule: str
    title: str
    missing: list[str]  # fields whose absence kept the rule from deciding


class Report:
    """A checked reading. What was not checked and the questions that would decide it are worked out on first use
    (`pending`): the live dashboard and the fleet service check many readings a second and rarely ask."""

    def __init__(self, kb_version: str, reading: dict[str, Any], findings: list[Finding],
                 not_checked: list[NotChecked] | None = None, engine: str = "durable-rules",
                 notes: list[str] | None = None, facts: dict[str, Any] | None = None,
                 questions: list[Question] | None = None,
                 pending: Callable[[], tuple[list[NotChecked], list[Question]]] | None = None) -> None:
        self.kb_version = kb_version
        self.reading = reading  # normalised given fields + derived values
        self.findings = findings
        self.engine = engine  # or "evaluator" where durable-rules is not installed
        self.notes = list(notes or [])  # what a driver understood or converted
        self.facts = dict(facts or {})  # field -> engine.facts.Fact (value and provenance)
        self._not_checked = not_checked
        self._questions = questions
        self._pending = pending

    def _resolve(self) -> None:
        if self._pending is not None:
            nc, qs = self._pending()
            self._pending = None
            self._not_checked = nc if self._not_checked is None else self._not_checked
            self._questions = qs if self._questions is None else self._questions

    @property
    def not_checked(self) -> list[NotChecked]:
        self._resolve()
        return self._not_checked or []

    @property
    def questions(self) -> list[Question]:
        """Ranked: most decisive first."""
        self._resolve()
        return self._questions or []

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.rule))

    def root_findings(self) -> list[Finding]:
        """Findings not accounted for by a root cause: one story per cause."""
        return [f for f in self.sorted_findings() if f.explained_by is None]

    def explained(self, root: str) -> list[Finding]:
        return [f for f in self.sorted_findings() if f.explained_by == root]

    def worst(self) -> str | None:
        fs = self.sorted_findings()
        return fs[0].severity if fs else None

    def to_json(self) -> dict[str, Any]:
        return {
            "kb_version": self.kb_version,
            "engine": self.engine,
            "reading": self.reading,
            # one story per root cause: a finding a root cause accounts for is listed under it, not beside it
            "findings": [dict(f.to_json(), accounts_for=[{"rule": e.rule, "severity": e.severity, "title": e.title}
                                                        for e in self.explained(f.rule)])
                         for f in self.root_findings()],
            "questions": [q.to_json() for q in self.questions],
            "facts": {k: (f.to_json() if hasattr(f, "to_json") else f) for k, f in self.facts.items()},
            "not_checked": [asdict(n) for n in self.not_checked],
            "notes": list(self.notes),
        }
