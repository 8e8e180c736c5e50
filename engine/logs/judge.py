"""The rules adapter: each candidate event goes through engine.check as a Reading; the findings become events."""

from __future__ import annotations

from typing import Any

from engine.logs.detect import Candidate
from engine.logs.results import Event
from engine.logs.thresholds import NEEDS
from kb.schema import SEVERITY_ORDER

# ---------------------------------------------------------------- judging candidates with the rules


class Judge:
    def __init__(self, kb: Any, ctx: dict[str, Any], engine: str | None):
        from engine.check import check

        self.kb = kb
        self.ctx = ctx
        self._check = check
        # a log's events are many stateless checks of one reading each: the reference evaluator decides them at half
        # the cost (it and durable-rules agree on every rule and derived fact: tests/test_durable.py and
        # tests/test_reasoning_facts.py); the caller may still ask for durable-rules
        self._engine_arg = engine or "evaluator"
        self.engine = ""
        self._missing: dict[str, int] = {}
        self._finding: dict[str, list] = {}  # rule -> [first t_s, Finding of the largest event, its size, events]
        self._missing_by_shape: dict[frozenset, list[str]] = {}
        base = self.check({"state": "riding"})
        self.baseline = {f.rule for f in base.findings}
        self.base_findings = base.sorted_findings()

    def check(self, fields: dict[str, Any]):
        from engine.reading import Reading

        reading = Reading.parse({**self.ctx, **fields})
        kw = {"kb": self.kb}
        if self._engine_arg:
            kw["engine"] = self._engine_arg
        report = self._check(reading, **kw)
        self.engine = report.engine
        return report

    def events(self, cands: list[Candidate]) -> list[Event]:
        out = []
        for c in cands:
            report = self.check({"state": "riding", **c.fields})
            # What a log rule could not check depends on which fields the event has, not on their values:
            # worked out once per set of fields (report.not_checked ranks questions too, which on a
            # 1,000,000-row log was most of the analysis time).
            shape = frozenset(c.fields)
            missing = self._missing_by_shape.get(shape)
            if missing is None:
                missing = [NEEDS.get(f, f) for nc in report.not_checked if nc.rule.startswith("log-")
                           for f in nc.missing]
                self._missing_by_shape[shape] = missing
            for f in missing:
                self._missing[f] = self._missing.get(f, 0) + 1
            fired = [f for f in report.sorted_findings() if f.rule not in self.baseline]
            fired.sort(key=lambda f: (SEVERITY_ORDER[f.severity], not f.rule.startswith("log-"), f.rule))
            if not fired and not c.always:
                continue
            ev = Event(c.t_s, c.kind, c.values, None, "info", [])
            if fired:
                top = fired[0]
                ev.rule, ev.severity, ev.title, ev.message, ev.remedy = (top.rule, top.severity, top.title,
                                                                         top.message, list(top.remedy))
                cites: list[str] = []
                for f in fired:
                    cites += [x for x in f.citations if x not in cites]
                    seen = self._finding.get(f.rule)
                    if seen is None:
                        self._finding[f.rule] = [c.t_s, f, c.size, 1]
                    else:  # one finding per rule: its first time, the message of its largest event
                        seen[0] = min(seen[0], c.t_s)
                        if c.size > seen[2]:
                            seen[1], seen[2] = f, c.size
                        seen[3] += 1
                ev.citations = cites
                ev.rules = [f.rule for f in fired]
            out.append(ev)
        out.sort(key=lambda e: (e.t_s, SEVERITY_ORDER[e.severity]))
        return out

    def findings(self, events: list[Event]) -> list[dict[str, Any]]:
        out = []
        for f in self.base_findings:
            d = f.to_json()
            d.update(t_s=None, events=0)
            out.append(d)
        for t0, f, _, count in self._finding.values():
            d = f.to_json()
            d.update(t_s=round(t0, 3), events=count)
            out.append(d)
        out.sort(key=lambda d: (SEVERITY_ORDER[d["severity"]], d["t_s"] if d["t_s"] is not None else -1.0))
        return out

    def missing_context(self) -> list[str]:
        from kb.fields import FIELDS

        given = set(self.ctx)
        keep = [f for f in self._missing if f in FIELDS and FIELDS[f].group in ("identity", "settings", "context")
                and f not in given]
        return sorted(keep, key=lambda f: (-self._missing[f], f))
