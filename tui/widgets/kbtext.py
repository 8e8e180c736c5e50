"""Markdown text for knowledge-base items (sections, sources, findings). Pure functions: no widgets here.

Citations are written as links with the `cite:` scheme (`[[^4]](cite:4)`) and sections as `section:ID`; every
Markdown widget of the app hands those links to `App.open_citation` / the handbook browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

SEVERITY_ICON = {"critical": "✖", "warning": "▲", "info": "●"}


def label_key(label: str) -> tuple[int, int | str]:
    return (0, int(label)) if label.isdigit() else (1, label)


def cite_md(labels: Iterable[str]) -> str:
    """`[^4] [^ant-cutoff]` as links the app resolves."""
    return " ".join(f"[\\[^{c}\\]](cite:{c})" for c in dict.fromkeys(labels))


def cite_markup(labels: Iterable[str]) -> str:
    """The same as Textual content markup: clickable, in the link style."""
    out = []
    for c in dict.fromkeys(labels):
        safe = c.replace("'", "")
        out.append(f"[@click=app.open_citation('{safe}')]\\[^{c}][/]")
    return " ".join(out)


def _esc(text: str) -> str:
    return str(text).replace("<", "&lt;")


def guide_entry_md(e: Any, level: str = "###") -> list[str]:
    lines = [f"{level} {e.title}", "", _esc(e.summary), ""]
    for s in e.steps:
        lines.append(f"- {_esc(s)}")
    lines.append("")
    fams = f" · families: {', '.join(e.families)}" if getattr(e, "families", None) else ""
    lines.append(f"Sources: {cite_md(e.citations)}{fams}")
    lines.append("")
    return lines


def family_md(f: Any, level: str = "###") -> list[str]:
    r = f.rating
    peak = f" / {r.peak_a.min:g}–{r.peak_a.max:g} A peak" if r.peak_a else ""
    ser = f.series
    adv = f" (listings claim {ser.advertised_max} S)" if ser.advertised_max else ""
    bal = f.balancing
    bal_cur = f", {bal.current_a.min:g}–{bal.current_a.max:g} A" if bal.current_a else ""
    lines = [f"{level} {f.name}", "", _esc(f.summary), "",
             (f"- **Rating:** {r.continuous_a.min:g}–{r.continuous_a.max:g} A continuous{peak}"
              + (f"; about {r.comfort_a:g} A in practice ({_esc(r.comfort_note)})" if r.comfort_a else "")
              if r.continuous_a else "- **Rating:** none of its own (the fuse and the controller set the budget)")
             + f". {_esc(r.note)} {cite_md(r.citations)}",
             f"- **Series:** {ser.min}–{ser.max} S{adv}. {_esc(ser.note)} {cite_md(ser.citations)}",
             f"- **Balancing:** {bal.type}{bal_cur}. {_esc(bal.note)} {cite_md(bal.citations)}",
             f"- **Footprint:** {f.footprint} · discharge FETs: {'yes' if f.discharge_fets else 'no'} · "
             f"full protection: {'yes' if f.full_protection else 'no'}",
             "", "**Strengths**", ""]
    for s in f.strengths:
        lines.append(f"- {_esc(s.text)} {cite_md(s.citations)}")
    lines += ["", "**Pitfalls and mitigations**", ""]
    for p in f.pitfalls:
        lines.append(f"- {_esc(p.text)} *Mitigation:* {_esc(p.mitigation)} {cite_md(p.citations)}")
    if f.failure_modes:
        lines += ["", "**Failure modes seen in the field**", ""]
        for s in f.failure_modes:
            lines.append(f"- {_esc(s.text)} {cite_md(s.citations)}")
    lines.append("")
    return lines


def rule_md(rule: Any) -> list[str]:
    icon = SEVERITY_ICON.get(rule.severity, "")
    fam = f" ({', '.join(rule.scope.families)})" if rule.scope.families else ""
    return [f"- {icon} **{_esc(rule.title)}**{fam}: `{rule.when}` {cite_md(rule.citations)}"]


def section_md(kb: Any, sid: str) -> str:
    """One handbook section: its guide entries, family cards, reading checks and source notes."""
    sec = next((s for s in kb.manifest.sections if s.id == sid), None)
    title = sec.title if sec else sid
    lines = [f"# {title}", ""]
    if sec is not None and sec.heading and sec.heading != title:
        lines += [f"*Handbook: {sec.heading}*", ""]
    guide = kb.guide_sections.get(sid)
    if guide is not None:
        for e in guide.entries:
            lines += guide_entry_md(e, "##")
    from tui.widgets.search import family_section

    if sid == family_section(kb):
        for f in kb.families.values():
            lines += family_md(f, "##")
    rules = [lr.rule for lr in kb.rules.values() if lr.rule.section == sid]
    if rules:
        lines += ["## Checks on a reading", "", "What `bmsdoc` checks on a live or pasted reading for this section:", ""]
        for r in sorted(rules, key=lambda r: (r.severity != "critical", r.severity != "warning", r.title)):
            lines += rule_md(r)
        lines.append("")
    srcs = sorted((lbl for lbl, s in kb.sources.items() if sid in s.sections), key=label_key)
    if srcs:
        lines += ["## Source notes", ""]
        for lbl in srcs:
            lines.append(f"- [\\[^{lbl}\\]](cite:{lbl}) {_esc(kb.sources[lbl].summary)}")
        lines.append("")
    if len(lines) <= 3:
        lines.append("Nothing in the knowledge base for this section yet.")
    return "\n".join(lines)


_CITED: dict[int, tuple[Any, dict[str, list[str]]]] = {}  # id(kb) -> (kb, label -> citing items)


def cited_by(kb: Any, label: str) -> list[str]:
    """'kind: title' of every KB item citing `label` (the coverage walk is done once per knowledge base)."""
    hit = _CITED.get(id(kb))
    if hit is None or hit[0] is not kb:
        from kb.coverage import items

        index: dict[str, list[str]] = {}
        for row in items(kb):
            for c in dict.fromkeys(row["citations"]):
                index.setdefault(c, []).append(f"{row['kind']} `{row['id']}`")
        hit = _CITED[id(kb)] = (kb, index)
    return list(hit[1].get(label, []))


def source_md(kb: Any, label: str) -> str:
    s = kb.sources.get(label)
    if s is None:
        return f"# [^{label}]\n\nThere is no source note '{label}' in knowledge base {kb.kb_version}."
    secs = ", ".join(f"[{kb.section_title(x)}](section:{x})" for x in s.sections)
    lines = [f"# Source note [^{label}]", "", _esc(s.summary), "", f"**Handbook sections:** {secs}", "",
             "**Where it comes from:**", ""]
    for loc in s.locators:
        lines.append(f"- `{loc}`")
    who = cited_by(kb, label)
    lines += ["", f"**Cited by {len(who)} item{'s' if len(who) != 1 else ''} of the knowledge base:**", ""]
    lines += [f"- {w}" for w in who] or ["- nothing yet"]
    return "\n".join(lines) + "\n"


def sources_index_md(kb: Any) -> str:
    lines = ["# Source notes", "", f"The handbook's {len(kb.sources)} footnotes. Every citation in the app opens one of these.", ""]
    for lbl in sorted(kb.sources, key=label_key):
        lines.append(f"- [\\[^{lbl}\\]](cite:{lbl}) {_esc(kb.sources[lbl].summary)}")
    return "\n".join(lines) + "\n"


def finding_md(f: Any) -> str:
    """A Finding: message, evidence, remedy and sources."""
    lines = [_esc(f.message), ""]
    if f.evidence:
        ev = ", ".join(f"`{k}` = {fmt_value(v)}" for k, v in f.evidence.items())
        lines += [f"**Evidence:** {ev}", ""]
    if f.remedy:
        lines += ["**Remedy:**", ""]
        lines += [f"{i}. {_esc(r)}" for i, r in enumerate(f.remedy, 1)]
        lines.append("")
    lines.append(f"**Sources:** {cite_md(f.citations)}")
    return "\n".join(lines)


def fmt_value(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:.1f}"
    if isinstance(v, list):
        return "[" + ", ".join(fmt_value(x) for x in v[:24]) + (" …" if len(v) > 24 else "") + "]"
    return str(v)


_WORD = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*")


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())
