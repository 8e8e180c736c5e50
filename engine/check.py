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

from engine.evaluate import (
    TEMPLATE_FIELD,
    evaluate,
    fmt_value,
    render_template,
    rule_truth,
    scope_text,
    scope_truth,
    unknown_fields,
)
from engine.facts import condition_values, derive_facts
from engine.reading import Reading
from engine.report import Finding, NotChecked, Question, Report
from kb.expr import fields_of, known_fields
from kb.schema import SEVERITY_ORDER

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
            ref: Any = weakref.ref(kb)
        except TypeError:  # an object that cannot be weakly referenced: keep it alive with the engine
            ref = (lambda obj: (lambda: obj))(kb)
        _CACHE[key] = (ref, built)
        return built


def check(reading: Reading, kb=None, engine: str = "auto") -> Report:
    """Check a reading against every rule of the KB (the shipped one when kb is None).

    The reading first becomes derived facts with provenance (engine.facts): series from the cell count, chemistry
    from the voltages, what the pack is doing, handbook defaults for settings nobody gave. Rules run over those;
    findings a root cause accounts for are grouped under it; what is missing and would decide a warning or
    critical finding becomes a ranked question."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    if kb is None:
        from kb.load import load_kb

        kb = load_kb()
    facts = derive_facts(reading, kb)
    values = condition_values(facts, known_flags(kb))  # = values_for(reading, kb)
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
    undecided: list[Any] = []  # rules neither true nor false: what is missing is worked out when asked
    agree: list[str] = []
    scoped = rules_in_scope(kb, values.get("bms"), values.get("chemistry"))
    if fired is None:  # the evaluator alone (the fleet, the live view) decides
        for _rid, lr, s, condition in scoped:
            t = condition(values)  # = rule_truth(lr.rule.scope, lr.tree, values): s is the scope's part
            if t is True and s is not None:
                findings.append(_finding(lr, values, facts))
            elif t is not False:  # unknown, or true where the scope is not known
                undecided.append(lr)
    else:  # durable-rules decides which rules fire; the evaluator says which are undecided and checks it agrees
        for rid, lr, s, condition in scoped:
            t = condition(values)
            if t is not False and s is None:
                t = None
            fires = rid in fired
            if fires != (t is True):
                agree.append(rid)
            if fires:
                findings.append(_finding(lr, values, facts))
            elif t is None:
                undecided.append(lr)
        # durable-rules fired a rule whose scope excludes the reading: it decides, as above
        for rid in sorted(fired - {rid for rid, _lr, _s, _c in scoped}):
            if kb.rules[rid].rule.status != "deprecated":
                agree.append(rid)
                findings.append(_finding(kb.rules[rid], values, facts))
    if agree:
        notes.append("durable-rules and the evaluator disagree on: " + ", ".join(sorted(agree))
                     + " (please report this reading)")
    findings = group_by_root_cause(kb, findings)
    shown = {k: f.value for k, f in facts.items()}

    def pending() -> tuple[list[NotChecked], list[Question]]:
        return _pending_cached(kb, undecided, values, facts)

    return Report(kb_version=kb.kb_version, reading=shown, findings=findings, engine=used, notes=notes, facts=facts,
                  pending=pending)


def _pending(kb, undecided: list[Any], values: dict[str, Any], facts) -> tuple[list[NotChecked], list[Question]]:
    not_checked = []
    for lr in undecided:
        _, scope_missing = scope_truth(lr.rule.scope, values)
        missing = list(dict.fromkeys(scope_missing + unknown_fields(lr.tree, values)))
        not_checked.append(NotChecked(lr.rule.id, lr.rule.title, missing))
    return not_checked, rank_questions(kb, not_checked, values, facts)


_PENDING_CACHE: dict[int, tuple[Any, dict[tuple, tuple[list[NotChecked], list[Question]]]]] = {}
_PENDING_MAX = 512  # distinct (undecided rules, known facts) combinations kept per KB


def _pending_cached(kb, undecided: list[Any], values: dict[str, Any], facts) -> tuple[list[NotChecked], list[Question]]:
    """_pending, remembered by everything it reads: which rules are undecided, which facts are known and how
    (provenance), the value of every assumed fact (it is quoted in the question) and whether the chemistry is
    ambiguous. What is missing for a rule depends only on which fields are known, never on their values, so two
    readings with the same key get the same questions (the fleet and the live view check many a second)."""
    from engine.facts import ASSUMED

    fs = facts.values()
    # the undecided rules by identity (the KB's rule objects live as long as this cache's entry for it)
    key = (tuple(map(id, undecided)), tuple(facts), tuple([f.provenance for f in fs]),
           tuple([(k, f.value) for k, f in facts.items() if f.provenance == ASSUMED or f.value is None]),
           bool(facts["chemistry_ambiguous"].value) if "chemistry_ambiguous" in facts else None)
    hit = _PENDING_CACHE.get(id(kb))
    if hit is None or hit[0] is not kb:
        _PENDING_CACHE.clear()  # one KB at a time in practice (a reload replaces it)
        hit = _PENDING_CACHE[id(kb)] = (kb, {})
    table = hit[1]
    try:
        got = table.get(key)
    except TypeError:  # an unhashable assumed value: work it out every time
        return _pending(kb, undecided, values, facts)
    if got is None:
        got = _pending(kb, undecided, values, facts)
        if len(table) >= _PENDING_MAX:
            del table[next(iter(table))]
        table[key] = got
    return list(got[0]), list(got[1])  # the lists are the caller's; the frozen items are shared


_SCOPE_CACHE: dict[int, tuple[Any, dict[tuple[Any, Any], list[tuple[str, Any, Any, Any]]], dict[str, Any]]] = {}


def rules_in_scope(kb, bms: Any, chemistry: Any) -> list[tuple[str, Any, Any, Any]]:
    """(id, rule, scope truth, condition) of every rule that runs (not deprecated) and whose scope is not false
    for this family and chemistry (None: not known), in KB order; worked out once per KB and pair. A scope reads
    only the reading's bms and chemistry (engine.evaluate.scope_truth), so the rules it rules out need no look.
    condition(values) is the rule's condition compiled once per KB (engine.compiled): truth(tree, values)."""
    from engine.compiled import compile_truth

    hit = _SCOPE_CACHE.get(id(kb))
    if hit is None or hit[0] is not kb:
        _SCOPE_CACHE.clear()
        hit = _SCOPE_CACHE[id(kb)] = (kb, {}, {})
    key: tuple[Any, Any] | None = (bms, chemistry)
    try:
        got = hit[1].get(key)  # type: ignore[arg-type]
    except TypeError:  # not hashable (never for a validated reading): no cache
        got, key = None, None
    if got is None:
        values = {"bms": bms, "chemistry": chemistry}
        got = []
        for rid, lr in kb.rules.items():
            if lr.rule.status == "deprecated":  # kept for its id and history, never run
                continue
            s, _ = scope_truth(lr.rule.scope, values)
            if s is not False:
                condition = hit[2].get(rid)
                if condition is None:
                    condition = hit[2][rid] = compile_truth(lr.tree)
                got.append((rid, lr, s, condition))
        if key is not None and len(hit[1]) < 256:
            hit[1][key] = got
    return got


def values_for(reading: Reading, kb) -> dict[str, Any]:
    """What rule conditions see for this reading: its derived facts (with defaults) and the known() flags."""
    return condition_values(derive_facts(reading, kb), known_flags(kb))


_FIELDS_CACHE: dict[int, tuple[Any, dict[str, tuple[str, ...] | None]]] = {}


def rule_fields(kb) -> dict[str, tuple[str, ...] | None]:
    """Per rule, the fields its condition reads (None for rules over ride-log events), computed once per KB."""
    hit = _FIELDS_CACHE.get(id(kb))
    if hit is None or hit[0] is not kb:
        from kb.fields import FIELDS

        table: dict[str, tuple[str, ...] | None] = {}
        for rid, lr in kb.rules.items():
            fs = tuple(fields_of(lr.tree))
            table[rid] = None if any(f in FIELDS and FIELDS[f].group == "log" for f in fs) else fs
        _FIELDS_CACHE[id(kb)] = hit = (kb, table)
    return hit[1]


def known_flags(kb) -> frozenset[str]:
    """Fields whose known()/unknown() some rule tests (their flags go into every fact)."""
    key = id(kb)
    hit = _KNOWN_CACHE.get(key)
    if hit is None or hit[0] is not kb:
        flags = frozenset(f for lr in kb.rules.values() for f in known_fields(lr.tree))
        _KNOWN_CACHE[key] = hit = (kb, flags)
    return hit[1]


_KNOWN_CACHE: dict[int, tuple[Any, frozenset[str]]] = {}


def group_by_root_cause(kb, findings: list[Finding]) -> list[Finding]:
    """A finding that a fired root cause explains (rule `explains:`) is kept, marked as explained by it: its own
    remedy would send the rider the wrong way (a sense-lead fault is not a weak cell)."""
    from dataclasses import replace

    from kb.reasoning import explained

    fired = {f.rule for f in findings}
    roots = sorted(r for r in fired if kb.rules[r].rule.explains)
    by: dict[str, str] = {}
    for rule in fired:
        root = next((r for r in roots if r != rule and explained(kb, r, rule) and not explained(kb, rule, r)), None)
        if root is not None:
            by[rule] = root
    top: dict[str, str] = {}
    for rule in by:  # a root cause explained by another one: everything goes under the outermost
        seen, cur = {rule}, by[rule]
        while cur in by and by[cur] not in seen:
            seen.add(cur)
            cur = by[cur]
        top[rule] = cur
    return [replace(f, explained_by=top[f.rule]) if f.rule in top else f for f in findings]


def rank_questions(kb, not_checked: list[NotChecked], values: dict[str, Any], facts) -> list[Question]:
    """What to ask: every input field whose absence keeps a warning or critical rule undecided, ranked by the worst
    severity it could reveal, then by how close those rules are to firing, then by how many they are."""
    from kb.fields import FIELDS, ask_for

    asked: dict[str, dict[str, Any]] = {}
    texts = kb.questions
    read = rule_fields(kb)
    for nc in not_checked:
        lr = kb.rules[nc.rule]
        rule = lr.rule
        fields = read.get(nc.rule)
        if fields is None:
            continue  # ride-log events (a cut, a spike) come from `bmsdoc log analyze`, not from a rider's answer
        # the share (%) of the rule's facts already known: how close it is to deciding. Identity (series, family,
        # chemistry) is nearly always known, so it does not make a rule "close" ("what board rating?" for every pack)
        facts_read = [f for f in fields if f not in FIELDS or FIELDS[f].group != "identity"]
        known = sum(1 for f in facts_read if f in facts and facts[f].provenance != "assumed")
        near = round(100 * known / len(facts_read)) if facts_read else 0
        for missing in nc.missing:
            for name in ask_for(missing) if missing in FIELDS else (missing,):
                if name in facts and facts[name].provenance != "assumed":
                    continue  # known already: another input of the derived field is what is missing
                q = asked.setdefault(name, {"rules": [], "severity": rule.severity, "citations": {}, "near": 0})
                q["rules"].append(rule.id)
                if SEVERITY_ORDER[rule.severity] < SEVERITY_ORDER[q["severity"]]:
                    q["severity"] = rule.severity
                q["near"] = max(q["near"], near)
                q["citations"].update(dict.fromkeys(rule.citations))
    out = []
    for name, q in asked.items():
        text = texts.get(name)
        by_severity = sorted(q["rules"], key=lambda r: SEVERITY_ORDER[kb.rules[r].rule.severity])
        titles = [kb.rules[r].rule.title for r in by_severity]
        why = "It decides: " + "; ".join(dict.fromkeys(titles[:3])) + (f" (+{len(titles) - 3} more)" if len(titles) > 3 else "")
        spec = FIELDS.get(name)
        ask = text.ask if text else f"What is the {spec.doc if spec and spec.doc else name.replace('_', ' ')}?"
        how = text.how if text else ""
        if name in facts and facts[name].provenance == "assumed":
            ask += f" (assumed {facts[name].value:g} for now)"
        out.append(Question(name, ask, why, how, q["severity"], q["rules"], list(q["citations"]), q["near"]))
    ambiguous = "chemistry_ambiguous" in facts and facts["chemistry_ambiguous"].value
    # a question about a rule nothing is known of yet is speculation: those come after the ones that decide
    out.sort(key=lambda q: (not (ambiguous and q.field == "chemistry"), q.relevance == 0,
                            SEVERITY_ORDER[q.severity], -q.relevance, -len(q.rules), q.field))
    return out


def _finding(lr, values: dict[str, Any], facts) -> Finding:
    from engine.facts import ASSUMED, assumption_text

    rule = lr.rule
    outcome = evaluate(lr.tree, values)
    explanation = list(outcome.explanation)
    scope = scope_text(rule.scope, values)
    if scope:
        explanation.insert(0, f"scope: {scope}")
    read = ["bms"] * bool(rule.scope.families) + ["chemistry"] * bool(rule.scope.chemistry) + fields_of(lr.tree) \
        + [m.group(1) for m in TEMPLATE_FIELD.finditer(rule.message)]
    evidence = {f: values[f] for f in dict.fromkeys(read) if values.get(f) is not None}
    provenance = {f: facts[f].provenance for f in evidence if f in facts}
    assumed = [assumption_text(f, facts[f]) for f in evidence if f in facts and facts[f].provenance == ASSUMED]
    inferred = [f"{f.replace('_', ' ')} {fmt_value(facts[f].value)} inferred ({facts[f].basis})" for f in evidence
                if f in facts and facts[f].provenance == "inferred" and facts[f].basis]
    return Finding(rule=rule.id, severity=rule.severity, title=rule.title,
                   message=render_template(rule.message, values), remedy=list(rule.remedy),
                   citations=list(rule.citations), evidence=evidence, section=rule.section, explanation=explanation,
                   provenance=provenance, assumed=assumed + inferred, status=rule.status)
