"""The grounded chat: a Dialogue answers from the knowledge base only, with citations, offline.

One `Dialogue().turn(text)` -> {"answer": markdown, "citations": [...], "findings": [...], "follow_up": str|None,
"options": [...]}. Per turn it understands facts (family, series, currents, voltages) kept across turns, then:
  - a short answer while a diagnosis flow is asking continues that flow (engine.flows session);
  - a pasted reading runs `check` (the paste parser is injected by the front end: the engine never imports drivers);
  - a selection question runs the advisor, asking for the series and continuous current when unknown;
  - a symptom starts the matching flow and asks only what the reading and facts do not answer;
  - any other question is answered from the best KB items by BM25 retrieval with the synonym lexicon in
    content/lexicon.yaml, or says plainly that the handbook does not cover it.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from kb.errors import UserError

NOT_COVERED = "This is not covered by the handbook, so I will not guess."
_WORD = re.compile(r"[a-z0-9]+(?:[.'-][a-z0-9]+)*")
_MIN_SCORE = 2.5  # BM25 score below which the best item is not an answer


@dataclass
class Doc:
    kind: str  # rule | family | guide | source | flow
    ref: str
    title: str
    text: str
    citations: list[str]
    section: str = ""
    show: str = ""  # what an answer quotes (the indexed text may carry aliases and templates)


# ---------------------------------------------------------------- the index


def _tokens(text: str) -> list[str]:
    from engine.flows import _STOP, _stem

    return [_stem(t) for t in _WORD.findall(text.lower()) if t not in _STOP]


@lru_cache(maxsize=4)
def _raw_lexicon(root: str) -> dict[str, list[str]]:
    from ruamel.yaml import YAML

    path = Path(root) / "lexicon.yaml"
    if not path.exists():
        return {}
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    return {str(k).lower(): [str(v) for v in vs or []] for k, vs in data.items()}


@lru_cache(maxsize=4)
def _lexicon(root: str) -> dict[str, set[str]]:
    data = _raw_lexicon(root)
    lex: dict[str, set[str]] = {}
    for k, vs in data.items():
        keys = _tokens(str(k))
        for key in keys:
            lex.setdefault(key, set()).update(t for v in vs or [] for t in _tokens(str(v)))
    return lex


def _docs(kb) -> list[Doc]:
    out: list[Doc] = []
    for lr in kb.rules.values():
        r = lr.rule
        msg = re.sub(r"\{[^}]*\}", "", r.message)
        out.append(Doc("rule", r.id, r.title, " ".join([r.title, msg, *r.remedy]), list(r.citations), r.section,
                       " ".join(r.remedy)))
    for f in kb.families.values():
        names = " ".join([f.name, *f.aliases])
        out.append(Doc("family", f.id, f.name, names + " " + f.summary, list(f.citations[:3]), "selection", f.summary))
        for s in f.strengths:
            out.append(Doc("family", f.id, f"{f.name}: strength", names + " " + s.text, list(s.citations), "selection",
                           s.text))
        for p in f.pitfalls:
            out.append(Doc("family", f.id, f"{f.name}: pitfall", f"{names} {p.text} {p.mitigation}",
                           list(p.citations), "selection", f"{p.text} {p.mitigation}"))
        for m in f.failure_modes:
            out.append(Doc("family", f.id, f"{f.name}: failure mode", names + " " + m.text, list(m.citations),
                           "troubleshooting", m.text))
    for g in kb.guides.values():
        out.append(Doc("guide", g.id, g.title, " ".join([g.title, g.summary, *g.steps]), list(g.citations),
                       g.id.split(".")[0], g.summary + " " + " ".join(g.steps)))
    for label, s in kb.sources.items():
        out.append(Doc("source", label, f"Source {label}", s.summary, [label], (s.sections or [""])[0], s.summary))
    for fl in (kb.extra.get("flows") or {}).values():
        for st in fl.steps:
            if st.kind == "conclude" and st.citations:
                out.append(Doc("flow", f"{fl.id}:{st.id}", st.title or "", f"{st.title} {st.text} " + " ".join(st.remedy or []),
                               list(st.citations), "troubleshooting", st.text or ""))
    return out


class Index:
    def __init__(self, kb) -> None:
        from rank_bm25 import BM25Okapi

        self.docs = _docs(kb)
        corpus = [_tokens(d.title + " " + d.text) for d in self.docs]
        self.vocab = {t for doc in corpus for t in doc}
        self.vocab_list = sorted(self.vocab)
        self.lex = _lexicon(str(kb.root))
        self.bm25 = BM25Okapi(corpus)
        self._fix: dict[str, str | None] = {}

    def _correct(self, t: str) -> str | None:
        if t in self.vocab or t in self.lex:
            return t
        if t not in self._fix:
            close = difflib.get_close_matches(t, self.vocab_list, n=1, cutoff=0.8) if len(t) >= 6 else []
            self._fix[t] = close[0] if close else None
        return self._fix[t]

    def query_tokens(self, text: str) -> list[str]:
        out: list[str] = []
        for t in _tokens(text):
            c = self._correct(t)
            if c is None:
                continue
            out.append(c)
            out.extend(s for s in self.lex.get(c, ()) if s in self.vocab)
        return out

    def coverage(self, text: str) -> float:
        """Share of the question's words the knowledge base knows (after typo correction)."""
        ts = _tokens(text)
        return sum(self._correct(t) is not None for t in ts) / len(ts) if ts else 0.0

    def search(self, text: str, k: int = 3) -> list[tuple[float, Doc]]:
        q = self.query_tokens(text)
        if not q or self.coverage(text) < 0.5:
            return []
        scores = self.bm25.get_scores(q)
        best = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [(float(scores[i]), self.docs[i]) for i in best if scores[i] > 0]


_INDEXES: dict[int, tuple[Any, Index]] = {}


def _index_for(kb_id: int, kb) -> Index:
    hit = _INDEXES.get(kb_id)
    if hit is None or hit[0] is not kb:
        hit = _INDEXES[kb_id] = (kb, Index(kb))
    return hit[1]


# ---------------------------------------------------------------- understanding

_SERIES = re.compile(r"\b(\d{1,2})\s*s\b", re.I)
_AMPS = re.compile(r"\b(\d{1,4}(?:\.\d+)?)\s*a(?:mps?)?\b(?:\s+(?:of\s+)?(\w+))?", re.I)
_VOLTS = re.compile(r"\b(\d{1,3}(?:\.\d+)?)\s*v(?:olts?)?\b(\s*(?:per|/)\s*cell)?", re.I)
_SELECT = re.compile(r"\b(which|best|recommend\w*|choose|choos|pick|should i (?:buy|get|use)|suggest\w*)\b"
                     r".{0,40}\b(bms|board|family|one)\b|\bselect\w*\b.{0,20}\bbms\b|\bbms for\b", re.I)
_HOWWHY = re.compile(r"^\s*(how|what|why|should|can|do|does|is|are|where|when)\b", re.I)


def facts_of(text: str, kb) -> dict[str, Any]:
    """Facts said in `text`: bms family, series, continuous/peak/regen currents, pack or cell voltage."""
    low = text.lower()
    facts: dict[str, Any] = {}
    words = set(_WORD.findall(low))
    for f in kb.families.values():
        names = {f.id.lower(), *(a.lower() for a in f.aliases)}
        if any((n in words) if " " not in n and "-" not in n else (n in low) for n in names):
            facts["bms"] = f.id
            break
    if m := _SERIES.search(text):
        n = int(m.group(1))
        if 1 <= n <= 64:
            facts["series"] = n
    for m in _AMPS.finditer(text):
        v, after = float(m.group(1)), (m.group(2) or "").lower()
        ctx = low[max(0, m.start() - 25): m.end() + 12]
        if "regen" in ctx or "brak" in ctx:
            facts["regen"] = v
        elif "peak" in ctx or "burst" in ctx or "surge" in ctx:
            facts["peak"] = v
        else:
            facts["continuous"] = v
    for m in _VOLTS.finditer(text):
        v = float(m.group(1))
        if m.group(2) or v < 5:
            facts["cell_voltage"] = v
        else:
            facts["pack_voltage"] = v
    return facts


def _looks_like_reading(text: str) -> bool:
    t = text.strip()
    if "{" in t and "}" in t:
        return True
    nums = re.findall(r"\d+(?:\.\d+)?", t)
    lines = [x for x in t.splitlines() if x.strip()]
    return (len(lines) >= 2 and len(nums) >= 2) or len(nums) >= 4 or bool(re.search(r"\w+\s*[:=]\s*-?\d", t))


def _json_reading(text: str):
    from engine.reading import Reading

    m = re.search(r"\{.*\}", text, re.S)
    if not m:
        raise UserError("no reading found")
    return Reading.parse(json.loads(m.group(0)))


# ---------------------------------------------------------------- the dialogue


def _cites_md(labels: list[str]) -> str:
    return "".join(f"[^{c}]" for c in labels)


def _uniq(xs) -> list[str]:
    return list(dict.fromkeys(str(x) for x in xs))


class Dialogue:
    def __init__(self, kb=None, paste_parser: Callable[[str], Any] | None = None) -> None:
        from kb.load import load_kb

        self.kb = kb if kb is not None else load_kb()
        self.index = _index_for(id(self.kb), self.kb)
        self.paste_parser = paste_parser
        self.facts: dict[str, Any] = {}
        self.session = None  # engine.flows.Session while a diagnosis is under way
        self.pending: str | None = None  # "select" while the advisor waits for needs
        self.last_question: str | None = None
        self.reading: dict[str, Any] = {}

    # ------------------------------------------------------------ entry point

    def turn(self, text: str) -> dict[str, Any]:
        text = (text or "").strip()
        if not text:
            return self._out("Ask a question, describe a symptom or paste a reading.", [], follow_up=None)
        new = facts_of(text, self.kb)
        self.facts.update(new)
        if self.session is not None and self.session.next_step() is not None:
            r = self._flow_answer(text)
            if r is not None:
                return r
        if _looks_like_reading(text) and not _SELECT.search(text):
            r = self._reading(text)
            if r is not None:
                return r
        if _SELECT.search(text) or (self.pending == "select" and new):
            return self._select()
        if self.session is None or self.session.concluded:
            m = self._symptom(text)
            if m is not None:
                return m
        if new and len(_tokens(text)) <= 3 and self.last_question:  # "it's an ANT": complete the earlier question
            return self._retrieve(self.last_question + " " + text)
        self.last_question = text
        return self._retrieve(text)

    # ------------------------------------------------------------ answers

    def _out(self, answer: str, citations: list[str], findings=None, follow_up=None, options=None) -> dict[str, Any]:
        return {"answer": answer, "citations": _uniq(citations), "findings": findings or [],
                "follow_up": follow_up, "options": list(options or [])}

    def _retrieve(self, text: str, lead: str = "") -> dict[str, Any]:
        hits = self.index.search(text, k=3)
        if not hits or hits[0][0] < _MIN_SCORE:
            return self._out((lead + "\n\n" if lead else "") + NOT_COVERED, [])
        top = hits[0][0]
        keep = [d for s, d in hits if s >= top * 0.8][:2]
        parts = [lead] if lead else []
        cites: list[str] = []
        for d in keep:
            parts.append(f"**{d.title}** — {d.show or d.text} {_cites_md(d.citations)}")
            cites += d.citations
        return self._out("\n\n".join(parts), cites)

    def _reading(self, text: str) -> dict[str, Any] | None:
        from engine.check import check

        try:
            if self.paste_parser is not None and "{" not in text:
                reading, parsed = self.paste_parser(text)
                if len(parsed.fields) < 2 and "cells" not in parsed.fields:
                    return None
            else:
                reading = _json_reading(text)
        except (UserError, ValueError):
            return None
        self.reading = dict(reading.given())
        if "bms" in self.facts and "bms" not in self.reading:
            self.reading["bms"] = self.facts["bms"]
        rep = check(reading, self.kb)
        fs = rep.sorted_findings()
        if not fs:
            body = ("I checked the reading against every rule of the handbook and none fired." +
                    (f" Adding {', '.join(rep.missing_fields()[:3])} would let more rules run." if rep.missing_fields() else ""))
            return self._out(body + " Any other problem in it is not covered by the handbook.", [])
        lines = [f"I checked the reading: {len(fs)} finding(s)."]
        cites: list[str] = []
        for f in fs:
            lines.append(f"- **{f.severity.upper()}** {f.title}: {f.message} {_cites_md(f.citations)}")
            cites += f.citations
        if self.session is not None and not self.session.concluded:
            self.session.reading = reading
            self.session._walked = None
            p = self.session.next_step()
            if p is not None:
                lines.append("")
                lines.append(f"Back to the diagnosis: {p.question}")
                return self._out("\n".join(lines), cites, [f.to_json() for f in fs], p.question,
                                 [o["label"] for o in p.options])
        return self._out("\n".join(lines), cites, [f.to_json() for f in fs])

    def _select(self) -> dict[str, Any]:
        from engine.select import Needs, select

        missing = [n for n in ("series", "continuous") if n not in self.facts]
        if missing:
            self.pending = "select"
            ask = {"series": "How many cells in series (for example 20S)?",
                   "continuous": "What continuous battery current do you need (for example 70 A)?"}
            q = " ".join(ask[m] for m in missing)
            return self._out(f"To rank the BMS families I need your pack's {' and '.join(missing)}. " +
                             "The handbook's selection advice starts from those " + _cites_md(["3"]),
                             ["3"], follow_up=q)
        self.pending = None
        f = self.facts
        try:
            needs = Needs(series=int(f["series"]), continuous=float(f["continuous"]),
                          peak=f.get("peak") if f.get("peak", 0) >= f["continuous"] else None, regen=f.get("regen"))
            res = select(needs, self.kb)
        except UserError as e:
            return self._out(f"I cannot rank with those needs: {e}", [], follow_up="Which series count and current?")
        given = ", ".join(f"{k} {v:g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in res.needs.items())
        lines = [f"For {given}:"]
        cites: list[str] = []
        for i, r in enumerate(res.ranking[:3], 1):
            why = r.reasons[0] if r.reasons else (r.pitfalls[0] if r.pitfalls else None)
            lines.append(f"{i}. **{r.name}** — {r.verdict}" + (f": {why.text} {_cites_md(why.citations)}" if why else ""))
            cites += r.citations[:3]
        return self._out("\n".join(lines), cites)

    # ------------------------------------------------------------ flows

    def _symptom(self, text: str) -> dict[str, Any] | None:
        from engine.flows import match_symptom, start

        raw = _raw_lexicon(str(self.kb.root))
        words = [w for w in _WORD.findall(text.lower()) if w not in ("bms", "battery", "board")]
        words += [v for w in list(words) for v in raw.get(w, [])]
        ms = match_symptom(self.kb, " ".join(words))
        need = 0.45 if not re.match(r"^\s*(how|what|where|should|can|is|are|do)\b", text, re.I) else 0.8
        if not ms or ms[0].score < need:
            return None
        reading = dict(self.reading)
        if "bms" in self.facts:
            reading["bms"] = self.facts["bms"]
        try:
            self.session = start(self.kb, ms[0].flow, reading or None)
        except UserError:
            self.session = start(self.kb, ms[0].flow)
        hits = self.index.search(text, k=1)
        lead_cites = hits[0][1].citations if hits and hits[0][0] >= _MIN_SCORE else []
        lead = f"That sounds like **{self.session.flow.title}**."
        if lead_cites:
            d = hits[0][1]
            lead += f" The handbook: {d.title} {_cites_md(d.citations)}."
        return self._advance(lead, lead_cites)

    def _advance(self, lead: str, cites: list[str]) -> dict[str, Any]:
        s = self.session
        c = s.conclusion
        if c is not None:
            body = [lead, f"**Conclusion: {c.title}** ({c.severity}) — {c.text} {_cites_md(c.citations)}"]
            body += [f"- {x}" for x in c.remedy]
            return self._out("\n\n".join(x for x in body if x), [*c.citations, *cites])
        p = s.next_step()
        if p is None:
            return self._out(lead + "\n\nThe flow stopped without a conclusion. " + NOT_COVERED, cites)
        q = p.question + (f" ({p.how})" if p.how else "")
        if p.type == "number":
            q += f" — {p.allowed}"
        return self._out(f"{lead}\n\n{q} {_cites_md(p.citations)}".strip(), [*cites, *p.citations],
                         follow_up=p.question, options=[o["label"] for o in p.options])

    def _flow_answer(self, text: str) -> dict[str, Any] | None:
        p = self.session.next_step()
        value = self._option_value(p, text)
        if value is None:
            return None
        try:
            self.session.answer(value)
        except UserError as e:
            return self._out(f"{e}", p.citations, follow_up=p.question, options=[o["label"] for o in p.options])
        return self._advance("", [])

    @staticmethod
    def _option_value(p, text: str) -> Any:
        t = text.strip().lower().rstrip(".!")
        if p.type == "number":
            m = re.search(r"-?\d+(?:\.\d+)?", t)
            return float(m.group(0)) if m and len(t) <= 40 else None
        opts = p.options
        if t.isdigit() and 1 <= int(t) <= len(opts):
            return opts[int(t) - 1]["value"]
        for o in opts:
            if t in (str(o["value"]).lower(), str(o["label"]).lower()):
                return o["value"]
        if p.type == "yesno":
            first = t.split()[0] if t.split() else ""
            if first in ("y", "yes", "yeah", "yep", "yup", "sure", "correct", "true", "on"):
                return "yes"
            if first in ("n", "no", "nope", "nah", "false", "off"):
                return "no"
            return None
        labels = [str(o["label"]).lower() for o in opts]
        close = difflib.get_close_matches(t, labels, n=1, cutoff=0.6)
        if close:
            return opts[labels.index(close[0])]["value"]
        for o in opts:  # a label word said in a short answer
            if len(t) <= 30 and t and t in str(o["label"]).lower():
                return o["value"]
        return None
