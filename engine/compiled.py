"""Condition trees made into Python closures once per KB: exactly engine.evaluate.truth (three-valued, Kleene),
without walking the tree and testing node types on every reading. check() runs every rule on every reading (the
fleet service does it a thousand times a second); the tree walker stays the reference (tests compare the two on
every rule and every example reading) and the source of every explanation.

Built from the parsed tree (kb.expr nodes), never from text: no eval.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from engine.evaluate import _MISSING, Truth, _compare, _DivZero, _num, arith, operand_value
from kb.expr import And, Arith, Cmp, Lit, Node, Ref

Compiled = Callable[[Mapping[str, Any]], Truth]

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}


def compile_truth(tree: Node) -> Compiled:
    """A function of the values with the same result as engine.evaluate.truth(tree, values)."""
    if isinstance(tree, Cmp):
        return _compile_cmp(tree)
    return _kleene(tuple(compile_truth(i) for i in tree.items), stop=not isinstance(tree, And))


def _kleene(items: tuple[Compiled, ...], stop: bool) -> Compiled:
    """And (stop=False) or Or (stop=True) in three-valued logic: the first item that is `stop` decides; otherwise
    any unknown item makes the whole unknown, as engine.evaluate.truth has it."""
    def combined(values: Mapping[str, Any]) -> Truth:
        result: Truth = not stop
        for item in items:
            t = item(values)
            if t is stop:
                return stop
            if t is None:
                result = None
        return result
    return combined


def _compile_cmp(c: Cmp) -> Compiled:
    field, op, rhs = c.field, c.op, c.rhs
    py = _OPS[op]
    # A missing field (absent or None) is unknown, as engine.evaluate._get has it. Two floats compare as Python
    # compares them (what _compare does for them after _num); anything else goes through _compare itself.
    if isinstance(rhs, Lit):
        b = _num(rhs.value)
        number = b.__class__ is float
        equality = op in ("==", "!=")

        def with_literal(values: Mapping[str, Any]) -> Truth:
            a = values.get(field)
            if a is None:
                return None
            cls = a.__class__
            if number and cls is float:
                return py(a, b)
            if number and cls is int:  # _num makes an int a float (bool is not int here: exact class)
                return py(float(a), b)
            if equality and cls is b.__class__:  # "jk" == "jk", True == False: _compare does just this
                return py(a, b)
            return _compare(op, a, b)
        return with_literal
    if isinstance(rhs, Ref):
        other = rhs.field

        def with_field(values: Mapping[str, Any]) -> Truth:
            a = values.get(field)
            if a is None:
                return None
            b2 = values.get(other)
            if b2 is None:
                return None
            if a.__class__ is float and b2.__class__ is float:
                return py(a, b2)
            return _compare(op, a, b2)
        return with_field

    operand = _compile_operand(rhs)

    def with_arithmetic(values: Mapping[str, Any]) -> Truth:
        a = values.get(field)
        if a is None:
            return None
        try:
            b3 = operand(values)
        except _DivZero:
            return None
        if b3 is _MISSING:
            return None
        if a.__class__ is float and b3.__class__ is float:
            return py(a, b3)
        return _compare(op, a, b3)
    return with_arithmetic


def _compile_operand(o: Any) -> Callable[[Mapping[str, Any]], Any]:
    """A function of the values with the same result as engine.evaluate.operand_value(o, values)."""
    if isinstance(o, Lit):
        value = o.value
        return lambda values: value
    if isinstance(o, Ref):
        name = o.field

        def ref(values: Mapping[str, Any]) -> Any:
            v = values.get(name)
            return _MISSING if v is None else v
        return ref
    if not isinstance(o, Arith):
        return lambda values: operand_value(o, values)
    left, right, how = _compile_operand(o.left), _compile_operand(o.right), o.op

    def arithmetic(values: Mapping[str, Any]) -> Any:
        a = left(values)
        if a is _MISSING:
            return _MISSING
        b = right(values)
        if b is _MISSING:
            return _MISSING
        return arith(how, a, b)
    return arithmetic
