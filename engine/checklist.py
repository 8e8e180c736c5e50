"""The commissioning checklist: progress per pack, automatic checks against a reading, and an exported report.

Progress is plain JSON in the user's data directory (BMSDOC_DATA_DIR overrides it), one file per pack, written
atomically so a crash never leaves half a file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kb.errors import UserError

STATUSES = ("pending", "done", "skipped", "failed")


def data_dir() -> Path:
    env = os.environ.get("BMSDOC_DATA_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_path

    return user_data_path("bmsdoc")


def _slug(pack: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", pack.strip()).strip("-.")
    if not s:
        raise UserError(f"'{pack}' is not a usable pack name: use letters, digits, '-' or '_'")
    return s[:80]


@dataclass
class StepState:
    status: str = "pending"
    note: str = ""
    at: str = ""
    taps: list[float] = field(default_factory=list)


@dataclass
class Progress:
    pack: str
    checklist: str
    kb_version: str
    steps: dict[str, StepState]

    @classmethod
    def path_for(cls, pack: str, checklist: str) -> Path:
        return data_dir() / "checklists" / f"{_slug(pack)}.{checklist}.json"

    @classmethod
    def load(cls, pack: str, checklist, kb_version: str) -> "Progress":
        path = cls.path_for(pack, checklist.id)
        steps = {s.id: StepState() for s in checklist.steps}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                for sid, st in (data.get("steps") or {}).items():
                    if sid in steps and isinstance(st, dict) and st.get("status") in STATUSES:
                        steps[sid] = StepState(st["status"], str(st.get("note", "")), str(st.get("at", "")),
                                               [float(x) for x in st.get("taps", []) if isinstance(x, (int, float))])
            except (OSError, ValueError) as e:
                raise UserError(f"cannot read the saved progress {path.name}: {e}") from None
        return cls(pack, checklist.id, kb_version, steps)

    def save(self) -> Path:
        path = self.path_for(self.pack, self.checklist)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def mark(self, step: str, status: str, note: str = "") -> None:
        if step not in self.steps:
            raise UserError(f"no step '{step}' in this checklist (steps: {', '.join(self.steps)})")
        if status not in STATUSES:
            raise UserError(f"status must be one of {', '.join(STATUSES)}, not '{status}'")
        st = self.steps[step]
        st.status = status
        st.note = note or st.note
        st.at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps.values() if s.status in ("done", "skipped"))


@dataclass
class CheckResult:
    text: str
    result: bool | None  # None: the reading does not say
    missing: list[str]


@dataclass
class TapResult:
    ok: bool
    message: str
    cells: list[float]


def get_checklist(kb, checklist_id: str = "commissioning"):
    lists = kb.extra.get("checklists", {})
    if checklist_id not in lists:
        raise UserError(f"no checklist '{checklist_id}' (known: {', '.join(lists) or 'none'})")
    return lists[checklist_id]


def auto_checks(kb, checklist, step, reading) -> list[CheckResult]:
    from engine.evaluate import evaluate

    values = reading.values() if reading is not None else {}
    out = []
    for j, chk in enumerate(step.checks):
        o = evaluate(kb.extra["checklist_trees"][(checklist.id, step.id, j)], values)
        out.append(CheckResult(chk.text, o.value, list(o.missing)))
    return out


def check_taps(measure, taps: list[float]) -> TapResult:
    """Cumulative balance-tap voltages measured from B-: each tap must rise by one cell's voltage."""
    if len(taps) < 2:
        return TapResult(False, "enter at least two tap voltages, measured from B- (the first may be 0)", [])
    vals = list(taps)
    if vals[0] > measure.step_min:  # the B- tap itself was not given: start from 0 V
        vals = [0.0] + vals
    cells = [round(b - a, 3) for a, b in zip(vals, vals[1:])]
    for i, c in enumerate(cells, 1):
        if not measure.step_min <= c <= measure.step_max:
            where = "lower" if c < measure.step_min else "higher"
            return TapResult(False, f"tap {i} rises by {c:.2f} V, {where} than one cell "
                                    f"({measure.step_min:g}-{measure.step_max:g} V): check lead {i} and {i - 1} "
                                    f"before soldering B-", cells)
    return TapResult(True, f"{len(cells)} taps rise by {min(cells):.2f}-{max(cells):.2f} V each: lead order is right", cells)


def step_citations(kb, step) -> list[str]:
    g = kb.guides[step.guide]
    cites = list(g.citations) + list(step.citations) + (list(step.measure.citations) if step.measure else [])
    return list(dict.fromkeys(cites))


def report_markdown(kb, checklist, progress: Progress, reading=None) -> str:
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"# {checklist.title}: {progress.pack}", "",
             f"Knowledge base {kb.kb_version} · {progress.done}/{len(checklist.steps)} steps complete · {now}", "",
             checklist.intro, ""]
    marks = {"done": "[x]", "skipped": "[-]", "failed": "[!]", "pending": "[ ]"}
    cited: dict[str, None] = {}
    for i, step in enumerate(checklist.steps, 1):
        st = progress.steps[step.id]
        cites = step_citations(kb, step)
        for c in cites:
            cited.setdefault(c, None)
        lines.append(f"## {i}. {marks[st.status]} {step.title} ({st.status})")
        lines.append("")
        for s in kb.guides[step.guide].steps:
            lines.append(f"- {s}")
        for r in auto_checks(kb, checklist, step, reading):
            verdict = {True: "pass", False: "FAIL", None: "not measured"}[r.result]
            lines.append(f"- Check: {r.text}: **{verdict}**")
        if step.measure and st.taps:
            tr = check_taps(step.measure, st.taps)
            lines.append(f"- Taps: {', '.join(f'{t:g}' for t in st.taps)} V: {tr.message}")
        if st.note:
            lines.append(f"- Note: {st.note}")
        lines.append(f"- Sources: {', '.join(f'[{c}](#source-{c})' for c in cites)}")
        lines.append("")
    lines += ["## Sources", ""]
    for c in sorted(cited, key=lambda x: (0, int(x)) if x.isdigit() else (1, x)):
        s = kb.sources[c]
        lines.append(f'- <a id="source-{c}"></a>**[^{c}]** {s.summary} ({"; ".join(s.locators)})')
    return "\n".join(lines) + "\n"


def report_html(markdown_text: str, title: str) -> str:
    from html import escape

    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown_text)
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.4}"
            "h2{border-bottom:1px solid #ccc}</style></head>\n<body>\n" + body + "</body></html>\n")


def export(kb, checklist, progress: Progress, path: Path, reading=None) -> Path:
    md = report_markdown(kb, checklist, progress, reading)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        text = report_html(md, f"{checklist.title}: {progress.pack}")
    elif suffix in (".md", ".markdown", ".txt"):
        text = md
    else:
        raise UserError(f"export to .md or .html, not '{path.suffix or path.name}'")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from None
    return path


def status_json(kb, checklist, progress: Progress, reading=None) -> dict[str, Any]:
    steps = []
    for step in checklist.steps:
        st = progress.steps[step.id]
        steps.append({"id": step.id, "title": step.title, "status": st.status, "note": st.note, "at": st.at,
                      "checks": [asdict(r) for r in auto_checks(kb, checklist, step, reading)],
                      "taps": st.taps, "citations": step_citations(kb, step)})
    return {"kb_version": kb.kb_version, "checklist": checklist.id, "pack": progress.pack,
            "done": progress.done, "total": len(checklist.steps), "steps": steps}
