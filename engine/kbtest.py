"""Run the KB's own tests: every rule's inline readings (and, where registered, flow answer scripts).

`bmsdoc kb test` prints these results; a maintainer who breaks a threshold sees which test of which rule failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from kb.errors import UserError


@dataclass
class TestResult:
    kind: str  # rule | flow | ...
    item: str
    name: str
    passed: bool
    detail: str = ""
    where: str = ""  # file:line of the item


@dataclass
class TestRun:
    results: list[TestResult] = field(default_factory=list)

    @property
    def failed(self) -> list[TestResult]:
        return [r for r in self.results if not r.passed]


# other modules (flows) add their suites here: fn(kb) -> list[TestResult]
SUITES: list[Callable] = []
SUITE_MODULES = ["engine.flows"]


def run_rule_tests(kb, engine: str = "evaluator") -> list[TestResult]:
    from engine.check import check
    from engine.reading import Reading

    out = []
    for rid, lr in kb.rules.items():
        for t in lr.rule.tests:
            where = f"{lr.doc}:{lr.line}"
            try:
                reading = Reading.parse(t.reading)
            except UserError as e:
                out.append(TestResult("rule", rid, t.name, False, f"the test reading is invalid: {e}", where))
                continue
            report = check(reading, kb=kb, engine=engine)
            fired = any(f.rule == rid for f in report.findings)
            ok = fired == t.fires
            detail = ""
            if not ok:
                from engine.evaluate import evaluate

                outcome = evaluate(lr.tree, reading.values())
                expl = "; ".join(outcome.explanation)
                detail = (f"expected it to {'fire' if t.fires else 'stay silent'}, but it "
                          f"{'fired' if fired else 'did not fire'}: {expl}")
            out.append(TestResult("rule", rid, t.name, ok, detail, where))
    return out


def run_all(kb, engine: str = "evaluator") -> TestRun:
    run = TestRun(run_rule_tests(kb, engine))
    import importlib.util

    for mod in SUITE_MODULES:  # importing a suite's module registers it
        if importlib.util.find_spec(mod) is not None:
            importlib.import_module(mod)
    for suite in SUITES:
        run.results.extend(suite(kb))
    return run
