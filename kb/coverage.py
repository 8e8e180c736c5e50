"""Which KB items cite which footnotes, per handbook section: the proof that the whole handbook is covered."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def _cited(node: Any) -> set[str]:
    """Every citation label inside a model (nested lists and models included)."""
    out: set[str] = set()
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            v = getattr(node, name)
            if name == "citations" and isinstance(v, list):
                out.update(str(x) for x in v)
            else:
                out |= _cited(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            out |= _cited(v)
    elif isinstance(node, dict):
        for v in node.values():
            out |= _cited(v)
    return out


def items(kb) -> list[dict[str, Any]]:
    """(kind, id, section, citations) for every citing item of the KB."""
    rows = []
    for fid, f in kb.families.items():
        rows.append({"kind": "family", "id": fid, "section": "selection", "citations": sorted(_cited(f))})
    for section, g in kb.guide_sections.items():
        for e in g.entries:
            rows.append({"kind": "guide", "id": e.id, "section": section, "citations": sorted(_cited(e))})
    for rid, lr in kb.rules.items():
        rows.append({"kind": "rule", "id": rid, "section": lr.rule.section, "citations": sorted(_cited(lr.rule))})
    for models in kb.coverage_items.values():  # flows, checklists... register here
        rows.extend(models)
    return rows


def coverage(kb) -> dict[str, Any]:
    rows = items(kb)
    by_label: dict[str, list[str]] = {label: [] for label in kb.sources}
    for r in rows:
        for c in r["citations"]:
            by_label.setdefault(c, []).append(f"{r['kind']}:{r['id']}")
    sections = []
    for s in kb.manifest.sections:
        its = [f"{r['kind']}:{r['id']}" for r in rows if r["section"] == s.id]
        labels = sorted({c for r in rows if r["section"] == s.id for c in r["citations"]}, key=_label_key)
        supported = sorted([label for label, src in kb.sources.items() if s.id in src.sections], key=_label_key)
        sections.append({"id": s.id, "title": s.title, "items": its, "footnotes_cited": labels,
                         "footnotes_of_section": supported,
                         "footnotes_uncited_here": [x for x in supported if x not in labels]})
    footnotes = [{"label": label, "cited_by": sorted(by_label.get(label, []))} for label in sorted(kb.sources, key=_label_key)]
    return {
        "kb_version": kb.kb_version,
        "sections": sections,
        "footnotes": footnotes,
        "uncited_footnotes": [f["label"] for f in footnotes if not f["cited_by"]],
        "sections_without_items": [s["id"] for s in sections if not s["items"]],
        "totals": {"items": len(rows), "footnotes": len(kb.sources),
                   "footnotes_cited": sum(1 for f in footnotes if f["cited_by"])},
    }


def _label_key(label: str) -> tuple[int, int | str]:
    return (0, int(label)) if label.isdigit() else (1, label)
