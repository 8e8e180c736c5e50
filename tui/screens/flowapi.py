"""The Diagnose screen's view of an engine.flows session: the step, the path and the conclusion as plain dicts.

engine.flows is imported directly: a broken runner is an import error at start-up, not a screen that says "not
available". The dicts keep the screen's rendering independent of the runner's dataclasses.
"""

from __future__ import annotations

from typing import Any

from engine.flows import Conclusion, Prompt, Session, flows_of
from kb.errors import UserError


def list_flows(kb: Any) -> list[tuple[str, str]]:
    return [(fid, f.title) for fid, f in flows_of(kb).items()]


def flow_for(kb: Any, finding: Any) -> str | None:
    """The flow that starts from a finding's rule, else the one sharing most of its citations, if any."""
    best, best_overlap = None, 0
    for fid, f in flows_of(kb).items():
        if finding.rule in f.rules:
            return fid
        overlap = len(set(f.citations) & set(finding.citations))
        if overlap > best_overlap:
            best, best_overlap = fid, overlap
    return best


def _prompt_view(p: Prompt) -> dict[str, Any]:
    return {"id": p.id, "kind": p.kind, "question": p.question, "how": p.how, "unit": p.unit,
            "options": [{"label": str(o["label"]), "value": o["value"]} for o in p.options],
            "citations": list(p.citations), "remedy": [], "text": ""}


def _conclusion_view(c: Conclusion) -> dict[str, Any]:
    return {"id": c.id, "kind": "conclude", "question": c.title or "Conclusion", "how": "", "unit": "", "options": [],
            "citations": list(c.citations), "remedy": list(c.remedy), "text": c.text}


class Runner:
    """One diagnosis session, seen as plain dicts."""

    def __init__(self, kb: Any, flow_id: str, reading: Any = None) -> None:
        flow = flows_of(kb).get(flow_id)
        if flow is None:
            raise UserError(f"no diagnosis flow '{flow_id}'")
        self.kb, self.flow_id, self.title = kb, flow_id, flow.title or flow_id
        self.session = Session(kb, flow_id, reading)

    # ---- reading the session

    def current(self) -> dict[str, Any] | None:
        p = self.session.next_step()
        if p is not None:
            return _prompt_view(p)
        c = self.session.conclusion
        return _conclusion_view(c) if c is not None else None

    def concluded(self) -> bool:
        return self.session.concluded

    def path(self) -> list[dict[str, Any]]:
        return [{"step": e.step, "question": e.question, "answer": e.answer, "auto": e.auto} for e in self.session.path]

    # ---- acting on it

    def answer(self, value: Any) -> None:
        """An option's index (as the screen's list gives it) or the typed value; bad values raise UserError."""
        step = self.current()
        if step is None or step["kind"] == "conclude":
            return
        if isinstance(value, int) and step["options"]:
            value = step["options"][value]["value"]
        elif isinstance(value, str) and not step["options"] and not value.strip():
            raise UserError("type a value first")
        self.session.answer(value)

    def rewind(self, index: int) -> None:
        if 0 <= index < len(self.session.path):
            self.session.rewind(index)

    def back(self) -> bool:
        return self.session.back()

    def why(self) -> str:
        step = self.current()
        return self.session.why(step["id"]) if step else self.session.why()

    def report_markdown(self) -> str:
        return self.session.report_markdown()
