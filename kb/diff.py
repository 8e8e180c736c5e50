"""Compare two knowledge bases and classify the change as a semantic version bump.

Like Falco's rules checker: removing an item or changing a rule's logic (condition, scope, severity) is major,
since a user's results can silently change; adding an item is minor; text, remedies and citations are patch.
"""

from __future__ import annotations

from typing import Any

LEVEL = {"patch": 0, "minor": 1, "major": 2}


def _index(kb) -> dict[str, Any]:
    idx: dict[str, Any] = {}
    for rid, lr in kb.rules.items():
        idx[f"rule:{rid}"] = lr
    for gid, g in kb.guides.items():
        idx[f"guide:{gid}"] = g
    for fid, f in kb.families.items():
        idx[f"family:{fid}"] = f
    for label, s in kb.sources.items():
        idx[f"source:{label}"] = s
    for key, model in kb.diff_items.items():  # flows, checklists... register here
        idx[key] = model
    return idx


def _dump(x: Any) -> dict:
    if hasattr(x, "rule"):  # LoadedRule
        return x.rule.model_dump()
    return x.model_dump() if hasattr(x, "model_dump") else dict(x)


def diff(old, new) -> dict[str, Any]:
    a, b = _index(old), _index(new)
    added = sorted(set(b) - set(a))
    removed = sorted(set(a) - set(b))
    changed = []
    level = "patch"
    if added:
        level = "minor"
    if removed:
        level = "major"
    for key in sorted(set(a) & set(b)):
        da, db = _dump(a[key]), _dump(b[key])
        if da == db:
            continue
        fields = sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k))
        kind = "patch"
        if key.startswith("rule:") and a[key].fingerprint != b[key].fingerprint:
            kind = "major"
        elif key.startswith("family:") and any(f in fields for f in ("rating", "series", "balancing", "discharge_fets",
                                                                      "full_protection", "traits", "footprint")):
            kind = "minor"
        changed.append({"item": key, "fields": fields, "change": kind})
        if LEVEL[kind] > LEVEL[level]:
            level = kind
    if not (added or removed or changed):
        level = "none"
    return {"old_version": old.kb_version, "new_version": new.kb_version, "added": added, "removed": removed,
            "changed": changed, "bump": level, "version_ok": _version_ok(old.kb_version, new.kb_version, level)}


def _version_ok(old: str, new: str, level: str) -> bool:
    o = tuple(int(x) for x in old.split("."))
    n = tuple(int(x) for x in new.split("."))
    if level == "none":
        return n >= o
    need = {"major": (o[0] + 1, 0, 0), "minor": (o[0], o[1] + 1, 0), "patch": (o[0], o[1], o[2] + 1)}[level]
    return n >= need
