"""The commissioning checklist: progress per pack, automatic checks against a reading, and an exported report.

Progress is plain JSON in the user's data directory (BMSDOC_DATA_DIR overrides it), one file per pack: the file
name is a readable slug of the pack name plus a hash of the exact name, so "my pack" and "my/pack" never share
a file. Every change is a read-modify-write under an exclusive lock (``Progress.locked``), so concurrent
`checklist --mark` runs all land, and is written atomically (a temporary file in the same directory, fsync,
rename; the temporary file is removed if anything fails) so a crash or a full disk never leaves half a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.datadir import data_dir, umask_mode
from kb.errors import UserError

STATUSES = ("pending", "done", "skipped", "failed")


def _slug(pack: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", pack.strip()).strip("-.")
    if not s:
        raise UserError(f"'{pack}' is not a usable pack name: use letters, digits, '-' or '_'")
    return s[:60]


def _file_stem(pack: str) -> str:
    digest = hashlib.sha256(pack.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{_slug(pack)}-{digest}"


PROGRESS_BYTES = 1_000_000
MAX_TAP_V = 1000.0


def _taps(raw: Any) -> list[float]:
    if not isinstance(raw, list):
        return []
    out = []
    for x in raw:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            continue
        if isinstance(x, int) and abs(x) > MAX_TAP_V:
            continue
        x = float(x)
        if math.isfinite(x) and abs(x) <= MAX_TAP_V:
            out.append(x)
    return out


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
    series: int | None = None  # the pack's series count, when the user gave it (confirms the balance taps)

    @classmethod
    def path_for(cls, pack: str, checklist: str) -> Path:
        return data_dir() / "checklists" / f"{_file_stem(pack)}.{checklist}.json"

    @classmethod
    def _legacy_path(cls, pack: str, checklist: str) -> Path:
        return data_dir() / "checklists" / f"{_slug(pack)}.{checklist}.json"  # before names were hashed

    @classmethod
    def load(cls, pack: str, checklist, kb_version: str) -> Progress:
        path = cls.path_for(pack, checklist.id)
        steps = {s.id: StepState() for s in checklist.steps}
        data = cls._read(path)
        if data is None:
            legacy = cls._read(cls._legacy_path(pack, checklist.id))
            if legacy is not None and legacy.get("pack") == pack:  # only the pack's own old file
                data = legacy
        for sid, st in (data or {}).get("steps", {}).items():
            if sid in steps and isinstance(st, dict) and st.get("status") in STATUSES:
                steps[sid] = StepState(st["status"], _text(st.get("note")), _text(st.get("at")), _taps(st.get("taps")))
        series = (data or {}).get("series")
        series = series if isinstance(series, int) and not isinstance(series, bool) and 1 <= series <= 64 else None
        return cls(pack, checklist.id, kb_version, steps, series)

    @classmethod
    def reset(cls, pack: str, checklist: str) -> None:
        path = cls.path_for(pack, checklist)
        with _lock(path):
            path.unlink(missing_ok=True)
            legacy = cls._legacy_path(pack, checklist)
            try:
                if legacy.exists() and json.loads(legacy.read_text(encoding="utf-8")).get("pack") == pack:
                    legacy.unlink()
            except (OSError, ValueError, AttributeError):
                pass

    @staticmethod
    def _read(path: Path) -> dict | None:
        from kb import untrusted

        if not path.exists():
            return None
        try:
            data = untrusted.loads_json(untrusted.read_text(str(path), PROGRESS_BYTES, "saved progress"),
                                        what="saved progress")
        except (UserError, ValueError) as e:
            raise UserError(f"the saved progress {path} is damaged ({untrusted.shown(str(e), 120)}); "
                            "move it away or run with --reset to start again") from None
        if not isinstance(data, dict) or not isinstance(data.get("steps", {}), dict):
            raise UserError(f"the saved progress {path} is not a checklist progress file; "
                            "move it away or run with --reset to start again")
        return data

    @classmethod
    @contextlib.contextmanager
    def locked(cls, pack: str, checklist, kb_version: str):
        """Load, let the caller change, save: all under an exclusive lock on the pack's progress."""
        path = cls.path_for(pack, checklist.id)
        with _lock(path):
            progress = cls.load(pack, checklist, kb_version)
            yield progress
            progress.save()

    def save(self) -> Path:
        from kb.untrusted import clean

        path = self.path_for(self.pack, self.checklist)
        text = clean(json.dumps(asdict(self), indent=2, ensure_ascii=False))
        _atomic_write(path, text)
        return path

    def mark(self, step: str, status: str, note: str = "") -> None:
        from kb.untrusted import shown

        if step not in self.steps:
            raise UserError(f"no step '{shown(step, 40)}' in this checklist (steps: {', '.join(self.steps)})")
        if status not in STATUSES:
            raise UserError(f"status must be one of {', '.join(STATUSES)}, not '{shown(status, 40)}'")
        st = self.steps[step]
        st.status = status
        st.note = note or st.note
        st.at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps.values() if s.status in ("done", "skipped"))


def _text(v: Any) -> str:
    return v[:2000] if isinstance(v, str) else ""


@contextlib.contextmanager
def _lock(path: Path):
    """An exclusive advisory lock beside the progress file (a permanent, empty `.lock`; waits for the holder)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise UserError(f"cannot save progress in {path.parent}: {e.strerror or e}") from None
    try:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here; one writer at a time is assumed
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _atomic_write(path: Path, text: str) -> None:
    """Write text to path atomically; on any failure the old file stays and no temporary file is left."""
    data = text.encode("utf-8")
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        umask_mode(tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e} (the previous version is kept)") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@dataclass
class CheckResult:
    text: str
    result: bool | None  # None: the reading does not say
    missing: list[str]


@dataclass
class TapResult:
    ok: bool | None  # None: nothing wrong in the taps given, but the lead order cannot be confirmed (series unknown
    message: str     # or not every tap measured): the step stays open
    cells: list[float]


def get_checklist(kb, checklist_id: str = "commissioning"):
    lists = kb.checklists
    if checklist_id not in lists:
        raise UserError(f"no checklist '{checklist_id}' (known: {', '.join(lists) or 'none'})")
    return lists[checklist_id]


def auto_checks(kb, checklist, step, reading) -> list[CheckResult]:
    from engine.evaluate import evaluate

    # the same derived facts as `check` (inferred series and chemistry, sense-lead patterns)
    if reading is not None:
        from engine.check import values_for

        values = values_for(reading, kb)
    else:
        values = {}
    out = []
    for j, chk in enumerate(step.checks):
        o = evaluate(kb.checklist_trees[(checklist.id, step.id, j)], values)
        out.append(CheckResult(chk.text, o.value, list(o.missing)))
    return out


def check_taps(measure, taps: list[float], series: int | None = None) -> TapResult:
    """Cumulative balance-tap voltages measured from B-: each tap must rise by one cell's voltage, and there must be
    one rise per series cell. Without the pack's series count the order cannot be confirmed (ok is None)."""
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
    rises = f"{len(cells)} tap{'s' if len(cells) != 1 else ''} rise by {min(cells):.2f}-{max(cells):.2f} V each"
    if series is None:
        return TapResult(None, f"{rises}, but the pack's series count is not known, so the lead order cannot be "
                               "confirmed: give the series (e.g. 20S) and every tap from B- to the top", cells)
    if len(cells) < series:
        return TapResult(None, f"{rises}, but a {series}S pack has {series} cells: measure all {series + 1} taps "
                               f"(B- to B{series}) to confirm the lead order", cells)
    if len(cells) > series:
        return TapResult(False, f"{len(cells)} cell steps on a {series}S pack: a lead is doubled or the series count "
                                "is wrong; check both before soldering B-", cells)
    return TapResult(True, f"{rises}, all {series} cells of the {series}S pack: lead order is right", cells)


def step_citations(kb, step) -> list[str]:
    g = kb.guides[step.guide]
    cites = list(g.citations) + list(step.citations) + (list(step.measure.citations) if step.measure else [])
    return list(dict.fromkeys(cites))


def report_markdown(kb, checklist, progress: Progress, reading=None, source: str | None = None) -> str:
    """The report. `source` says where `reading` came from ("the virtual BMS demo ...", "ride.json"): every
    automatic check's verdict names it, so a pass taken from a demo is never mistaken for the pack's own."""
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"# {checklist.title}: {progress.pack}", "",
             f"Knowledge base {kb.kb_version} · {progress.done}/{len(checklist.steps)} steps complete · {now}", "",
             checklist.intro, ""]
    src = (source or "the reading given") if reading is not None else None
    if src:
        lines += [f"Automatic checks below were evaluated on **{src}**, taken {now}.", ""]
    else:
        lines += ["No reading was given: the automatic checks are not measured.", ""]
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
            origin = f" (from {src})" if r.result is not None else ""
            lines.append(f"- Check: {r.text}: **{verdict}**{origin}")
        if step.measure and st.taps:
            tr = check_taps(step.measure, st.taps, progress.series)
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


def export(kb, checklist, progress: Progress, path: Path, reading=None, source: str | None = None) -> Path:
    md = report_markdown(kb, checklist, progress, reading, source)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        text = report_html(md, f"{checklist.title}: {progress.pack}")
    elif suffix in (".md", ".markdown", ".txt"):
        text = md
    else:
        raise UserError(f"export to .md or .html, not '{path.suffix or path.name}'")
    from kb.untrusted import clean

    _atomic_write(path, clean(text))
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
