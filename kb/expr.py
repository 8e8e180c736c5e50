"""The condition language of rules and flow checks.

A condition is a small Python-like boolean expression over reading fields, e.g.
``charge_fet == false and max_regen > 0`` or ``cell_delta > balance_trigger and not balancing``.
It is parsed with :mod:`ast` against a whitelist of node types and field names and turned into a tree of
plain dataclasses. Nothing here (or anywhere) evaluates the text with ``eval``.

Grammar (everything else is an error with the column where it starts):
  cond    := cond 'and' cond | cond 'or' cond | 'not' cond | '(' cond ')' | cmp | FIELD (a bool field)
           | 'known(' FIELD ')' | 'unknown(' FIELD ')'   (is the value there, measured, typed or inferred?)
  cmp     := operand OP operand [OP operand ...]     OP in == != < <= > >=   (one side must be a bare field)
           | FIELD 'in' '[' literal, ... ']' | FIELD 'not in' '[' ... ']'
  operand := FIELD | NUMBER | 'string' | true | false | operand (+ - * /) operand | '-' operand

The tree is kept in negation normal form (``not`` pushed down to the comparisons) because that is what the
durable-rules compiler needs, and under three-valued logic (a comparison on a missing field is *unknown*) a
condition in that form is true exactly when it is true with every unknown comparison taken as false.
"""

from __future__ import annotations

import ast
import contextvars
from collections.abc import Mapping
from dataclasses import dataclass

from kb.fields import FIELDS, KNOWN_PREFIX, FieldSpec

# The vocabulary a condition may name: reading fields by default; the selection advisor parses its criteria
# against pack needs and family facts instead.
_VOCAB: contextvars.ContextVar[Mapping[str, FieldSpec]] = contextvars.ContextVar("vocab", default=FIELDS)

# ---------------------------------------------------------------- tree


@dataclass(frozen=True)
class Lit:
    value: float | int | str | bool


@dataclass(frozen=True)
class Ref:
    field: str


@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: Operand
    right: Operand


Operand = Lit | Ref | Arith


@dataclass(frozen=True)
class Cmp:
    field: str
    op: str  # == != < <= > >=
    rhs: Operand


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Cmp | And | Or

NEGATE = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
FLIP = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_CMP_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_BIN_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_BOOL_WORDS = {"true": True, "false": False, "True": True, "False": False}


class ExprError(Exception):
    """A problem inside a condition; line and col are 1-based positions inside the condition text."""

    def __init__(self, message: str, line: int = 1, col: int = 1):
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def _err(node: ast.AST, message: str) -> ExprError:
    return ExprError(message, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1)


# ---------------------------------------------------------------- parsing


MAX_CHARS, MAX_DEPTH, MAX_OPS, MAX_CHAIN, MAX_ABS, MAX_STR = 2000, 24, 200, 4, 1e9, 200


def check_limits(text: str) -> None:
    """Content limits every condition must keep, checked before anything recursive touches it, so that what
    validates also runs in both engines (durable-rules refuses huge literals and long chains): at most MAX_CHARS
    characters, MAX_DEPTH levels of nesting (brackets, `not`, unary minus and arithmetic included), MAX_OPS
    operators, MAX_CHAIN comparisons in one chain, numbers finite with |x| <= MAX_ABS, strings <= MAX_STR."""
    if not isinstance(text, str):
        return
    if len(text) > MAX_CHARS:
        raise ExprError(f"the condition is {len(text):,} characters long (at most {MAX_CHARS})")
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth > MAX_DEPTH:
            raise ExprError(f"brackets nested more than {MAX_DEPTH} deep", 1, i + 1)
    try:
        tree = ast.parse(text.strip("\n"), mode="eval")
    except (SyntaxError, MemoryError, RecursionError, ValueError):
        return  # parse() reports syntax errors with their position
    ops = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        n, d = stack.pop()
        if d > MAX_DEPTH:
            raise _err(n, f"the condition nests more than {MAX_DEPTH} levels deep")
        if isinstance(n, (ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare)):
            ops += len(n.values) - 1 if isinstance(n, ast.BoolOp) else len(n.ops) if isinstance(n, ast.Compare) else 1
            if ops > MAX_OPS:
                raise _err(n, f"the condition has more than {MAX_OPS} operators")
        if isinstance(n, ast.Compare) and len(n.ops) > MAX_CHAIN:
            raise _err(n, f"{len(n.ops)} comparisons in one chain (at most {MAX_CHAIN}); join them with 'and'")
        if isinstance(n, ast.Constant):
            v = n.value
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if not (abs(v) <= MAX_ABS):  # also false for NaN and infinity (1e999)
                    raise _err(n, f"the number {_short_number(n, text)} is out of range (at most {MAX_ABS:g} either way)")
            elif isinstance(v, str) and len(v) > MAX_STR:
                raise _err(n, f"a text literal of {len(v):,} characters (at most {MAX_STR})")
            elif isinstance(v, complex):
                raise _err(n, "complex numbers are not values")
        stack.extend((c, d + 1) for c in ast.iter_child_nodes(n))


def _short_number(n: ast.Constant, text: str) -> str:
    seg = ast.get_source_segment(text.strip("\n"), n) or repr(n.value)
    return seg if len(seg) <= 20 else f"of {len(seg):,} characters"


def parse(text: str, vocabulary: Mapping[str, FieldSpec] | None = None) -> Node:
    """Parse a condition; raises ExprError (the first problem) with its position inside ``text``."""
    check_limits(text)
    if not isinstance(text, str) or not text.strip():
        raise ExprError("a condition must be a non-empty string")
    src = text.strip("\n")
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as e:
        raise ExprError(f"syntax error: {e.msg}", e.lineno or 1, e.offset or 1) from None
    token = _VOCAB.set(vocabulary if vocabulary is not None else FIELDS)
    try:
        return _cond(tree.body)
    finally:
        _VOCAB.reset(token)


def _fields() -> Mapping[str, FieldSpec]:
    return _VOCAB.get()


def _cond(n: ast.AST) -> Node:
    if isinstance(n, ast.BoolOp):
        items = tuple(_cond(v) for v in n.values)
        return And(items) if isinstance(n.op, ast.And) else Or(items)
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
        return negate(_cond(n.operand))
    if isinstance(n, ast.Compare):
        return _compare(n)
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("known", "unknown"):
        return _known(n)
    if isinstance(n, ast.Name) and n.id not in _BOOL_WORDS:
        name = _field(n)
        if _fields()[name].kind != "bool":
            raise _err(n, f"'{name}' is not a yes/no field; compare it with a value")
        return Cmp(name, "==", Lit(True))
    raise _err(n, f"expected a comparison or a yes/no field, found {_what(n)}")


def _known(n: ast.Call) -> Node:
    """known(f) / unknown(f): a two-valued test of whether the reading holds f (an assumed default does not count).
    It is carried as a comparison on the flag field KNOWN_PREFIX + f, which check() always fills."""
    fn = n.func.id if isinstance(n.func, ast.Name) else ""
    if n.keywords or len(n.args) != 1 or not isinstance(n.args[0], ast.Name):
        raise _err(n, f"{fn}() takes one field name, e.g. {fn}(regen_limit)")
    arg = n.args[0]
    if arg.id not in _fields():
        raise _err(arg, f"unknown field '{arg.id}'" + _suggest(arg.id))
    return Cmp(KNOWN_PREFIX + arg.id, "==" if fn == "known" else "!=", Lit(True))


def known_field(name: str) -> str | None:
    """The field a known()/unknown() flag is about, or None for an ordinary field."""
    return name[len(KNOWN_PREFIX):] if name.startswith(KNOWN_PREFIX) else None


def known_fields(node: Node) -> list[str]:
    """Fields whose known()/unknown() the condition tests."""
    return [f for c in comparisons(node) if (f := known_field(c.field)) is not None]


def _compare(n: ast.Compare) -> Node:
    parts = [n.left, *n.comparators]
    ops = n.ops
    if len(ops) == 1 and isinstance(ops[0], (ast.In, ast.NotIn)):
        name = _field(n.left) if isinstance(n.left, ast.Name) else None
        if name is None:
            raise _err(n.left, "the left side of 'in' must be a field name")
        seq = n.comparators[0]
        if not isinstance(seq, (ast.List, ast.Tuple)) or not seq.elts:
            raise _err(seq, "'in' needs a non-empty list such as ['jk', 'ant']")
        vals = [_literal(e) for e in seq.elts]
        for e, v in zip(seq.elts, vals):
            _check_types(name, "==", Lit(v), e)
        if isinstance(ops[0], ast.In):
            return Or(tuple(Cmp(name, "==", Lit(v)) for v in vals)) if len(vals) > 1 else Cmp(name, "==", Lit(vals[0]))
        return And(tuple(Cmp(name, "!=", Lit(v)) for v in vals)) if len(vals) > 1 else Cmp(name, "!=", Lit(vals[0]))
    out: list[Node] = []
    for left, op, right in zip(parts, ops, parts[1:]):
        if type(op) not in _CMP_OPS:
            raise _err(n, f"unsupported comparison {type(op).__name__}")
        sym = _CMP_OPS[type(op)]
        lhs, rhs = _operand(left), _operand(right)
        if isinstance(lhs, Ref):
            cmp, where = Cmp(lhs.field, sym, rhs), right
        elif isinstance(rhs, Ref):
            cmp, where = Cmp(rhs.field, FLIP[sym], lhs), left
        else:
            raise _err(left, "one side of a comparison must be a bare field name (put arithmetic on the other side)")
        _check_types(cmp.field, cmp.op, cmp.rhs, where)
        out.append(cmp)
    return out[0] if len(out) == 1 else And(tuple(out))


def _operand(n: ast.AST) -> Operand:
    if isinstance(n, ast.Name) and n.id not in _BOOL_WORDS:
        return Ref(_field(n))
    if isinstance(n, ast.BinOp) and type(n.op) in _BIN_OPS:
        left, right = _operand(n.left), _operand(n.right)
        for side, node in ((left, n.left), (right, n.right)):
            if _kind(side) != "number":
                raise _err(node, "arithmetic works on numbers only")
        if isinstance(n.op, ast.Div) and isinstance(right, Lit) and right.value == 0:
            raise _err(n.right, "division by zero")
        return Arith(_BIN_OPS[type(n.op)], left, right)
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
        inner = _operand(n.operand)
        if isinstance(inner, Lit) and isinstance(inner.value, (int, float)) and not isinstance(inner.value, bool):
            return Lit(-inner.value)
        return Arith("-", Lit(0), inner)
    return Lit(_literal(n))


def _literal(n: ast.AST):
    if isinstance(n, ast.Constant) and isinstance(n.value, (int, float, str)) and not isinstance(n.value, bool):
        return n.value
    if isinstance(n, ast.Name) and n.id in _BOOL_WORDS:
        return _BOOL_WORDS[n.id]
    if isinstance(n, ast.Constant) and isinstance(n.value, bool):
        return n.value
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub) and isinstance(n.operand, ast.Constant) \
            and isinstance(n.operand.value, (int, float)):
        return -n.operand.value
    raise _err(n, f"expected a field, a number, a 'string', true or false, found {_what(n)}")


def _field(n: ast.Name) -> str:
    vocab = _fields()
    if n.id not in vocab:
        raise _err(n, f"unknown field '{n.id}'" + _suggest(n.id))
    if vocab[n.id].kind == "list":
        raise _err(n, f"'{n.id}' is a list; use its derived values (e.g. cell_min, cell_max, cell_delta, temp_max)")
    return n.id


def _suggest(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, [k for k, f in _fields().items() if f.kind != "list"], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _kind(o: Operand) -> str:
    if isinstance(o, Ref):
        k = _fields()[o.field].kind
        return "number" if k in ("number", "int") else k
    if isinstance(o, Arith):
        return "number"
    v = o.value
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "text"


def _check_types(field: str, op: str, rhs: Operand, where: ast.AST) -> None:
    vocab = _fields()
    spec = vocab[field]
    left = "number" if spec.kind in ("number", "int") else spec.kind
    right = _kind(rhs)
    if left in ("enum", "text"):
        if op not in ("==", "!="):
            raise _err(where, f"'{field}' is text: only == and != apply")
        if right == "number" or right == "bool":
            raise _err(where, f"'{field}' is text; compare it with a 'quoted' value")
        if isinstance(rhs, Ref) and vocab[rhs.field].kind not in ("enum", "text"):
            raise _err(where, f"'{field}' is text; '{rhs.field}' is not")
        if spec.kind == "enum" and isinstance(rhs, Lit) and rhs.value not in spec.values:
            raise _err(where, f"'{rhs.value}' is not a value of '{field}' (one of: {', '.join(spec.values)})")
    elif left == "bool":
        if op not in ("==", "!=") or right != "bool":
            raise _err(where, f"'{field}' is yes/no: compare it with true or false, or write it alone")
    else:  # number
        if right != "number":
            raise _err(where, f"'{field}' is a number; compare it with a number or a numeric field")


def _what(n: ast.AST) -> str:
    return {ast.Call: "a function call", ast.Attribute: "an attribute", ast.Subscript: "an index",
            ast.Lambda: "a lambda", ast.Dict: "a mapping"}.get(type(n), type(n).__name__)


# ---------------------------------------------------------------- tree helpers


def negate(node: Node) -> Node:
    if isinstance(node, Cmp):
        return Cmp(node.field, NEGATE[node.op], node.rhs)
    if isinstance(node, And):
        return Or(tuple(negate(i) for i in node.items))
    return And(tuple(negate(i) for i in node.items))


def operand_fields(o: Operand) -> list[str]:
    if isinstance(o, Ref):
        return [o.field]
    if isinstance(o, Arith):
        return operand_fields(o.left) + operand_fields(o.right)
    return []


def fields_of(node: Node) -> list[str]:
    """Field names the condition reads, in order of first use."""
    seen: dict[str, None] = {}
    stack = [node]
    order: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Cmp):
            for f in [known_field(n.field) or n.field, *operand_fields(n.rhs)]:
                if f not in seen:
                    seen[f] = None
                    order.append(f)
        else:
            for i in n.items:
                walk(i)

    walk(stack[0])
    return order


def comparisons(node: Node) -> list[Cmp]:
    if isinstance(node, Cmp):
        return [node]
    return [c for i in node.items for c in comparisons(i)]


def render_operand(o: Operand) -> str:
    if isinstance(o, Ref):
        return o.field
    if isinstance(o, Arith):
        return f"({render_operand(o.left)} {o.op} {render_operand(o.right)})"
    if isinstance(o.value, bool):
        return "true" if o.value else "false"
    if isinstance(o.value, str):
        return repr(o.value)
    return repr(o.value)


def render(node: Node) -> str:
    """Canonical text of a tree: two conditions with the same meaning and layout render the same."""
    if isinstance(node, Cmp):
        kf = known_field(node.field)
        if kf is not None:
            return f"{'known' if node.op == '==' else 'unknown'}({kf})"
        return f"{node.field} {node.op} {render_operand(node.rhs)}"
    joiner = " and " if isinstance(node, And) else " or "
    return "(" + joiner.join(render(i) for i in node.items) + ")"
