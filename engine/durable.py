"""The durable-rules adapter: KB rules (condition tree + scope) compiled to durable JSON rulesets.

What durable_rules 2.0.28 needs from us, each point measured (see the project notes and tests/test_durable.py):
- Facts, not events (an event is consumed by the first rule that fires). A positive discriminator
  ``{"kind": "reading"}`` starts every rule, so the engine's own state fact can never match (it would loop).
- A ``$m`` reference or arithmetic on a *missing* field matches as if it were true: every field on the right-hand
  side gets an ``$ex`` guard, so a missing field never makes a comparison true (Kleene: unknown is not true).
- Integer division by zero kills the process (SIGFPE) and float division by zero yields inf: numbers are sent as
  floats, and every divisor gets a non-zero guard.
- ``$or`` is expanded into one term per disjunct and more than 64 terms matching one fact fail with error 303
  (a badly broken pack is exactly when many rules fire): rules are packed into shards with a bounded number of
  terms, so no fact can ever reach the limit.
- Registering a ruleset after ``delete_state`` has run on any session crashes the C core (segfault), so rather
  than a fresh session per reading each shard keeps one session and every reading is asserted with a fresh
  ``id`` and retracted in ``finally``: nothing stays behind, and a new KB can still be compiled later.
- Its JSON parser refuses numbers such as ``1e-05`` (an exponent without a decimal point, which is how Python
  writes very small and very large floats): facts are serialised here, with ``1.0e-05``, and a rule whose
  literal cannot be written safely is left to the evaluator.
- ``Host`` starts timer threads that run actions off-thread: our Host subclass starts none, and one process-wide
  lock serialises every call into the C core (it has no locks of its own).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kb.expr import And, Arith, Cmp, Lit, Node, Or, Ref

DISCRIMINATOR = {"kind": "reading"}
RESERVED = frozenset({"id", "sid", "kind"})
MAX_TERMS_PER_SHARD = 32  # durable fails at 65 terms matching one fact; keep half of that as margin
MAX_RULES_PER_SHARD = 16  # the term budget is what keeps a shard safe; fewer shards = fewer calls
MAX_TERMS_PER_RULE = 60  # a rule expanding to more terms than this is left to the evaluator
SESSION = "bmsdoc"

_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ARITH = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div"}

_LOCK = threading.RLock()  # every call into the C core, process-wide
_HOST = None
_NAMES = itertools.count(1)
_IDS = itertools.count(1)
_IMPORT_ERROR: str | None = None


class DurableUnavailable(Exception):
    """durable_rules cannot be imported here (it does not build on Python 3.13+)."""


class DurableError(Exception):
    """The C core reported an error; the caller falls back to the evaluator."""


def available() -> bool:
    try:
        _durable()
    except DurableUnavailable:
        return False
    return True


def unavailable_reason() -> str:
    return _IMPORT_ERROR or ""


def _durable():
    global _IMPORT_ERROR
    if _IMPORT_ERROR is not None:
        raise DurableUnavailable(_IMPORT_ERROR)
    try:
        from durable import engine as durable_engine
    except Exception as e:  # ImportError, or a broken build of the C extension
        _IMPORT_ERROR = f"durable-rules is not available ({type(e).__name__}: {e})"
        raise DurableUnavailable(_IMPORT_ERROR) from None
    return durable_engine


def _host():
    global _HOST
    if _HOST is None:
        durable_engine = _durable()

        class QuietHost(durable_engine.Host):
            def _run(self) -> None:  # no dispatcher/timer threads: actions run inside assert_fact, on our thread
                pass

        _HOST = QuietHost()
    return _HOST


# ---------------------------------------------------------------- compiling a condition tree


@dataclass
class Compiled:
    """One rule in durable JSON, with the guard fields its computed divisors need."""

    rule_id: str
    condition: dict[str, Any]
    terms: int  # how many terms durable expands it into (the quantity the 64 limit counts)
    unsafe: bool = False  # has a literal durable cannot parse: the evaluator decides it
    divisors: dict[str, Any] = field(default_factory=dict)  # synthetic fact key -> operand that must be non-zero


def terms(node: Node) -> int:
    """Number of disjunctive-normal-form terms: what durable builds one alpha chain for."""
    if isinstance(node, Cmp):
        return 1
    counts = [terms(i) for i in node.items]
    if isinstance(node, Or):
        return sum(counts)
    out = 1
    for c in counts:
        out *= c
    return out


class _Compiler:
    def __init__(self, rule_id: str):
        self.rule_id = rule_id
        self.divisors: dict[str, Any] = {}
        self.unsafe_literal = False  # a number durable's parser would refuse

    def node(self, n: Node) -> dict[str, Any]:
        if isinstance(n, Cmp):
            return self.cmp(n)
        key = "$and" if isinstance(n, And) else "$or"
        return {key: [self.node(i) for i in n.items]}

    def cmp(self, c: Cmp) -> dict[str, Any]:
        guards: list[dict[str, Any]] = []
        rhs = self.operand(c.rhs, guards)
        if rhs is _NEVER:  # a constant division by zero: unknown for every reading, so never true
            return {"$and": [{"$ex": {c.field: 1}}, {"$nex": {c.field: 1}}]}
        test = {c.field: rhs} if c.op == "==" else {_OPS[c.op]: {c.field: rhs}}
        if not guards and not isinstance(rhs, dict):
            return test
        fields = [c.field] + [g for g in _ref_fields(c.rhs) if g != c.field]
        exists = [{"$ex": {f: 1}} for f in dict.fromkeys(fields)]
        return {"$and": exists + guards + [test]}

    def operand(self, o, guards: list[dict[str, Any]]):
        if isinstance(o, Lit):
            return self.literal(o.value)
        if isinstance(o, Ref):
            return {"$m": o.field}
        folded = _fold(o)
        if folded is not None:
            return _NEVER if folded is _NEVER else self.literal(folded)
        left = self.operand(o.left, guards)
        right = self.operand(o.right, guards)
        if left is _NEVER or right is _NEVER:
            return _NEVER
        if o.op == "/":
            if isinstance(o.right, Ref):
                guards.append({"$neq": {o.right.field: 0.0}})
            elif isinstance(o.right, Arith):
                key = f"_nz_{self.rule_id}_{len(self.divisors)}".replace("-", "_").replace(".", "_")
                self.divisors[key] = o.right
                guards.append({key: True})
        return {_ARITH[o.op]: {"$l": left, "$r": right}}


    def literal(self, v: Any) -> Any:
        if isinstance(v, bool) or isinstance(v, str):
            return v
        f = float(v)  # doubles on both sides: no integer division, the same rounding as the evaluator
        if not _plain_number(repr(f)):
            self.unsafe_literal = True
        return f


_NEVER = object()


def _plain_number(text: str) -> bool:
    """durable's parser takes 1.5e-10 but not 1e-10: an exponent needs a decimal point before it."""
    mantissa, e, _ = text.lower().partition("e")
    return not e or "." in mantissa


def number_json(f: float) -> str:
    text = repr(f)
    if _plain_number(text):
        return text
    mantissa, _, exponent = text.lower().partition("e")
    return f"{mantissa}.0e{exponent}"


def _fold(o) -> Any:
    """Value of an arithmetic operand made only of literals (None if it names a field)."""
    if isinstance(o, Lit):
        return float(o.value)
    if isinstance(o, Ref):
        return None
    a, b = _fold(o.left), _fold(o.right)
    if a is None or b is None:
        return None
    if a is _NEVER or b is _NEVER:
        return _NEVER
    from engine.evaluate import _DivZero, arith

    try:
        return arith(o.op, a, b)
    except _DivZero:
        return _NEVER


def _ref_fields(o) -> list[str]:
    if isinstance(o, Ref):
        return [o.field]
    if isinstance(o, Arith):
        return _ref_fields(o.left) + _ref_fields(o.right)
    return []


def scope_condition(scope) -> tuple[list[dict[str, Any]], int]:
    """Scope as durable conditions (and the term multiplier they add)."""
    conds: list[dict[str, Any]] = []
    mult = 1
    families = list(getattr(scope, "families", []) or [])
    if families:
        conds.append({"bms": families[0]} if len(families) == 1 else {"$or": [{"bms": f} for f in families]})
        mult *= len(families)
    chemistry = list(getattr(scope, "chemistry", []) or [])
    if chemistry:  # a reading whose chemistry is neither given nor inferred is outside (unknown, not true)
        alts: list[dict[str, Any]] = [{"chemistry": c} for c in chemistry]
        conds.append(alts[0] if len(alts) == 1 else {"$or": alts})
        mult *= len(alts)
    return conds, mult


def compile_rule(rule_id: str, tree: Node, scope=None) -> Compiled:
    comp = _Compiler(rule_id)
    scope_conds, mult = scope_condition(scope)
    cond = {"$and": [dict(DISCRIMINATOR), *scope_conds, comp.node(tree)]}
    return Compiled(rule_id, cond, terms(tree) * mult, comp.unsafe_literal, comp.divisors)


# ---------------------------------------------------------------- sharding


@dataclass
class Shard:
    name: str
    rules: list[Compiled]
    ruleset: Any = None  # durable's Ruleset object, looked up once

    @property
    def terms(self) -> int:
        return sum(r.terms for r in self.rules)


def pack(compiled: Iterable[Compiled]) -> tuple[list[list[Compiled]], list[str]]:
    """First-fit packing into shards of at most MAX_RULES_PER_SHARD rules and MAX_TERMS_PER_SHARD terms (a rule
    bigger than a shard's budget gets a shard of its own). Rules beyond MAX_TERMS_PER_RULE, or with a literal
    durable cannot parse, are returned apart (the evaluator decides them)."""
    shards: list[list[Compiled]] = []
    too_big: list[str] = []
    for c in compiled:
        if c.terms > MAX_TERMS_PER_RULE or c.unsafe:
            too_big.append(c.rule_id)
            continue
        for s in shards:
            if len(s) < MAX_RULES_PER_SHARD and sum(x.terms for x in s) + c.terms <= MAX_TERMS_PER_SHARD:
                s.append(c)
                break
        else:
            shards.append([c])
    return shards, too_big


# ---------------------------------------------------------------- the engine


def _rule_parts(r: Any) -> tuple[str, Node, Any]:
    """Accept kb.load.LoadedRule (rule + tree) or a (id, tree, scope) triple."""
    if isinstance(r, tuple):
        return r
    return r.rule.id, r.tree, r.rule.scope


class DurableEngine:
    """All rules of one KB, registered once in the process-wide host. ``fired(values)`` -> rule ids."""

    def __init__(self, rules: Mapping[str, Any] | Iterable[Any]):
        items = rules.values() if isinstance(rules, Mapping) else rules
        compiled = [compile_rule(*_rule_parts(r)) for r in items]
        groups, self.evaluator_only = pack(compiled)
        self.divisors: dict[str, Any] = {k: v for c in compiled for k, v in c.divisors.items()}
        self.broken: str | None = None
        self._sink: list[str] = []
        self.shards: list[Shard] = []
        with _LOCK:
            host = _host()
            base = f"bmsdoc_{next(_NAMES)}"
            definitions = {}
            for i, group in enumerate(groups):
                name = f"{base}_{i}"
                self.shards.append(Shard(name, group))
                definitions[name] = self._ruleset(group)
            if definitions:
                host.register_rulesets(definitions)  # it mutates its input: built fresh just above

    def _ruleset(self, group: list[Compiled]) -> dict[str, Any]:
        rs = {}
        for c in group:
            rs[c.rule_id] = {"all": [{"m": _deep_copy(c.condition)}], "run": self._action(c.rule_id)}
        return rs

    def _action(self, rule_id: str):
        sink = self._sink

        def run(c) -> None:  # trivial on purpose: exceptions inside actions are swallowed by durable
            sink.append(rule_id)

        return run

    def fact(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The reading as a durable fact: scalars only, numbers as finite floats, guard keys, the discriminator."""
        fact: dict[str, Any] = {}
        for k, v in values.items():
            if v is None or isinstance(v, (list, tuple, dict)):
                continue
            if not isinstance(k, str) or k in RESERVED or k.startswith("$"):
                raise ValueError(f"'{k}' is reserved and cannot be a reading field")
            if isinstance(v, bool) or isinstance(v, str):
                fact[k] = v
            elif isinstance(v, (int, float)):
                f = float(v)
                if not math.isfinite(f):
                    raise ValueError(f"'{k}': NaN and infinity are not readings")
                fact[k] = f
            else:
                raise ValueError(f"'{k}': unsupported value type {type(v).__name__}")
        if self.divisors:
            from engine.evaluate import nonzero

            for key, operand in self.divisors.items():
                fact[key] = nonzero(operand, values)
        fact["kind"] = "reading"
        return fact

    @staticmethod
    def _body(fact: Mapping[str, Any]) -> str:
        """The fact as JSON without its identity, written so durable's parser accepts every number."""
        parts = []
        for k, v in fact.items():
            if isinstance(v, bool):
                text = "true" if v else "false"
            elif isinstance(v, float):
                text = number_json(v)
            else:
                text = json.dumps(v, ensure_ascii=False)
            parts.append(f"{json.dumps(k, ensure_ascii=False)}:{text}")
        return ",".join(parts)

    def fired(self, values: Mapping[str, Any]) -> set[str]:
        """Ids of the rules whose scope and condition are true for these values (evaluator-only rules excluded)."""
        if self.broken:
            raise DurableError(self.broken)
        fact = self.fact(values)
        body = self._body(fact)
        durable_engine = _durable()
        import durable_rules_engine as core

        not_handled = durable_engine.MessageNotHandledException
        with _LOCK:
            host = _host()
            self._sink.clear()
            for shard in self.shards:
                rs = shard.ruleset or host.get_ruleset(shard.name)
                shard.ruleset = rs
                # a fresh identity per assert: never mistaken for (or merged with) an earlier reading
                js = f'{{"sid":"{SESSION}","id":{next(_IDS)},{body}}}'
                try:
                    # Host.assert_fact, minus its json.dumps (see the module docstring); actions run right here
                    host._handle_function(rs, lambda _: rs._handle_result(core.assert_fact(rs._handle, js), fact),  # noqa: B023 (called at once)
                                          None, None)
                except not_handled:
                    pass  # no rule of this shard matched
                except Exception as e:
                    self.broken = f"durable-rules failed on shard {shard.name}: {e}"
                finally:
                    try:
                        host._handle_function(rs, lambda _: rs._handle_result(core.retract_fact(rs._handle, js), fact),  # noqa: B023 (called at once)
                                              None, None)
                    except not_handled:
                        pass
                    except Exception as e:
                        self.broken = self.broken or f"durable-rules could not retract on shard {shard.name}: {e}"
                if self.broken:
                    break
            out = set(self._sink)
            self._sink.clear()
        if self.broken:
            raise DurableError(self.broken)
        return out


def _deep_copy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deep_copy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deep_copy(v) for v in d]
    return d
