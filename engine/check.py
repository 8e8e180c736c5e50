"""Reading -> Report: every rule of the KB checked against one reading, explained and cited.

durable-rules decides which rules fire; the reference evaluator says which rules could not be decided (and for
lack of which fields) and explains every finding. Where durable-rules is not installed (Python 3.13+) or fails,
the evaluator decides alone and the report says so. Compiled engines are cached per KB for the whole process
(the live dashboard checks ten readings a second).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from engine.evaluate import evaluate, render_template, rule_truth, scope_text, scope_truth, unknown_fields
from engine.reading import Reading
from engine.report import Finding, NotChecked, Report
from kb.expr import fields_of
from kb.fields import LIST_FIELDS

ENGINES = ("auto", "durable", "evaluator")

_CACHE: dict[int, tuple[Any, Any]] = {}  # id(kb) -> (weakref to the kb, DurableEngine | error text)
_CACHE_LOCK = threading.Lock()
_MAX_CACHED = 4


def durable_engine_for(kb) -> Any:
    """The compiled DurableEngine of this KB (built once per process), or a string saying why there is none."""
    key = id(kb)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0]() is kb:
            return hit[1]
        from engine import durable

        if not durable.available():
            built: Any = durable.unavailable_reason() + "; the built-in evaluator checked this reading"
        else:
            built = durable.DurableEngine(kb.rules)
        for k in [k for k, (ref, _) in _CACHE.items() if ref() is None]:
            del _CACHE[k]
        while len(_CACHE) >= _MAX_CACHED:
            del _CACHE[next(iter(_CACHE))]
        try:
            ref = weakref.ref(kb)
        except TypeError:  # an object that cannot be weakly referenced: keep it alive with the engine
            ref = (lambda obj: (lambda: obj))(kb)
        _CACHE[key] = (ref, built)
        return built


def check(reading: Reading, kb=None, engine: str = "auto") -> Report:
    """Check a reading against every rule of the KB (the shipped one when kb is None)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    if kb is None:
        from kb.load import load_kb

        kb = load_kb()
    given = reading.given()
    derived = reading.derived()
    values = {k: v for k, v in given.items() if k not in LIST_FIELDS}  # exactly Reading.values()
    values.update(derived)
    notes: list[str] = []
    used = "evaluator"
    fired: set[str] | None = None
    if engine != "evaluator":
        eng = durable_engine_for(kb)
        if isinstance(eng, str):
            notes.append(eng)
        else:
            from engine.durable import DurableError

            try:
                fired = eng.fired(values)
                used = "durable-rules"
                for rid in eng.evaluator_only:  # too large for one durable ruleset: the evaluator decides them
                    lr = kb.rules[rid]
                    if rule_truth(lr.rule.scope, lr.tree, values) is True:
                        fired.add(rid)
            except DurableError as e:
                notes.append(f"{e}; the built-in evaluator checked this reading")
                fired = None

    findings: list[Finding] = []
    not_checked: list[NotChecked] = []
    agree: list[str] = []
    for rid, lr in kb.rules.items():
        rule = lr.rule
        t = rule_truth(rule.scope, lr.tree, values)
        fires = (rid in fired) if fired is not None else t is True
        if fired is not None and fires != (t is True):
            agree.append(rid)
        if fires:
            findings.append(_finding(lr, values))
        elif t is None:
            _, scope_missing = scope_truth(rule.scope, values)
            missing = list(dict.fromkeys(scope_missing + unknown_fields(lr.tree, values)))
            not_checked.append(NotChecked(rid, rule.title, missing))
    if agree:
        notes.append("durable-rules and the evaluator disagree on: " + ", ".join(sorted(agree))
                     + " (please report this reading)")
    shown = dict(given)
    shown.update(derived)
    return Report(kb_version=kb.kb_version, reading=shown, findings=findings, not_checked=not_checked,
                  engine=used, notes=notes)


def _finding(lr, values: dict[str, Any]) -> Finding:
    rule = lr.rule
    outcome = evaluate(lr.tree, values)
    explanation = list(outcome.explanation)
    scope = scope_text(rule.scope, values)
    if scope:
        explanation.insert(0, f"scope: {scope}")
    read = ["bms"] * bool(rule.scope.families) + ["chemistry"] * bool(rule.scope.chemistry) + fields_of(lr.tree)
    evidence = {f: values[f] for f in dict.fromkeys(read) if values.get(f) is not None}
    return Finding(rule=rule.id, severity=rule.severity, title=rule.title,
                   message=render_template(rule.message, values), remedy=list(rule.remedy),
                   citations=list(rule.citations), evidence=evidence, section=rule.section, explanation=explanation)
