"""Cross-file validation: ids, citations, sections, conditions, templates, inline tests, version bumps.

Every problem is a Problem(path, line, col, message). Extensions (flows, checklists, selection, ...) live in
their own kb modules, listed in EXTENSIONS; importing one registers its collection and its checks.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kb.errors import Problem
from kb.expr import ExprError, parse, render
from kb.fields import FIELDS

EXTENSIONS = ["kb.flows", "kb.checklists", "kb.selection", "kb.reasoning", "kb.health", "kb.answers"]
CHECKS: list[Callable[[Any, list[Problem]], None]] = []
RELEASED_FILE = "released.yaml"
TEMPLATE_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}")
FORMAT_SPEC = re.compile(r"^[<>^]?[+-]?\d*(?:\.\d+)?[fgd%]?$")


def register_check(fn: Callable[[Any, list[Problem]], None]) -> Callable[[Any, list[Problem]], None]:
    if fn not in CHECKS:
        CHECKS.append(fn)
    return fn


def import_extensions() -> None:
    for name in EXTENSIONS:
        importlib.import_module(name)  # each registers its collection and checks; a broken one is an error


def build(root: Path, docs: dict, problems: list[Problem]):
    from kb.load import KB

    manifest_docs = [d for d in docs.get("manifest", []) if d.model is not None]
    if not manifest_docs:
        return None
    manifest = manifest_docs[0].model
    section_ids = {s.id for s in manifest.sections}
    kb = KB(root=root, manifest=manifest, sources={}, families={}, guides={}, guide_sections={}, rules={}, docs=docs)

    # sources
    for doc in docs.get("sources", []):
        if doc.model is None:
            continue
        for i, s in enumerate(doc.model.sources):
            if s.label in kb.sources:
                problems.append(Problem(doc.path, *doc.pos(("sources", i, "label"), True), f"duplicate source label '{s.label}'"))
            kb.sources[s.label] = s
            kb.locations[f"source:{s.label}"] = (doc.path, *doc.pos(("sources", i)))
            for j, sec in enumerate(s.sections):
                if sec not in section_ids:
                    problems.append(Problem(doc.path, *doc.pos(("sources", i, "sections", j), True), _unknown_section(sec, section_ids)))

    # families
    for doc in docs.get("families", []):
        if doc.model is None:
            continue
        f = doc.model
        if f.id in kb.families:
            problems.append(Problem(doc.path, *doc.pos(("id",), True), f"duplicate family id '{f.id}'"))
        kb.families[f.id] = f
        kb.locations[f"family:{f.id}"] = (doc.path, 1, 1)

    # guides
    for doc in docs.get("guides", []):
        if doc.model is None:
            continue
        g = doc.model
        if g.section not in section_ids:
            problems.append(Problem(doc.path, *doc.pos(("section",), True), _unknown_section(g.section, section_ids)))
        kb.guide_sections[g.section] = g
        for i, e in enumerate(g.entries):
            if e.id in kb.guides:
                problems.append(Problem(doc.path, *doc.pos(("entries", i, "id"), True), f"duplicate guide entry id '{e.id}'"))
            kb.guides[e.id] = e
            kb.locations[f"guide:{e.id}"] = (doc.path, *doc.pos(("entries", i)))

    # rules
    released = _released(root, problems)
    for doc in docs.get("rules", []):
        if doc.model is None:
            continue
        for i, r in enumerate(doc.model.rules):
            if r is None:  # did not validate: still report its id clash and its condition
                _check_raw_rule(kb, doc, i, problems)
            else:
                _check_rule(kb, doc, i, r, section_ids, released, problems)

    # guide entries point at rules
    for doc in docs.get("guides", []):
        if doc.model is None:
            continue
        for i, e in enumerate(doc.model.entries):
            for j, rid in enumerate(e.rules):
                if rid not in kb.rules:
                    problems.append(Problem(doc.path, *doc.pos(("entries", i, "rules", j), True), f"unknown rule id '{rid}'"))

    # every citation anywhere must name a source
    for ds in docs.values():
        for doc in ds:
            _check_citations(doc, doc.node, (), kb.sources, problems)

    for check in CHECKS:
        check(kb, problems)
    return kb


def _unknown_section(sec: str, known: set[str]) -> str:
    return f"unknown section '{sec}' (known: {', '.join(sorted(known))})"


def _check_citations(doc, node: Any, loc: tuple, sources: dict, problems: list[Problem]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "citations" and isinstance(v, list):
                for j, label in enumerate(v):
                    if str(label) not in sources:
                        problems.append(Problem(doc.path, *doc.pos(loc + (k, j), True), _dangling(str(label), sources)))
            else:
                _check_citations(doc, v, loc + (k,), sources, problems)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_citations(doc, v, loc + (i,), sources, problems)


def _dangling(label: str, sources: dict) -> str:
    import difflib

    close = difflib.get_close_matches(label, list(sources), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"citation '{label}' is not a footnote of the handbook{hint}"


def _check_rule(kb, doc, i: int, r, section_ids: set[str], released: dict, problems: list[Problem]) -> None:
    from kb.load import LoadedRule

    base = ("rules", i)
    if r.id in kb.rules or r.id in kb.invalid_rule_ids:
        problems.append(Problem(doc.path, *doc.pos(base + ("id",), True), f"duplicate rule id '{r.id}'"))
    if r.section not in section_ids:
        problems.append(Problem(doc.path, *doc.pos(base + ("section",), True), _unknown_section(r.section, section_ids)))
    try:
        tree = parse(r.when)
    except ExprError as e:
        line, col = expr_position(doc, base + ("when",), e.line, e.col)
        problems.append(Problem(doc.path, line, col, f"condition: {e.message}"))
        return
    for m in TEMPLATE_FIELD.finditer(r.message):
        name, spec = m.group(1), m.group(2)
        if name not in FIELDS or FIELDS[name].kind == "list":
            line, col = doc.pos(base + ("message",), True)
            problems.append(Problem(doc.path, line, col, f"message: unknown field '{{{name}}}'"))
        elif spec is not None and not FORMAT_SPEC.match(spec):
            line, col = doc.pos(base + ("message",), True)
            problems.append(Problem(doc.path, line, col, f"message: format '{spec}' is not a simple number format like .2f"))
    for j, t in enumerate(r.tests):
        for k in t.reading:
            if k not in FIELDS or FIELDS[k].derived:
                line, col = doc.pos(base + ("tests", j, "reading", k))
                what = "is derived by the engine; give the measured fields instead" if k in FIELDS else "is not a reading field"
                problems.append(Problem(doc.path, line, col, f"test '{t.name}': '{k}' {what}"))
    if not any(t.fires for t in r.tests) or all(t.fires for t in r.tests):
        problems.append(Problem(doc.path, *doc.pos(base + ("tests",)), "tests need at least one reading that fires and one that does not"))
    fp = fingerprint(r, tree)
    line, col = doc.pos(base)
    if r.id in released:
        old_version, old_fp = released[r.id]
        if r.version < old_version:
            problems.append(Problem(doc.path, *doc.pos(base + ("version",), True),
                                    f"version {r.version} is lower than the released version {old_version}"))
        elif fp != old_fp and r.version == old_version:
            problems.append(Problem(doc.path, *doc.pos(base + ("version",), True),
                                    f"rule '{r.id}' changed its condition, scope or severity since the last release "
                                    f"but its version is still {r.version}: bump it to {r.version + 1}"))
    kb.rules[r.id] = LoadedRule(rule=r, tree=tree, doc=doc.path, line=line, fingerprint=fp)
    kb.locations[f"rule:{r.id}"] = (doc.path, line, col)


def _check_raw_rule(kb, doc, i: int, problems: list[Problem]) -> None:
    raw = doc.node["rules"][i]
    if not isinstance(raw, dict):
        return
    rid = raw.get("id")
    if isinstance(rid, str):
        if rid in kb.rules or rid in kb.invalid_rule_ids:
            problems.append(Problem(doc.path, *doc.pos(("rules", i, "id"), True), f"duplicate rule id '{rid}'"))
        kb.invalid_rule_ids.add(rid)
    when = raw.get("when")
    if isinstance(when, str):
        try:
            parse(when)
        except ExprError as e:
            line, col = expr_position(doc, ("rules", i, "when"), e.line, e.col)
            problems.append(Problem(doc.path, line, col, f"condition: {e.message}"))


def fingerprint(rule, tree) -> str:
    logic = "|".join([render(tree), ",".join(sorted(rule.scope.families)), ",".join(sorted(rule.scope.chemistry)), rule.severity])
    return hashlib.sha256(logic.encode()).hexdigest()[:16]


def expr_position(doc, loc: tuple, eline: int, ecol: int) -> tuple[int, int]:
    """Map a position inside a condition to the file: plain, quoted and block scalars."""
    line, col = doc.pos(loc, value=True)
    if not doc.lines or line - 1 >= len(doc.lines):
        return line, col
    raw = doc.lines[line - 1]
    start = raw[col - 1:col] if col - 1 < len(raw) else ""
    if start in ("|", ">"):  # block scalar: text starts on the next line, at its indentation
        target = line + eline  # eline is 1-based within the block
        if target - 1 < len(doc.lines):
            text = doc.lines[target - 1]
            indent = len(text) - len(text.lstrip())
            return target, indent + ecol
        return line, col
    quote = 1 if start in ("'", '"') else 0
    return line + eline - 1, col + quote + ecol - 1


def _released(root: Path, problems: list[Problem]) -> dict[str, tuple[int, str]]:
    """What each rule looked like at the last release (content/released.yaml, written by `bmsdoc kb release`)."""
    path = root / RELEASED_FILE
    if not path.exists():
        return {}
    from kb.load import read_doc, to_plain

    doc = read_doc(root, path, problems)
    if doc is None:
        return {}
    data = to_plain(doc.node)
    out = {}
    for rid, v in (data.get("rules") or {}).items():
        if isinstance(v, dict) and isinstance(v.get("version"), int) and isinstance(v.get("fingerprint"), str):
            out[str(rid)] = (v["version"], v["fingerprint"])
        else:
            problems.append(Problem(doc.path, *doc.pos(("rules", rid)), f"released entry for '{rid}' needs version and fingerprint"))
    return out


def release_snapshot(kb) -> dict[str, Any]:
    return {
        "kb_version": kb.kb_version,
        "rules": {rid: {"version": lr.rule.version, "fingerprint": lr.fingerprint} for rid, lr in sorted(kb.rules.items())},
    }
