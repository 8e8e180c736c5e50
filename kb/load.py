"""Load content/ with ruamel.yaml, validate it with pydantic, and keep every item's file:line:col.

`load_kb()` returns a KB or raises KBInvalid carrying every problem found (not just the first), each located at
the key or value that is wrong. Loading is cached per process; across processes a pickle of the validated KB is
kept in the user cache directory (HMAC-checked, see _read_cache), keyed by the content files' names, sizes and modification times and by this
package's source, so `bmsdoc check` does not pay for YAML parsing on every run.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from kb.errors import KBInvalid, Problem
from kb.schema import FamilyCard, GuideEntry, GuideFile, Manifest, Rule, RuleFile, Source, SourcesFile

if TYPE_CHECKING:
    from kb.answers import Card
    from kb.checklists import Checklist
    from kb.expr import Node
    from kb.flows import Flow
    from kb.health import HealthFile
    from kb.schema import Default, Question
    from kb.selection import SelectionFile

CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"


def _content_limits():
    from kb.untrusted import Limits

    # a content file is larger than a reading, but nothing in it nests deeply or needs a 30-digit number
    return Limits(depth=40, nodes=500_000, int_digits=30, key_chars=200, finite=False)


CONTENT_LIMITS = _content_limits()


# ---------------------------------------------------------------- collections: which files hold which models


@dataclass(frozen=True)
class Collection:
    name: str
    pattern: str  # glob below the content root
    model: type[BaseModel]
    required: bool = True


COLLECTIONS: list[Collection] = [
    Collection("manifest", "manifest.yaml", Manifest),
    Collection("sources", "sources.yaml", SourcesFile),
    Collection("families", "families/*.yaml", FamilyCard),
    Collection("guides", "guides/*.yaml", GuideFile),
    Collection("rules", "rules/*.yaml", RuleFile),
]


def register_collection(c: Collection) -> None:
    """Other kb modules (flows, checklists, selection, lexicon) add their file kinds here at import time."""
    if all(x.name != c.name for x in COLLECTIONS):
        COLLECTIONS.append(c)


# ---------------------------------------------------------------- documents and positions


@dataclass
class ContentFile:
    path: str  # relative to the content root, for messages
    node: Any  # ruamel round-trip tree (carries positions)
    model: BaseModel | None = None
    lines: list[str] = field(default_factory=list)
    partial: bool = False  # the model holds None for items that did not validate

    def pos(self, loc: tuple = (), value: bool = False) -> tuple[int, int]:
        """1-based line and column of the node at `loc` (keys and indices); the deepest that exists."""
        return position(self.node, loc, value)


def position(node: Any, loc: tuple, value: bool = False) -> tuple[int, int]:
    line, col = 0, 0
    if hasattr(node, "lc"):
        line, col = node.lc.line, node.lc.col
    cur = node
    if not hasattr(node, "lc"):  # loaded by the fast path: positions are only computed when there are problems
        return 1, 1
    for i, key in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict) and key in cur and hasattr(cur, "lc"):
            lc = cur.lc.value(key) if (last and value) else cur.lc.key(key)
            line, col = lc[0], lc[1]
            cur = cur[key]
        elif isinstance(cur, list) and isinstance(key, int) and 0 <= key < len(cur) and hasattr(cur, "lc"):
            line, col = cur.lc.item(key)
            cur = cur[key]
        else:
            break
    return line + 1, col + 1


def read_doc(root: Path, path: Path, problems: list[Problem], fast: bool = False) -> ContentFile | None:
    from kb import untrusted
    from kb.errors import UserError

    rel = _rel(root, path)
    try:
        text = untrusted.read_text(str(path), untrusted.CONTENT_BYTES, "file")
    except UserError as e:
        problems.append(Problem(rel, 1, 1, f"cannot read file: {e}"))
        return None
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    def configure(y: Any) -> None:
        if not fast:
            y.preserve_quotes = True

    try:  # libyaml through ruamel.yaml.clib on the fast path: ~5x faster, no positions
        node = untrusted.load_yaml(text, CONTENT_LIMITS, "file", typ="safe" if fast else "rt", configure=configure)
    except UserError as e:
        problems.append(Problem(rel, 1, 1, str(e)))
        return None
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (e.problem or e.context or "invalid YAML").strip()
        if "duplicate key" in str(e).lower():
            what = "duplicate key " + _dup_key(str(e))
        problems.append(Problem(rel, line, col, untrusted.shown(what, 200)))
        return None
    except YAMLError as e:
        problems.append(Problem(rel, 1, 1, f"invalid YAML: {untrusted.shown(str(e), 200)}"))
        return None
    if node is None:
        problems.append(Problem(rel, 1, 1, "the file is empty"))
        return None
    return ContentFile(rel, node, lines=text.splitlines())


def _dup_key(msg: str) -> str:
    for line in msg.splitlines():
        if "found duplicate key" in line:
            return line.split("found duplicate key", 1)[1].split(" with value")[0].strip()
    return ""


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root.parent)) if root.name == "content" else str(path.relative_to(root))
    except ValueError:
        return str(path)


def to_plain(node: Any, _depth: int = 0) -> Any:
    """Plain dicts, lists and scalars from a ruamel tree. Depth is bounded (read_doc already refused deeper or
    self-containing documents; this guards trees that came from elsewhere)."""
    if _depth > CONTENT_LIMITS.depth:
        raise ValueError(f"nested deeper than {CONTENT_LIMITS.depth} levels")
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: to_plain(v, _depth + 1)
                for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v, _depth + 1) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def validate_doc(doc: ContentFile, model: type[BaseModel], problems: list[Problem]) -> None:
    try:
        doc.model = model.model_validate(to_plain(doc.node))
    except ValidationError as e:
        doc.model = _partial(doc, model)
        for err in e.errors():
            loc = tuple(err["loc"])
            msg = _pydantic_message(err)
            # point at the offending key for unknown keys, at the value otherwise
            line, col = doc.pos(loc, value=err["type"] not in ("extra_forbidden", "kb_key"))
            problems.append(Problem(doc.path, line, col, msg))


def _partial(doc: ContentFile, model: type[BaseModel]) -> BaseModel | None:
    """A file of items (rules) with one bad item keeps its good ones, so their own checks still run."""
    from kb.schema import Rule, RuleFile

    if model is not RuleFile or not isinstance(doc.node, dict) or not isinstance(doc.node.get("rules"), list):
        return None
    good: list[Rule | None] = []  # None: a rule that did not validate (its problems are reported)
    for item in doc.node["rules"]:
        try:
            good.append(Rule.model_validate(to_plain(item)))
        except ValidationError:
            good.append(None)
    doc.partial = True
    return RuleFile.model_construct(topic=str(doc.node.get("topic", "")), rules=good)


def _pydantic_message(err: Any) -> str:
    loc = ".".join(str(x) for x in err["loc"])
    kind = err["type"]
    if kind in ("kb_key", "kb_value"):  # a model's own problem, said in its words (kb.flows' step union)
        return err["msg"]
    if kind == "extra_forbidden":
        return f"unknown key '{err['loc'][-1]}'"
    if kind == "missing":
        return f"missing key '{err['loc'][-1]}'"
    if kind == "literal_error":
        return f"{loc}: {err['msg'].replace('Input should be', 'must be')}, not {err['input']!r}"
    return f"{loc}: {err['msg'].removeprefix('Value error, ')}"


# ---------------------------------------------------------------- the KB


@dataclass
class LoadedRule:
    rule: Rule
    tree: Any  # kb.expr Node
    doc: str
    line: int
    fingerprint: str  # of the logic: condition, scope, severity

    @property
    def id(self) -> str:
        return self.rule.id


@dataclass
class KB:
    root: Path
    manifest: Manifest
    sources: dict[str, Source]
    families: dict[str, FamilyCard]
    guides: dict[str, GuideEntry]
    guide_sections: dict[str, GuideFile]
    rules: dict[str, LoadedRule]
    docs: dict[str, list[ContentFile]]  # collection name -> documents (models included)
    locations: dict[str, tuple[str, int, int]] = field(default_factory=dict)  # "rule:ID" -> (path, line, col)
    # Indexes built by the registered collections' checks (kb/flows.py, kb/checklists.py, ...): one typed home each.
    flows: dict[str, Flow] = field(default_factory=dict)
    flow_trees: dict[tuple, Node] = field(default_factory=dict)  # (flow, step, branch index) -> parsed condition
    checklists: dict[str, Checklist] = field(default_factory=dict)
    checklist_trees: dict[tuple, Node] = field(default_factory=dict)  # (checklist, step, check index) -> condition
    selection: SelectionFile | None = None
    selection_trees: dict[str, Node] = field(default_factory=dict)  # criterion id -> condition
    answers: dict[str, Card] = field(default_factory=dict)
    answer_trees: dict[tuple, Node] = field(default_factory=dict)
    health: HealthFile | None = None
    defaults: list[Default] = field(default_factory=list)
    questions: dict[str, Question] = field(default_factory=dict)  # field -> how to ask a rider for it
    counts: dict[str, int] = field(default_factory=dict)  # what `kb validate` prints beside the rules
    coverage_items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # collection -> rows for coverage
    diff_items: dict[str, BaseModel] = field(default_factory=dict)  # "flow:ID" -> model, compared by `kb diff`
    invalid_rule_ids: set[str] = field(default_factory=set)  # rules that failed validation (their ids still count)

    @property
    def kb_version(self) -> str:
        return self.manifest.kb_version

    def models(self, collection: str) -> list[Any]:
        return [d.model for d in self.docs.get(collection, []) if d.model is not None]

    def __getstate__(self) -> dict:
        # The ruamel documents only serve validation; leaving them out makes the disk cache 5x smaller and
        # keeps ruamel out of `bmsdoc check`'s start-up.
        state = dict(self.__dict__)
        state["docs"] = {}
        return state

    def section_title(self, sid: str) -> str:
        return next((s.title for s in self.manifest.sections if s.id == sid), sid)


def load_kb(root: str | Path | None = None, *, use_cache: bool = True) -> KB:
    """The validated knowledge base (raises KBInvalid listing every problem)."""
    root_path = Path(root).resolve() if root else CONTENT_DIR
    if not root_path.is_dir():
        from kb.errors import UserError

        raise UserError(f"no knowledge base at {root}: not a directory")
    if not use_cache:
        return _load(root_path)
    return _load_cached(str(root_path), _stamp(root_path))


@functools.lru_cache(maxsize=8)
def _load_cached(root: str, stamp: str) -> KB:
    cache = _disk_cache_path(stamp)
    if cache is not None:
        kb = _read_cache(cache)
        if kb is not None:
            return kb
    kb = _load(Path(root))
    if cache is not None:
        _write_cache(cache, kb)
    return kb


# ---------------------------------------------------------------- the disk cache
#
# A pickle can run code when loaded, so the cache is only unpickled after three checks: the directory is the
# user's own and nobody else can write it (mode 0700), the file is not larger than CACHE_MAX_BYTES, and its
# HMAC-SHA256 (over the whole pickle) matches, computed with a random key kept in that directory with mode 0600.
# Anyone who could plant a file there could not forge the HMAC without reading the key, which only the user
# can. Any failed check means the cache is ignored (and rebuilt), never trusted.

CACHE_MAX_BYTES = 32_000_000
_MAC_BYTES = 32


def _private_dir(d: Path) -> bool:
    """d exists (created 0700 if not), belongs to this user and is closed to others."""
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = d.lstat()
        import stat

        if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            return False
        if st.st_mode & 0o077:
            os.chmod(d, 0o700)
            st = d.lstat()
        return not st.st_mode & 0o077
    except OSError:
        return False


def _cache_key(d: Path, create: bool) -> bytes | None:
    path = d / "cache.key"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        if not create:
            return None
        key = os.urandom(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:  # another process made it first: read theirs
            return _cache_key(d, create=False)
        except OSError:
            return None
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if (hasattr(os, "getuid") and st.st_uid != os.getuid()) or st.st_mode & 0o077:
            return None
        key = f.read(64)
    return key if len(key) == 32 else None


def _read_cache(cache: Path) -> KB | None:
    import hmac

    if not _private_dir(cache.parent):
        return None
    key = _cache_key(cache.parent, create=False)
    if key is None:
        return None
    try:
        with cache.open("rb") as f:
            if os.fstat(f.fileno()).st_size > CACHE_MAX_BYTES:
                return None
            blob = f.read(CACHE_MAX_BYTES + 1)
    except OSError:
        return None
    mac, body = blob[:_MAC_BYTES], blob[_MAC_BYTES:]
    if len(blob) > CACHE_MAX_BYTES or not hmac.compare_digest(mac, hmac.new(key, body, "sha256").digest()):
        return None
    try:
        kb = pickle.loads(body)  # authenticated: written by this user's bmsdoc
    except Exception:  # written by an older build of the code: rebuild
        return None
    return kb if isinstance(kb, KB) else None


def _write_cache(cache: Path, kb: KB) -> None:
    import hmac
    import tempfile

    if not _private_dir(cache.parent):
        return
    key = _cache_key(cache.parent, create=True)
    if key is None:
        return
    try:
        body = pickle.dumps(kb, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return
    if len(body) + _MAC_BYTES > CACHE_MAX_BYTES:
        return
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".kb-", suffix=".tmp", dir=cache.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(hmac.new(key, body, "sha256").digest() + body)
        os.replace(tmp, cache)
        tmp = None
        for old in cache.parent.glob("kb-*.pickle"):  # older stamps are never read again
            if old != cache:
                old.unlink(missing_ok=True)
    except OSError:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _stamp(root: Path) -> str:
    h = hashlib.sha256(str(root).encode())
    for p in sorted(root.rglob("*.yaml")):
        st = p.stat()
        h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    code = Path(__file__).resolve().parent
    for p in sorted(code.glob("*.py")):
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _disk_cache_path(stamp: str) -> Path | None:
    if os.environ.get("BMSDOC_NO_CACHE"):
        return None
    try:
        env = os.environ.get("BMSDOC_CACHE_DIR")
        if env:
            return Path(env) / f"kb-{stamp}.pickle"
        from platformdirs import user_cache_path

        return user_cache_path("bmsdoc") / f"kb-{stamp}.pickle"
    except Exception:
        return None


def _load(root: Path, fast: bool = True) -> KB:
    """Parse fast without positions; only when something is wrong, parse again keeping every position."""
    from kb import validate  # validation registers the extra collections' checks

    problems: list[Problem] = []
    docs: dict[str, list[ContentFile]] = {}
    validate.import_extensions()
    for c in COLLECTIONS:
        paths = sorted(root.glob(c.pattern))
        if not paths and c.required:
            problems.append(Problem(_rel(root, root / c.pattern), 1, 1, f"no {c.name} file found ({c.pattern})"))
        docs[c.name] = []
        for p in paths:
            doc = read_doc(root, p, problems, fast)
            if doc is None:
                continue
            validate_doc(doc, c.model, problems)
            docs[c.name].append(doc)
    kb = validate.build(root, docs, problems)
    if problems and fast:
        return _load(root, fast=False)
    if problems:
        raise KBInvalid(problems)
    assert kb is not None
    return kb


def load_manifest_version(root: str | Path | None = None) -> str:
    """The KB version without loading everything (for --version)."""
    root_path = Path(root) if root else CONTENT_DIR
    try:
        from kb import untrusted

        text = untrusted.read_text(str(root_path / "manifest.yaml"), untrusted.CONTENT_BYTES, "manifest")
        node = untrusted.load_yaml(text, CONTENT_LIMITS, "manifest")
        return untrusted.shown(node.get("kb_version", "?"), 40)
    except Exception:
        return "?"


Check = Callable[["KB", list[Problem]], None]
