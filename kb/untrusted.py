"""The one boundary for untrusted text and files: every command, the app and the KB loader read through here.

What comes in from a user (a file, stdin, a paste, a flag value, a content file under review) is:
  * read with a size cap (``read_bytes``), never whole into memory when it is larger than the cap;
  * decoded as UTF-8 (a BOM is honoured), or as UTF-16/UTF-32 when it starts with their BOM; NUL bytes
    anywhere else mean binary (``decode_text``);
  * parsed as JSON with a depth limit, an integer-digit limit, finite numbers only and no duplicate keys
    (``loads_json``), or as YAML (safe constructors only) after the composed node graph is checked for depth,
    alias cycles and the size it would expand to, merge keys included (``load_yaml``);
  * written back out without lone surrogates (``clean``), and named in error lines shortened (``shown``).

Every limit is a UserError (one line, exit code 2 at the command line), never a traceback, a hang or a
MemoryError. This module is the lowest layer (kb/) so that drivers, engine and tui can all use it.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kb.errors import UserError

MB = 1_000_000
READING_BYTES = 4 * MB  # one reading, a paste, an answers file
CONTENT_BYTES = 2 * MB  # one knowledge-base YAML file
MAX_DEPTH = 64  # nesting of lists and mappings
MAX_NODES = 200_000  # values after expanding YAML aliases and merge keys
MAX_INT_DIGITS = 30  # no reading or answer needs a longer integer
MAX_KEY_CHARS = 200  # a mapping key longer than this is no field name

_SURROGATE = re.compile("[\ud800-\udfff]")


# ---------------------------------------------------------------- output and messages


def clean(text: str) -> str:
    """Lone surrogates (from JSON escapes such as \\ud800) become U+FFFD, so the text can always be written."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def shown(value: Any, limit: int = 60) -> str:
    """A value as it may appear inside an error line: one line, surrogate-free, at most `limit` characters."""
    try:
        s = value if isinstance(value, str) else repr(value)
    except (ValueError, RecursionError):  # an int past Python's digit limit, a self-nesting structure
        s = f"<{type(value).__name__}>"
    s = clean(s).replace("\n", "\\n").replace("\r", "\\r")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def size_text(n: int) -> str:
    return f"{n / MB:g} MB" if n >= MB else f"{n // 1000} KB"


# ---------------------------------------------------------------- reading


def read_bytes(path: str, cap: int = READING_BYTES, what: str = "input", stdin: Any = None) -> bytes:
    """At most `cap` bytes of a file ('-' is stdin); more than that is a UserError, read no further."""
    if path == "-":
        src = stdin if stdin is not None else sys.stdin
        if src is None or (hasattr(src, "isatty") and src.isatty()):
            raise UserError(f"give the {what}: a FILE, or pipe it in")
        buf = getattr(src, "buffer", None)
        data = buf.read(cap + 1) if buf is not None else src.read(cap + 1)
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
    else:
        try:
            with open(path, "rb") as f:
                data = f.read(cap + 1)
        except FileNotFoundError:
            raise UserError(f"no such file: {shown(path, 200)}") from None
        except IsADirectoryError:
            raise UserError(f"{shown(path, 200)} is a directory, not a file") from None
        except OSError as e:
            raise UserError(f"cannot read {shown(path, 200)}: {e.strerror or e}") from None
    if len(data) > cap:
        raise UserError(f"the {what} is too large (over {size_text(cap)})")
    return data


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode_text(data: bytes, what: str = "input") -> str:
    """Text from bytes: UTF-8 (BOM optional), or UTF-16/32 with a BOM. Binary or other encodings are refused."""
    enc = next((e for bom, e in _BOMS if data.startswith(bom)), None)
    if enc is None:
        if b"\x00" in data:
            raise UserError(f"the {what} is binary, not text")
        enc = "utf-8"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError:
        raise UserError(f"the {what} is not UTF-8 text (UTF-16 needs its byte-order mark)") from None
    if "\x00" in text:
        raise UserError(f"the {what} is binary, not text")
    return text


def read_text(path: str, cap: int = READING_BYTES, what: str = "input", stdin: Any = None) -> str:
    return decode_text(read_bytes(path, cap, what, stdin), what)


# ---------------------------------------------------------------- checking parsed data


@dataclass(frozen=True)
class Limits:
    depth: int = MAX_DEPTH
    nodes: int = MAX_NODES
    int_digits: int = MAX_INT_DIGITS
    key_chars: int = MAX_KEY_CHARS
    finite: bool = True  # refuse NaN and infinity


DEFAULT = Limits()


def check_data(data: Any, limits: Limits = DEFAULT, what: str = "input") -> Any:
    """Walk parsed data without recursion: depth, size, integer digits, finite floats, key length; strings lose
    their lone surrogates. Returns the (possibly cleaned) data."""
    max_int = 10 ** limits.int_digits
    count = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    dirty = False
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > limits.nodes:
            raise UserError(f"the {what} has too many values (over {limits.nodes:,})")
        if isinstance(node, dict):
            if depth > limits.depth:
                raise UserError(f"the {what} is nested too deeply (over {limits.depth} levels)")
            for k, v in node.items():
                if isinstance(k, str):
                    if len(k) > limits.key_chars:
                        raise UserError(f"the {what} has a key of {len(k):,} characters ('{shown(k, 30)}'): "
                                        "no field name is that long")
                    dirty = dirty or bool(_SURROGATE.search(k))
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(node, (list, tuple)):
            if depth > limits.depth:
                raise UserError(f"the {what} is nested too deeply (over {limits.depth} levels)")
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, bool):
            continue
        elif isinstance(node, int):
            if not -max_int < node < max_int:
                raise UserError(f"the {what} has an integer of more than {limits.int_digits} digits")
        elif isinstance(node, float):
            if limits.finite and not math.isfinite(node):
                raise UserError(f"the {what} has a number out of range (NaN or infinity)")
        elif isinstance(node, str):
            dirty = dirty or bool(_SURROGATE.search(node))
    return _cleaned(data) if dirty else data


def _cleaned(data: Any) -> Any:
    """A copy with every string cleaned (only when check_data found a surrogate; depth is already bounded)."""
    if isinstance(data, dict):
        return {(_cleaned(k)): _cleaned(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_cleaned(v) for v in data]
    if isinstance(data, str):
        return clean(data)
    return data


# ---------------------------------------------------------------- JSON


def _bracket_depth(text: str) -> int:
    """Nesting depth of brackets and braces (strings included: a conservative, linear-time bound)."""
    only = text.translate(_BRACKETS_ONLY)
    depth = best = 0
    for ch in only:
        if ch in "[{":
            depth += 1
            if depth > best:
                best = depth
        else:
            depth -= 1
    return best


class _KeepBrackets(dict):
    def __missing__(self, key: int) -> None:
        return None


_BRACKETS_ONLY = _KeepBrackets({ord(c): c for c in "[]{}"})


def loads_json(text: str, limits: Limits = DEFAULT, what: str = "input") -> Any:
    """JSON with limits; duplicate keys, NaN/Infinity, overlong integers and deep nesting are UserErrors."""
    if _bracket_depth(text) > limits.depth and _true_depth_over(text, limits.depth):
        raise UserError(f"the {what} is nested too deeply (over {limits.depth} levels)")

    def pairs(items: list[tuple[str, Any]]) -> dict:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                raise UserError(f"the {what} has the key '{shown(k, 40)}' twice: give each field once")
            out[k] = v
        return out

    def integer(s: str) -> int:
        if len(s.lstrip("-")) > limits.int_digits:
            raise UserError(f"the {what} has an integer of {len(s):,} digits (at most {limits.int_digits})")
        return int(s)

    def constant(name: str) -> Any:
        raise UserError(f"the {what} contains {name}: NaN and infinity are not values")

    def number(s: str) -> float:
        if len(s) > 64:
            raise UserError(f"the {what} has a number of {len(s):,} characters")
        x = float(s)
        if limits.finite and not math.isfinite(x):
            raise UserError(f"the {what} has a number out of range ({shown(s, 20)})")
        return x

    data = json.loads(text, object_pairs_hook=pairs, parse_int=integer, parse_float=number,
                      parse_constant=constant)
    return check_data(data, limits, what)


def _true_depth_over(text: str, limit: int) -> bool:
    """The bracket count said deep; count again outside JSON strings (rare path, linear)."""
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


# ---------------------------------------------------------------- YAML


def check_yaml_node(root: Any, limits: Limits = DEFAULT, what: str = "input") -> None:
    """Check a composed YAML node graph before anything is constructed from it: depth, alias cycles, and the
    number of values it expands to once aliases and merge keys (`<<`) are resolved. Linear in the graph."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        kids = _children(node)
        if done:
            on_path.discard(nid)
            size[nid] = 1 + sum(size[id(k)] for k in kids)
            depth[nid] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[nid] > limits.nodes:
                raise UserError(f"the {what} expands to too many values (over {limits.nodes:,}: aliases or "
                                "merge keys repeat it)")
            if depth[nid] > limits.depth:
                raise UserError(f"the {what} is nested too deeply (over {limits.depth} levels)")
            continue
        if nid in size:
            continue
        if nid in on_path:
            raise UserError(f"the {what} has an alias that contains itself (a recursive anchor)")
        on_path.add(nid)
        stack.append((node, True))
        for k in kids:
            kid = id(k)
            if kid in on_path:
                raise UserError(f"the {what} has an alias that contains itself (a recursive anchor)")
            if kid not in size:
                stack.append((k, False))


def _children(node: Any) -> list[Any]:
    value = getattr(node, "value", None)
    if not isinstance(value, list):
        return []
    out: list[Any] = []
    for item in value:
        if isinstance(item, tuple):
            out.extend(item)
        else:
            out.append(item)
    return out


C_PARSER_MAX_PREFIX = 500


def _block_prefix(text: str) -> int:
    """An upper bound of block nesting: the longest run of indentation and `- `, `? `, `: ` indicators at the
    start of a line (each nesting level needs at least one of those characters)."""
    best = 0
    for line in text.split("\n"):
        n = len(line) - len(line.lstrip(" \t-?:"))
        if n > best:
            best = n
    return best


def load_yaml(text: str, limits: Limits = DEFAULT, what: str = "input", *, typ: str = "safe",
              pure: bool = False, configure: Callable[[Any], None] | None = None) -> Any:
    """YAML through ruamel's safe (or round-trip) constructors, after check_yaml_node. Raises ruamel's
    YAMLError for bad syntax (callers report its position) and UserError for a limit."""
    from ruamel.yaml import YAML

    if _bracket_depth(text) > 4 * limits.depth:  # flow-style nesting makes the parser slow before it fails
        raise UserError(f"the {what} is nested too deeply (over {limits.depth} levels)")
    if not pure and _block_prefix(text) > C_PARSER_MAX_PREFIX:
        pure = True  # libyaml's composer recurses in C and can overflow the stack; the Python one raises
    y = YAML(typ=typ, pure=pure)
    y.allow_duplicate_keys = False
    if configure is not None:
        configure(y)
    constructor, parser = y.get_constructor_parser(text)
    try:
        try:
            node = constructor.composer.get_single_node()
        except RecursionError:
            raise UserError(f"the {what} is nested too deeply (over {limits.depth} levels)") from None
        if node is None:
            return None
        check_yaml_node(node, limits, what)
        try:
            data = constructor.construct_document(node)
        except RecursionError:
            raise UserError(f"the {what} is nested too deeply (over {limits.depth} levels)") from None
        except (ValueError, OverflowError) as e:  # an integer past Python's digit limit, a bad timestamp
            raise UserError(f"the {what} has a value that cannot be read ({shown(str(e), 80)})") from None
    finally:
        try:
            parser.dispose()
        except Exception:
            pass
        try:
            y.reader.reset_reader()
            y.scanner.reset_scanner()
        except Exception:
            pass
    return data
