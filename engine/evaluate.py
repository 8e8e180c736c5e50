"""The reference evaluator: plain Python over a kb.expr condition tree, three-valued (Kleene).

A comparison that names a missing field (on either side) is *unknown*; so is one whose arithmetic divides by
zero. And/Or combine true/false/unknown as Kleene logic does, and a rule fires only when its condition is true.
This module is the oracle the durable-rules engine is tested against, the source of every "why did it fire"
explanation, and the engine itself where durable-rules cannot be installed.

It also matches rule scopes and fills message templates (by regex, never ``str.format`` on content text).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kb.expr import And, Arith, Cmp, Lit, Node, Or, Ref, known_field

Truth = bool | None  # None = unknown


@dataclass(frozen=True)
class Outcome:
    value: Truth
    missing: list[str] = field(default_factory=list)  # fields whose absence left a comparison unknown
    explanation: list[str] = field(default_factory=list)  # one line per comparison (and per nested group)


class _DivZero(Exception):
    pass


_MISSING = object()


# ---------------------------------------------------------------- operands and comparisons


def _get(values: Mapping[str, Any], name: str) -> Any:
    v = values.get(name, _MISSING)
    return _MISSING if v is None else v


def _num(v: Any) -> Any:
    # durable-rules computes in doubles; so do we (ints become floats, bools and text stay as they are)
    return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


def arith(op: str, a: float, b: float) -> float:
    a, b = float(a), float(b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise _DivZero
    return a / b


def operand_value(o, values: Mapping[str, Any]) -> Any:
    """The operand's value, _MISSING if a field it needs is absent; raises _DivZero on a zero divisor."""
    if isinstance(o, Lit):
        return o.value
    if isinstance(o, Ref):
        return _get(values, o.field)
    left = operand_value(o.left, values)
    right = operand_value(o.right, values)
    if left is _MISSING or right is _MISSING:
        return _MISSING
    return arith(o.op, left, right)


def nonzero(o, values: Mapping[str, Any]) -> bool:
    """True when the operand has a value and it is not zero (the guard durable needs for a computed divisor)."""
    try:
        v = operand_value(o, values)
    except _DivZero:
        return False
    return v is not _MISSING and v != 0


def _compare(op: str, a: Any, b: Any) -> Truth:
    a, b = _num(a), _num(b)
    try:
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if isinstance(a, (bool, str)) or isinstance(b, (bool, str)):
            return None  # ordering text or yes/no values has no meaning (the parser rejects it anyway)
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b
    except TypeError:
        return None


def _cmp_truth(c: Cmp, values: Mapping[str, Any]) -> Truth:
    left = _get(values, c.field)
    if left is _MISSING:
        return None
    try:
        right = operand_value(c.rhs, values)
    except _DivZero:
        return None
    if right is _MISSING:
        return None
    return _compare(c.op, left, right)


# ---------------------------------------------------------------- truth (fast path, no explanation)


def truth(tree: Node, values: Mapping[str, Any]) -> Truth:
    """The condition's three-valued truth, without building an explanation."""
    if isinstance(tree, Cmp):
        return _cmp_truth(tree, values)
    if isinstance(tree, And):
        result: Truth = True
        for item in tree.items:
            t = truth(item, values)
            if t is False:
                return False
            if t is None:
                result = None
        return result
    result = False
    for item in tree.items:
        t = truth(item, values)
        if t is True:
            return True
        if t is None:
            result = None
    return result


def unknown_fields(tree: Node, values: Mapping[str, Any]) -> list[str]:
    """Missing fields of the comparisons that came out unknown (what evaluate() reports, without the text)."""
    out: dict[str, None] = {}
    stack = [tree]
    while stack:
        n = stack.pop()
        if isinstance(n, Cmp):
            if _cmp_truth(n, values) is None:
                for f in (n.field, *_fields_in(n.rhs)):
                    if _get(values, f) is _MISSING:
                        out[f] = None
        else:
            stack.extend(reversed(n.items))
    return list(out)


# ---------------------------------------------------------------- evaluation with explanation


def fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, float):
        if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return format(v, ".6g")
    return str(v)


def _operand_text(o, values: Mapping[str, Any]) -> str:
    if isinstance(o, Lit):
        return fmt_value(o.value)
    if isinstance(o, Ref):
        v = _get(values, o.field)
        return f"{o.field} (missing)" if v is _MISSING else f"{o.field} {fmt_value(v)}"
    return f"({_operand_text(o.left, values)} {o.op} {_operand_text(o.right, values)})"


def _fields_in(o) -> list[str]:
    if isinstance(o, Ref):
        return [o.field]
    if isinstance(o, Arith):
        return _fields_in(o.left) + _fields_in(o.right)
    return []


def _word(t: Truth) -> str:
    return "unknown" if t is None else ("true" if t else "false")


def _explain_cmp(c: Cmp, values: Mapping[str, Any]) -> tuple[Truth, list[str], str]:
    kf = known_field(c.field)
    if kf is not None:
        t = _cmp_truth(c, values)
        return t, [], f"{'known' if c.op == '==' else 'unknown'}({kf}) -> {_word(t)}"
    left = _get(values, c.field)
    missing = [c.field] if left is _MISSING else []
    missing += [f for f in _fields_in(c.rhs) if _get(values, f) is _MISSING and f not in missing]
    rhs_text = _operand_text(c.rhs, values)
    note = ""
    if isinstance(c.rhs, Arith) and not missing:
        try:
            rhs_text += f" = {fmt_value(operand_value(c.rhs, values))}"
        except _DivZero:
            note = " (division by zero)"
    t = _cmp_truth(c, values)
    left_text = f"{c.field} (missing)" if left is _MISSING else f"{c.field} {fmt_value(left)}"
    return t, missing, f"{left_text} {c.op} {rhs_text}{note} -> {_word(t)}"


def _explain_leaf(c: Cmp, values: Mapping[str, Any], depth: int, lines: list[str], missing: dict[str, None]) -> Truth:
    t, miss, text = _explain_cmp(c, values)
    if t is None:
        missing.update(dict.fromkeys(miss))
    lines.append("  " * depth + text)
    return t


def _combine(tree: Node, results: list[Truth]) -> Truth:
    if isinstance(tree, And):
        return False if False in results else (None if None in results else True)
    return True if True in results else (None if None in results else False)


def evaluate(tree: Node, values: Mapping[str, Any]) -> Outcome:
    """Three-valued truth of the condition, the fields whose absence made it unknown, and the explanation.

    The explanation mirrors the tree: one line per comparison with the actual values; a nested group gets a
    header line ('any of -> true') and its items indented below it. The root group has no header: its result
    is the outcome."""
    lines: list[str] = []
    missing: dict[str, None] = {}
    if isinstance(tree, Cmp):
        value = _explain_leaf(tree, values, 0, lines, missing)
    else:
        results = [_explain_leaf(i, values, 0, lines, missing) if isinstance(i, Cmp)
                   else _explain_group(i, values, 0, lines, missing) for i in tree.items]
        value = _combine(tree, results)
    return Outcome(value, list(missing) if value is None else [], lines)


def _explain_group(tree: And | Or, values: Mapping[str, Any], depth: int, lines: list[str],
                   missing: dict[str, None]) -> Truth:
    header_at = len(lines)
    lines.append("")
    results = [_explain_leaf(i, values, depth + 1, lines, missing) if isinstance(i, Cmp)
               else _explain_group(i, values, depth + 1, lines, missing) for i in tree.items]
    t = _combine(tree, results)
    lines[header_at] = f"{'  ' * depth}{'all of' if isinstance(tree, And) else 'any of'} -> {_word(t)}"
    return t


# ---------------------------------------------------------------- scope


def scope_truth(scope, values: Mapping[str, Any]) -> tuple[Truth, list[str]]:
    """Does a rule's scope (families, chemistry) cover this reading? Unknown when a family-scoped rule meets a
    reading that does not say which BMS it is, and when a chemistry-scoped rule meets a reading whose chemistry is
    neither given nor inferred (engine.facts)."""
    result: Truth = True
    missing: list[str] = []
    families = list(getattr(scope, "families", []) or [])
    if families:
        bms = values.get("bms")
        if bms is None:
            result, missing = None, ["bms"]
        elif bms not in families:
            return False, []
    chemistry = list(getattr(scope, "chemistry", []) or [])
    if chemistry:
        chem = values.get("chemistry")
        if chem is None:  # neither given nor inferable: Li-ion advice is not given to what may be LiFePO4
            result, missing = None, missing + ["chemistry"]
        elif chem not in chemistry:
            return False, []
    return result, missing


def scope_text(scope, values: Mapping[str, Any] | None = None) -> str:
    """The scope as an explanation line, with the reading's values when given."""
    values = values or {}
    parts = []
    if getattr(scope, "families", None):
        bms = values.get("bms")
        shown = "(missing)" if bms is None else fmt_value(bms)
        parts.append(f"bms {shown} in [{', '.join(scope.families)}]")
    if getattr(scope, "chemistry", None):
        chem = values.get("chemistry")
        shown = "(unknown)" if chem is None else fmt_value(chem)
        parts.append(f"chemistry {shown} in [{', '.join(scope.chemistry)}]")
    return " and ".join(parts)


def rule_truth(scope, tree: Node, values: Mapping[str, Any]) -> Truth:
    """Scope and condition together (Kleene and): what decides whether a rule fires."""
    s, _ = scope_truth(scope, values)
    if s is False:
        return False
    t = truth(tree, values)
    if t is False:
        return False
    return None if (s is None or t is None) else True


# ---------------------------------------------------------------- message templates

TEMPLATE_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}")
FORMAT_SPEC = re.compile(r"^[<>^]?[+-]?\d*(?:\.\d+)?[fgd%]?$")


def _render_value(v: Any, spec: str | None) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if not spec or not FORMAT_SPEC.match(spec) or isinstance(v, str):
        return fmt_value(v) if not isinstance(v, str) else v
    if spec.endswith("d") and isinstance(v, float):
        v = int(round(v))
    try:
        return format(v, spec)  # a validated, simple numeric spec applied to a number: no attribute access
    except (ValueError, TypeError):
        return fmt_value(v)


OPTIONAL_PART = re.compile(r"\[\[([^\[\]]*)\]\]")


def render_template(text: str, values: Mapping[str, Any]) -> str:
    """Fill ``{field}`` and ``{field:.3f}`` placeholders; a missing value renders as '?'. A part written
    ``[[ ... ]]`` is left out when a value it names is missing (so a message stays true with partial readings)."""

    def sub(m: re.Match) -> str:
        v = values.get(m.group(1))
        return "?" if v is None else _render_value(v, m.group(2))

    def optional(m: re.Match) -> str:
        inner = m.group(1)
        if any(values.get(f.group(1)) is None for f in TEMPLATE_FIELD.finditer(inner)):
            return ""
        return TEMPLATE_FIELD.sub(sub, inner)

    text = OPTIONAL_PART.sub(optional, text)
    return re.sub(r"\s+([,.;:)])", r"\1", re.sub(r"\(\s*\)", "", TEMPLATE_FIELD.sub(sub, text))).strip()
