"""The Diagnose screen's view of engine.flows (the diagnosis runner), in one place.

The screen works on plain dicts (title, path of answered steps, the current step, the conclusion) and calls only
`Runner`. Everything that depends on how engine.flows spells things lives here, so a change in the runner's
interface is mended in this file. What is expected of engine.flows (issue 5):

- flows in `kb.flows` (id -> flow with `title`, optional `symptom`, `rules`/`findings` naming the rule
  ids a flow starts from);
- a session started with `start(kb, flow_id, reading=None)` (or `Session(kb, flow_id, reading)`), offering
  `next_step()` (None once concluded), `answer(value)`, `change(step_id, value)` or `rewind(index)`, `why(step_id)`,
  `how()`, `conclusion`, and `path` (the answered steps: step id, question, answer, and whether the reading gave it).

`compatible()` says which of these are missing, and the screen then says so instead of failing.
"""

from __future__ import annotations

from typing import Any

from kb.errors import UserError


def _flows(kb: Any) -> dict[str, Any]:
    flows = kb.flows
    if isinstance(flows, list):
        flows = {getattr(f, "id", str(i)): f for i, f in enumerate(flows)}
    return flows


def compatible() -> tuple[bool, str]:
    try:
        import engine.flows as ef
    except ImportError as e:
        return False, f"engine.flows cannot be imported ({e})"
    if not (hasattr(ef, "start") or hasattr(ef, "Session")):
        return False, "engine.flows offers neither start() nor Session"
    return True, ""


def list_flows(kb: Any) -> list[tuple[str, str]]:
    out = []
    for fid, f in _flows(kb).items():
        title = getattr(f, "title", None) or getattr(f, "symptom", None) or fid
        out.append((fid, str(title)))
    return out


def flow_for(kb: Any, finding: Any) -> str | None:
    """The flow that starts from a finding's rule (or cites the same sources), if any."""
    rule = getattr(finding, "rule", None)
    best, best_overlap = None, 0
    for fid, f in _flows(kb).items():
        rules = list(getattr(f, "rules", None) or getattr(f, "findings", None) or getattr(f, "from_rules", None) or [])
        if rule and rule in rules:
            return fid
        overlap = len(set(getattr(f, "citations", None) or []) & set(getattr(finding, "citations", None) or []))
        if overlap > best_overlap:
            best, best_overlap = fid, overlap
    return best


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for n in names:
        if isinstance(obj, dict) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return default


def _call(obj: Any, name: str, *args: Any) -> Any:
    v = getattr(obj, name, None)
    return v(*args) if callable(v) else v


class Runner:
    """One diagnosis session, seen as plain dicts."""

    def __init__(self, kb: Any, flow_id: str, reading: Any = None) -> None:
        import engine.flows as ef

        self.kb, self.flow_id = kb, flow_id
        flow = _flows(kb).get(flow_id)
        if flow is None:
            raise UserError(f"no diagnosis flow '{flow_id}'")
        self.title = str(getattr(flow, "title", None) or flow_id)
        self._ef = ef
        if hasattr(ef, "start"):
            self.session = ef.start(kb, flow_id, reading=reading)
        else:
            self.session = ef.Session(kb, flow_id, reading)
        self._answers: list[Any] = []

    # ---- reading the session

    def _step_view(self, step: Any) -> dict[str, Any] | None:
        if step is None:
            return None
        kind = str(_get(step, "kind", default="ask"))
        opts = _get(step, "options", "choices", default=None) or []
        if kind == "check" and not opts:
            opts = ["yes", "no"]
        if _get(step, "answer_type", "type", default="") in ("yes/no", "yesno", "bool") and not opts:
            opts = ["yes", "no"]
        options = []
        for o in opts:
            label = _get(o, "label", "text", default=None) if not isinstance(o, str) else o
            value = _get(o, "value", "id", default=label) if not isinstance(o, str) else o
            options.append({"label": str(label), "value": value})
        return {
            "id": str(_get(step, "id", default="")),
            "kind": kind,
            "question": str(_get(step, "question", "text", "title", "prompt", default="")),
            "how": _get(step, "how", "instruction", default="") or "",
            "unit": _get(step, "unit", default="") or "",
            "options": options,
            "citations": list(_get(step, "citations", default=[]) or []),
            "remedy": list(_get(step, "remedy", default=[]) or []),
            "text": _get(step, "text", "message", "summary", default="") if kind == "conclude" else "",
        }

    def current(self) -> dict[str, Any] | None:
        step = _call(self.session, "next_step")
        if step is None:
            concl = _get(self.session, "conclusion", default=None)
            concl = concl() if callable(concl) else concl
            if concl is None:
                return None
            view = self._step_view(concl)
            view["kind"] = "conclude"
            view["question"] = view["question"] or str(_get(concl, "title", default="Conclusion"))
            view["text"] = view["text"] or str(_get(concl, "text", "message", "summary", default=""))
            return view
        return self._step_view(step)

    def concluded(self) -> bool:
        cur = self.current()
        return cur is not None and cur["kind"] == "conclude"

    def path(self) -> list[dict[str, Any]]:
        out = []
        for p in _get(self.session, "path", "answered", default=[]) or []:
            out.append({
                "step": str(_get(p, "step", "step_id", "id", default="")),
                "question": str(_get(p, "question", "text", default=_get(p, "step", default=""))),
                "answer": str(_get(p, "answer", "value", default="")),
                "auto": bool(_get(p, "auto", "from_reading", "answered_from_reading", default=False)),
            })
        return out

    # ---- acting on it

    def answer(self, value: Any) -> None:
        step = self.current()
        if step is None or step["kind"] == "conclude":
            return
        if isinstance(value, int) and step["options"]:
            value = step["options"][value]["value"]
        elif isinstance(value, str) and not step["options"]:
            if not value.strip():
                raise UserError("type a value first")
        result = self.session.answer(value)
        if result is not None and result is not self.session and hasattr(result, "next_step"):
            self.session = result

    def rewind(self, index: int) -> None:
        path = self.path()
        if not 0 <= index < len(path):
            return
        if hasattr(self.session, "rewind"):
            self.session.rewind(index)
        elif hasattr(self.session, "change"):
            self.session.change(path[index]["step"], None)

    def back(self) -> bool:
        n = len(self.path())
        if n == 0:
            return False
        self.rewind(n - 1)
        return True

    def why(self) -> str:
        step = self.current()
        fn = getattr(self.session, "why", None)
        if callable(fn):
            return str(fn(step["id"]) if step else fn())
        return ""

    def report_markdown(self) -> str:
        for name in ("report_markdown", "to_markdown", "report"):
            fn = getattr(self.session, name, None) or getattr(self._ef, name, None)
            if callable(fn):
                try:
                    text = fn() if getattr(fn, "__self__", None) is self.session else fn(self.kb, self.session)
                except TypeError:
                    continue
                if isinstance(text, str):
                    return text
        return self._own_report()

    def _own_report(self) -> str:
        from tui.widgets.kbtext import label_key

        lines = [f"# Diagnosis: {self.title}", "", f"Knowledge base {self.kb.kb_version}", "", "## Steps", ""]
        for p in self.path():
            src = " (from the reading)" if p["auto"] else ""
            lines.append(f"- {p['question']}: **{p['answer']}**{src}")
        c = self.current()
        cited: list[str] = []
        if c is not None and c["kind"] == "conclude":
            lines += ["", f"## Conclusion: {c['question']}", "", c["text"], ""]
            lines += [f"{i}. {r}" for i, r in enumerate(c["remedy"], 1)]
            cited = c["citations"]
        if cited:
            lines += ["", "## Sources", ""]
            for label in sorted(dict.fromkeys(cited), key=label_key):
                s = self.kb.sources.get(label)
                lines.append(f"- [^{label}] {s.summary if s else ''}")
        return "\n".join(lines) + "\n"
