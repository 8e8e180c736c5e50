"""A Report is plain data: the command line prints it, --json dumps it, the TUI and the chat render it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


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

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("explanation")
        d["explanation"] = list(self.explanation)
        return d


@dataclass(frozen=True)
class NotChecked:
    rule: str
    title: str
    missing: list[str]  # fields whose absence kept the rule from deciding


@dataclass
class Report:
    kb_version: str
    reading: dict[str, Any]  # normalised given fields + derived values
    findings: list[Finding]
    not_checked: list[NotChecked]
    engine: str = "durable-rules"  # or "evaluator" where durable-rules is not installed
    notes: list[str] = field(default_factory=list)  # what a driver understood or converted

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (SEVERITY_RANK[f.severity], f.rule))

    def worst(self) -> str | None:
        fs = self.sorted_findings()
        return fs[0].severity if fs else None

    def missing_fields(self) -> list[str]:
        """Fields that, if given, would let the most unchecked rules run (most useful first)."""
        count: dict[str, int] = {}
        for nc in self.not_checked:
            for f in nc.missing:
                count[f] = count.get(f, 0) + 1
        return sorted(count, key=lambda f: (-count[f], f))

    def to_json(self) -> dict[str, Any]:
        return {
            "kb_version": self.kb_version,
            "engine": self.engine,
            "reading": self.reading,
            "findings": [f.to_json() for f in self.sorted_findings()],
            "not_checked": [asdict(n) for n in self.not_checked],
            "notes": list(self.notes),
        }
