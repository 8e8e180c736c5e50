"""Run the KB's own tests: every rule's inline readings (and, where registered, flow answer scripts).

`bmsdoc kb test` prints these results; a maintainer who breaks a threshold sees which test of which rule failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
    from engine.check import check, values_for
    from engine.reading import Reading

    out = []
    for rid, lr in kb.rules.items():
        if lr.rule.status == "deprecated":  # never run, so its tests would only report that
            continue
        for j, t in enumerate(lr.rule.tests):
            try:
                reading = Reading.parse(t.reading)
            except UserError as e:
                out.append(TestResult("rule", rid, t.name, False, f"the test reading is invalid: {e}",
                                      test_location(kb, lr, j)))
                continue
            report = check(reading, kb=kb, engine=engine)
            hit = next((f for f in report.findings if f.rule == rid), None)
            fired = hit is not None
            ok = fired == t.fires
            detail, where = "", ""
            if ok and hit is not None and "?" in hit.message.replace("?)", ")"):
                ok, detail = False, (f"its message shows a missing value as '?': \"{hit.message}\" (give the test "
                                     "the value, or wrap that part of the message in [[ ]] so it is left out)")
                where = test_location(kb, lr, j)
            if not ok and not detail:
                from engine.evaluate import evaluate

                outcome = evaluate(lr.tree, values_for(reading, kb))
                expl = "; ".join(outcome.explanation)
                detail = (f"expected it to {'fire' if t.fires else 'stay silent'}, but it "
                          f"{'fired' if fired else 'did not fire'}: {expl}")
                where = test_location(kb, lr, j)
            out.append(TestResult("rule", rid, t.name, ok, detail, where or f"{lr.doc}:{lr.line}"))
    return out


_POSITIONS: dict[str, object] = {}


def test_location(kb, lr, j: int | None) -> str:
    """file:line of a rule's j-th inline test. The KB is loaded without positions (fast); only a failure pays for a
    round-trip parse of its file."""
    from pathlib import Path

    from kb.load import position

    root = Path(kb.root)
    path = (root.parent / lr.doc) if root.name == "content" else (root / lr.doc)
    try:
        node = _POSITIONS.get(str(path))
        if node is None:
            from ruamel.yaml import YAML

            node = _POSITIONS[str(path)] = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
        rules: list = node["rules"]  # type: ignore[index]  # a ruamel CommentedMap
        i = next(k for k, r in enumerate(rules) if isinstance(r, dict) and r.get("id") == lr.rule.id)
        line, _col = position(node, ("rules", i) if j is None else ("rules", i, "tests", j))
        return f"{lr.doc}:{line}"
    except Exception:  # a position is a convenience: never let it hide the failure itself
        return f"{lr.doc}:{lr.line}"


# ---------------------------------------------------------------- mutation: does some test notice each threshold?

MUTATION = 0.05  # each number moves 5 % up and down


@dataclass
class Survivor:
    rule: str
    literal: float
    mutated: float
    where: str


def _literal_count(tree) -> int:
    from kb.reasoning import literals

    return len(literals(tree))


def _mutate(tree, target: float, new: float):
    """The tree with every occurrence of the number `target` (in comparisons and arithmetic) replaced by `new`."""
    from dataclasses import replace

    from kb.expr import And, Arith, Cmp, Lit, Or, known_field

    def operand(o):
        if isinstance(o, Lit):
            if isinstance(o.value, (int, float)) and not isinstance(o.value, bool) and float(o.value) == target:
                return Lit(new)
            return o
        if isinstance(o, Arith):
            return replace(o, left=operand(o.left), right=operand(o.right))
        return o

    def node(n):
        if isinstance(n, Cmp):
            return n if known_field(n.field) else replace(n, rhs=operand(n.rhs))
        return type(n)(tuple(node(i) for i in n.items)) if isinstance(n, (And, Or)) else n

    return node(tree)


def run_mutations(kb) -> tuple[int, list[Survivor]]:
    """Perturb every number of every rule's condition by ±5 % and run that rule's inline tests on each mutant (the
    evaluator, which the differential tests hold equal to durable-rules). A mutant no test notices is a threshold
    nothing guards."""
    from engine.check import values_for
    from engine.evaluate import rule_truth
    from engine.reading import Reading
    from kb.reasoning import literals

    survivors: list[Survivor] = []
    tried = 0
    for rid, lr in kb.rules.items():
        nums = [v for v in literals(lr.tree) if v != 0]
        if not nums:
            continue
        cases = []
        for t in lr.rule.tests:
            try:
                cases.append((values_for(Reading.parse(t.reading), kb), t.fires))
            except UserError:
                continue
        for v in nums:
            for factor in (1 + MUTATION, 1 - MUTATION):
                new = v * factor
                mutant = _mutate(lr.tree, v, new)
                tried += 1
                if all((rule_truth(lr.rule.scope, mutant, vals) is True) == fires for vals, fires in cases):
                    survivors.append(Survivor(rid, v, round(new, 6), test_location(kb, lr, None)))
    return tried, survivors


def run_all(kb, engine: str = "evaluator") -> TestRun:
    run = TestRun(run_rule_tests(kb, engine))
    import importlib

    for mod in SUITE_MODULES:  # importing a suite's module registers it
        importlib.import_module(mod)
    for suite in SUITES:
        run.results.extend(suite(kb))
    return run
