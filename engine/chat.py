"""The grounded chat: `Dialogue().turn(text)` answers from the knowledge base only, with citations, offline.

One turn -> {"answer": markdown, "citations": [...], "findings": [...], "follow_up": str|None, "options": [...],
"intent": str, "facts": {...}}. Per turn:
  1. a pasted reading (JSON, several lines of numbers, key: value pairs) runs `check`;
  2. the prose is understood (engine.understand: facts with units and roles) and classified (engine.intent);
  3. a pending diagnosis question is answered from the words ("30mv like i said", "yes", "the jk one");
  4. the thread's facts carry over to a follow-up ("and on a daly?", "it's 20s"); a new question keeps only the pack's
     identity (family, series, chemistry, controller) and a new symptom starts a clean thread;
  5. which-BMS runs the advisor (engine.select) with every constraint said; is-X-ok-for-Y checks the family card;
     other questions take the best answer card (engine.answers, content/answers.yaml) that fits words and facts;
  6. a symptom no card answers starts its diagnosis flow with the rider's facts filled in; a reading-like set of facts
     runs `check` and asks only what the report's questions say is missing;
  7. anything else is answered from the best KB item by BM25 retrieval (said as the closest note), or it says the
     handbook does not cover it.
The answer leads with the number, the verdict or the action; why and the citations follow; one topic per answer.
Card answers and family facts come from a plain-data snapshot (engine.chatdata), so a fresh process answers them
without loading the KB's models; the KB itself is loaded on first need (advisor, flows, check).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import answers as cards
from engine import chatdata
from engine.intent import GAIN, classify
from engine.text import spell_out
from engine.understand import MAX_TEXT, family_names, reading_of, understand
from kb.errors import UserError

NOT_COVERED = "This is not covered by the handbook, so I will not guess."
HELP = "Ask a question, describe a symptom or paste a reading (for example: why does my jk cut out when braking?)."
IDENTITY = ("bms", "families", "series", "parallel", "chemistry", "controller", "board_max_series")
_LIKE_SAID = re.compile(r"\b(like i said|as i said|i said|already said|told you|see above|same as before)\b")
_KV = re.compile(r"\b[a-z_]{1,30}\s{0,3}[:=]\s{0,3}-?\d")  # bounded: linear on any input (a 100 KB word included)


def _cites_md(labels) -> str:
    return "".join(f"[^{c}]" for c in dict.fromkeys(labels))


def _uniq(xs) -> list[str]:
    return list(dict.fromkeys(str(x) for x in xs))


def looks_like_reading(text: str) -> bool:
    t = text.strip()
    if "{" in t and "}" in t:
        return True
    lines = [x for x in t.splitlines() if x.strip()]
    nums = re.findall(r"\d+(?:\.\d+)?", t[:MAX_TEXT])
    kv = len(_KV.findall(t[:MAX_TEXT].lower()))
    return (len(lines) >= 2 and len(nums) >= 3) or len(nums) >= 8 or kv >= 2


def _json_reading(text: str):
    from engine.reading import Reading

    m = re.search(r"\{.*\}", text, re.S)
    if not m:
        raise UserError("no reading found")
    try:
        return Reading.parse(json.loads(m.group(0)))
    except json.JSONDecodeError as e:
        raise UserError(f"not JSON: {e.msg}") from None


_DATA: dict[int, tuple[Any, Any]] = {}


def _data_for(kb):
    hit = _DATA.get(id(kb))
    if hit is None or hit[0] is not kb:
        hit = _DATA[id(kb)] = (kb, chatdata.ChatData.from_kb(kb))
    return hit[1]


def derived_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """Facts a technician infers at once: the mean cell from pack and series, the series from a cell count..."""
    f = dict(facts)
    if "pack_voltage" in f and f.get("series"):
        f.setdefault("cell_mean", round(f["pack_voltage"] / f["series"], 3))
    if "cell_voltage" in f and f.get("series") and "pack_voltage" not in f:
        f["pack_voltage"] = round(f["cell_voltage"] * f["series"], 2)
    if "cell_voltage" in f:
        f.setdefault("cell_mean", f["cell_voltage"])
    if f.get("families"):
        f["family_count"] = len(f["families"])
        others = [x for x in f["families"] if x != "daly"]
        if "daly" in f["families"] and len(others) == 1 and others[0] in ("jk", "ant", "jbd"):
            f["other_family"] = others[0]  # "ant vs daly": the card names the board to prefer
    if not f.get("series"):
        _series_from_voltage(f)
    if f.get("series"):
        f["pack_at_415"] = round(f["series"] * 4.15, 1)
        f["pack_at_29"] = round(f["series"] * 2.9, 1)
        f["pack_at_418"] = round(f["series"] * 4.18, 1)
    if f.get("charger_voltage") and f.get("series"):
        f["charger_cell"] = round(f["charger_voltage"] / f["series"], 3)
    if f.get("board_max_series") and f.get("series"):
        f["series_over_board"] = f["series"] > f["board_max_series"]
    if "battery_limit" in f:
        f.setdefault("continuous", f["battery_limit"])
    if "regen_limit" in f:
        f.setdefault("regen", f["regen_limit"])
    return f


def _series_from_voltage(f: dict[str, Any]) -> None:
    """A charger's end voltage or the voltage a pack is named by gives its series (ours: 4.2 V per Li-ion cell at
    full, 3.65 V LiFePO4; the nominal voltages riders quote)."""
    per_cell = 3.65 if f.get("chemistry") == "lifepo4" else 4.2
    for key in ("charger_voltage", "pack_label_voltage"):
        v = f.get(key)
        if not v:
            continue
        n = v / per_cell
        if abs(n - round(n)) < 0.02 and 6 <= round(n) <= 32:
            f["series"], f["series_from"] = int(round(n)), f"{v:g} V at {per_cell:g} V per cell"
            return
        if key == "pack_label_voltage" and v in _NOMINAL:
            f["series"], f["series_from"] = _NOMINAL[v], f"{v:g} V nominal"
            return


class Dialogue:
    def __init__(self, kb=None, paste_parser: Callable[[str], Any] | None = None) -> None:
        self._kb = kb
        self.root = Path(kb.root) if kb is not None else chatdata.default_root()
        self.data = _data_for(kb) if kb is not None else (chatdata.cached(self.root) or self._snapshot())
        self.paste_parser = paste_parser
        aliases: dict[str, list[str]] = {str(fid): [str(f["id"]), *map(str, f["aliases"])]
                                         for fid, f in self.data.families.items()}
        self.names = family_names(aliases)
        self.facts: dict[str, Any] = {}
        self.thread: list[str] = []  # the texts of the current thread
        self.last_card: str | None = None
        self.session: Any = None  # engine.flows.Session while a diagnosis is under way
        self.pending: str | None = None  # "select" while the advisor waits for needs
        self.reading: dict[str, Any] = {}
        self.last_intent: str | None = None
        self._new: dict[str, Any] = {}  # the facts of the turn being answered

    @property
    def kb(self):
        """The full KB, loaded on first need (the advisor, flows, check); card answers come from self.data."""
        if self._kb is None:
            from kb.load import load_kb

            self._kb = load_kb()
        return self._kb

    def _snapshot(self):
        data = _data_for(self.kb)
        chatdata.save(data, self.root)
        return data

    # ------------------------------------------------------------ entry point

    def turn(self, text: str) -> dict[str, Any]:
        text = (text or "").strip()
        if not text:
            return {**self._out(HELP, []), "intent": "none", "facts": {}}
        if not looks_like_reading(text):  # prose is read up to MAX_TEXT (as understand does); readings go whole
            text = spell_out(text[:MAX_TEXT])  # "wat", "wich", "shud", "r": shorthand too short to be typos
        if looks_like_reading(text):
            r = self._pasted(text)
            if r is not None:
                r["intent"] = "reading"
                r["facts"] = dict(self.reading)
                return r
        new = understand(text, self.names)
        self._new = new
        intent = classify(text, new, has_context=bool(self.thread))
        if self.session is not None and self.session.next_step() is not None:
            r = self._flow_answer(text, new)
            if r is not None:
                r["intent"] = "followup"
                r["facts"] = {k: v for k, v in derived_facts(self.facts).items() if k != "families" or len(v) > 1}
                return r
        facts, combined = self._context(text, new, intent)
        facts = derived_facts(facts)
        if intent == "followup":
            intent = classify(combined, facts) if combined != text else "what"
            if intent in ("ok_for", "symptom") and classify(text, facts) == "setting":
                intent = "setting"  # "ok so what regen current is safe": this turn asks for a value
            if intent == "select" and self.last_card == "select" and not any(k in new for k in _NEEDS):
                intent = classify(text, facts)  # "ok how do i keep it from dying" after a pick: about the pick
                intent = "what" if intent in ("followup", "select") else intent
        if combined != text and new.get("families") and _SWAP.search(text.lower()) and \
                cards.best(self.data, text, facts, "symptom") is None:  # "a jk freezing ... instead": its own topic
            intent = "ok_for"  # "should i just swap to a daly instead": the new family against the thread's pack
        if combined != text and self.last_intent in ("compare", "select", "ok_for") and \
                intent in ("what", "symptom", "followup") and any(k in new for k in _NEEDS):
            intent = self.last_intent  # "20s 80a, for deliveries" after "jk or ant?": the same question, now ranked
        r = self._answer(text, combined, facts, intent)
        if self._new.get("phase_current") and self._new.get("battery_limit") and "phase" not in r["answer"].lower():
            r["answer"] += (f"\n\nJudge the BMS by battery current ({self._new['battery_limit']:g} A here), not the "
                            f"{self._new['phase_current']:g} A phase current: only battery current flows through it.")
        self.last_intent = intent
        r["intent"] = intent
        r["card"] = self.last_card if self.last_card in self.data.cards else None  # which answer card spoke (maintainers)
        r["facts"] = {k: v for k, v in facts.items() if k != "families" or len(v) > 1}
        return r

    # ------------------------------------------------------------ context

    def _context(self, text: str, new: dict[str, Any], intent: str) -> tuple[dict[str, Any], str]:
        """The facts and the text to answer with: the thread's when this turn follows on, a fresh thread otherwise."""
        identity = {k: v for k, v in self.facts.items() if k in IDENTITY}
        alone: Any = _UNSET  # the best card for this turn on its own, ranked once when first needed
        if new.get("bms") and identity.get("bms") and new["bms"] != identity["bms"]:
            identity.pop("board_max_series", None)
        follow = bool(self.thread) and not _NEW_TOPIC.match(text.lower()) and (
            intent == "followup" or (bool(_REFERS_BACK.search(text.lower())) and not new.get("families")) or
            (bool(_WHAT_NEXT.match(text.lower())) and not new.get("families")) or
            ((not _own_topic(text) or len(text.split()) <= 6) and bool(_BACK_REF.search(text.lower())) and
             not new.get("families")) or self.pending == "select" or (not _own_topic(text) and bool(new)) or
            (self.last_card == "select" and any(k in new for k in _NEEDS) and not new.get("families")))
        if not follow and self.thread and self.last_card in self.data.cards and not _NEW_TOPIC.match(text.lower()):
            keys = [k for k in new if k not in ("families", "family_count")]
            if keys:  # the new fact decides the last answer's own condition ("i charge to 4.2" after "daly not balancing")
                merged = derived_facts({**self.facts, **new})
                last = next((x for x in cards.ranked(self.data, " ".join(self.thread[-2:] + [text]), merged, intent)
                             if x.card.id == self.last_card), None)
                follow = last is not None and cards.answers_with(last, merged, keys)
        if not follow and self.thread and not _NEW_TOPIC.match(text.lower()):
            keys = [k for k in new if k not in ("families", "family_count")]
            if keys and not new.get("families"):  # "pack reads 56v" after "jk wont wake": a fact the thread's card needs
                merged = derived_facts({**self.facts, **new})
                mc = cards.best(self.data, " ".join(self.thread[-2:] + [text]), merged, intent)
                alone = cards.best(self.data, text, derived_facts({**identity, **new}), intent)
                follow = mc is not None and cards.gated_by(mc, keys) and (alone is None or mc.score > alone.score)
        if not follow and self.thread:
            if alone is _UNSET:
                alone = cards.best(self.data, text, derived_facts({**identity, **new}), intent)
            if alone is None and (not _own_topic(text) or new or self.last_card in self.data.cards):
                follow = True  # nothing answers this turn alone: it goes on with the thread's answer
        if follow:
            facts = {**self.facts, **new}
            if new.get("families"):
                facts["families"] = new["families"]
                facts["bms"] = new["bms"]
            self.thread.append(text)
            combined = " ".join(self.thread[-3:])
        else:
            facts = {**identity, **new}
            self.thread = [text]
            self.last_card = None
            self.pending = None if intent != "select" else self.pending
            if self.session is not None and not self.session.concluded and intent in ("symptom", "what", "setting"):
                self.session = None
            combined = text
        self.facts = facts
        return facts, combined

    # ------------------------------------------------------------ answering

    def _answer(self, text: str, combined: str, facts: dict[str, Any], intent: str) -> dict[str, Any]:
        if combined != text and len(facts.get("families") or []) >= 2 and not self._new.get("families"):
            r = self._topic_compare(text, facts["families"])  # "which one is more compact" after "jk vs ant"
            if r is not None:
                return r
            if GAIN.search(text.lower()) and not _CONS.search(text.lower()):
                return self._compare(combined, facts)  # "what do we actually gain?" after "swapping the dalys for jbds"
            if any(k in self._new for k in _NEEDS) and not (facts.get("series") and facts.get("continuous")):
                m = next((x for x in cards.ranked(self.data, combined, facts, "compare")
                          if "compare" in x.card.intents and x.card.all_families), None)
                if m is not None:  # "which one if uptime is the priority": the comparison, now with that need
                    return self._card(m, facts)
        if self.last_card == "select" and combined != text and any(k in self._new for k in _NEEDS):
            intent = "select"  # "deck is really cramped though" after a ranking: rank again with it
        elif self.last_card == "select" and combined != text and self._new.get("families"):
            r = self._family_verdict(facts, self._new["families"])  # "what about jk?" after a ranking
            if r is not None:
                return r
        if not self._new.get("families"):
            r = self._concept_compare(text, facts)  # "balance trigger vs charge ceiling": each side its own answer
            if r is not None:
                return r
        cons = _CONS.search(text.lower())
        if cons and intent != "compare":
            own = self._new.get("families") or []
            fid = own[0] if len(own) == 1 else (facts.get("bms") if not own and _BACK_REF.search(text.lower()) else None)
            if isinstance(fid, str) and fid in self.data.family and _about_the_board(text.lower(), cons, fid, self.names):
                r = self._family_pitfalls(fid)
                if r is not None:
                    return r
        if facts.get("bms") and _RATING_Q.search(text) and not facts.get("continuous") and intent != "select" and \
                not re.search(r"regen|brak|charg|balanc|bleed|shuttl|asleep|sleep|standby|idle|parasitic|drain|draws? when",
                              combined.lower()):
            r = self._family_rating(facts)
            if r is not None:
                return r
        if facts.get("bms") and _SERIES_Q.search(text) and intent != "select":
            r = self._family_series(facts)
            if r is not None:
                return r
        if intent == "select" and not _CHOOSE.search(combined.lower()) and not any(k in facts for k in _NEEDS):
            intent = "what"  # "which one should be higher": a which-question that is not about buying a BMS
        if intent == "select" and not (facts.get("series") and facts.get("continuous")):
            topical = cards.best(self.data, combined, facts, "select")  # "which bms has the best balancing"
            if topical is not None and "select" in topical.card.intents and topical.score >= 4 and \
                    topical.card.need:
                return self._card(topical, facts)
        if intent == "select" or (self.pending == "select" and intent != "compare" and
                                  (any(k in self._new for k in _NEEDS) or not _own_topic(text))):
            big = cards.best(self.data, combined, facts, "select")
            if big is not None and big.card.only_if is not None and (
                    big.card.id in ("parallel-boards", "no-room-fets") or
                    (big.card.id in ("vesc-bridge", "ant-board-sizes") and not facts.get("series"))):
                return self._card(big, facts)
            return self._select(facts)
        if intent == "compare":
            return self._compare(combined, facts)
        if intent == "ok_for":
            r = self._ok_for(combined, facts)
            if r is not None:
                return r
        m = None
        if combined != text and not _WHAT_NEXT.match(text.lower()):  # a follow-up: its own words first ("also the
            m = cards.best(self.data, text, facts, intent)  # soc shows 10%"), then the thread's
            own_intent = classify(text, self._new)  # "ok so what regen current is safe": a setting question of its own
            if own_intent != intent and own_intent in ("setting", "what"):
                mo = cards.best(self.data, text, facts, own_intent)
                if mo is not None and (m is None or mo.score > m.score):
                    m = mo
            if m is not None and m.score < cards.MIN_SCORE + 2:
                m = None
        own = m is not None  # the turn names its own topic ("ant app wont pair" after a temperature question)
        if m is not None and combined != text:
            new_keys = [k for k in self._new if k not in ("families", "family_count")]
            mc = cards.best(self.data, combined, facts, intent)
            if mc is not None and mc.card.id != m.card.id and mc.score > m.score and cards.gated_by(mc, new_keys):
                m = mc  # "pack reads 56v" after "jk wont wake": the thread's card that this very fact now decides
        if m is None:
            m = cards.best(self.data, combined, facts, intent)
        if combined != text and self.last_card in self.data.cards and (m is None or m.card.id != self.last_card):
            keys = [k for k in self._new if k not in ("families", "family_count")]
            if keys and not (own and set(keys) <= {"bms"}) and not (
                    own and m is not None and m.score >= 8 and cards.answers_with(m, facts, keys)):
                # a new family with its own topic is a new question; so is a strong card of its own that the fact decides  # "i charge to 4.2" after "daly not balancing": the fact answers the last card's own condition
                last = next((x for x in cards.ranked(self.data, combined, facts, intent)
                             if x.card.id == self.last_card), None)
                if last is not None and cards.answers_with(last, facts, keys):
                    m = last
        if m is not None and m.card.id == self.last_card and combined != text and not self._new and \
                "symptom" in m.card.intents and _TRIED.search(text.lower()):
            r = self._symptom(combined, facts)  # "ok did that, now what": walk the diagnosis instead of repeating
            if r is not None:
                return r
        if m is not None:
            return self._card(m, facts)
        if intent == "ok_for" and not facts.get("bms") and (
                (facts.get("series") and facts.get("continuous")) or re.search(r"\b(bms|board)\b", combined.lower())):
            return self._select(facts)  # "cheapest bms thats ok for a 13s 40a commuter": no family named, so rank
        measured = any(k in facts for k in ("cells", "cell_voltage", "cell_delta", "mos_temp", "temp_max", "soc",
                                            "charge_fet", "discharge_fet", "pack_voltage"))
        if measured:  # the rider gave values: the rules speak to them more precisely than a flow's first question
            r = self._facts_check(facts)
            if r is not None:
                return r
        if intent in ("symptom", "what", "setting", "ok_for"):
            r = self._symptom(combined, facts)
            if r is not None:
                return r
        if not measured:
            r = self._facts_check(facts)
            if r is not None:
                return r
        said = [x for x in (self.data.families.get(self._new.get("bms") or "", {}).get("name") if self._new.get("bms") else None,
                            f"{self._new['series']} S" if self._new.get("series") else None) if x]
        if said and "?" not in text and len(text.split()) <= 8 and not _WH_START.match(text.lower()) and \
                intent != "symptom":  # "i have a jk on a 16s": context, not a question
            ask = "What is it doing, or what do you want to set or check?"
            return self._out(f"Noted: {', '.join(said)}. {ask}", [], follow_up=ask)
        return self._retrieve(combined)

    def _card(self, m, facts: dict[str, Any]) -> dict[str, Any]:
        c = m.card
        out = cards.say(m, facts)
        if out is None:
            return self._retrieve(" ".join(self.thread))
        said, cites = out
        self.last_card = c.id
        follow = None
        follow = " ".join(a["question"] for a in c.ask if facts.get(a["field"]) is None) or None
        body = f"{said} {_cites_md(cites)}"
        if c.why and c.why.split(";")[0].lower()[:40] not in said.lower():
            body += f"\n\nWhy: {c.why}"
        return self._out(body, cites, follow_up=follow)

    def _ok_for(self, text: str, facts: dict[str, Any]) -> dict[str, Any] | None:
        fid = facts.get("bms")
        card = self.data.family.get(fid) if fid else None
        if card is None:
            return None
        assumed = ""
        if not facts.get("series") and facts.get("pack_voltage") in _NOMINAL:
            facts["series"] = _NOMINAL[facts["pack_voltage"]]  # "is daly ok for 72v": a nominal pack voltage
            assumed = f" (taking {facts['pack_voltage']:g} V as a nominal Li-ion {facts['series']} S pack)"
        series, cont = facts.get("series"), facts.get("continuous")
        problems, cites = [], []
        board = facts.get("board_max_series")
        if series and card.series and series > card.series.max and board and board >= series:
            self.last_card = "ok-for"
            cites = list(card.series.citations)
            return self._out(f"Your board is rated to {board} S, which covers {series} S on paper, but the handbook "
                             f"only shows {card.name} on packs up to {card.series.max} S: confirm the exact model and "
                             f"firmware before wiring. {card.series.note} {_cites_md(cites)}", cites)
        if series and card.series and series > card.series.max:
            if getattr(card.series, "basis", "ours") == "handbook":
                problems.append(f"its real ceiling is {card.series.max} S and your pack is {series} S")
            else:  # our bound, not a confirmed ceiling: say so
                problems.append(f"the handbook only shows it on packs up to {card.series.max} S and yours is {series} S "
                                "(confirm the exact model)")
            cites += card.series.citations
        if cont and card.rating and card.rating.continuous_a and cont > card.rating.continuous_a.max and fid != "charge-only":
            problems.append(f"it is rated about {card.rating.continuous_a.max:g} A continuous and you need {cont:g} A")
            cites += card.rating.citations

        if problems:
            lines = [f"No: {card.name} is not a fit, because {' and '.join(problems)}{assumed}."]
            if series and card.series and series > card.series.max and card.series.note:
                lines.append(card.series.note)
            over_every = cont and all(not (f.rating and f.rating.continuous_a) or cont > f.rating.continuous_a.max
                                      for f in self.data.family.values())
            par = self.data.cards.get("parallel-boards") if over_every else None
            said = cards.say(cards.Match(par, 0.0, 0), facts) if par is not None else None
            if said is not None:  # more than any one board carries: the handbook's answer is several boards
                lines.append(said[0])
                cites += said[1]
            else:
                alt = self._alternative(facts, exclude=str(fid))
                if alt:
                    lines.append(alt[0])
                    cites += alt[1]
            self.last_card = "ok-for"
            return self._out(f"{lines[0]} {_cites_md(cites)}" + ("\n\n" + " ".join(lines[1:]) if lines[1:] else ""), cites)
        m = None if _SWAP.search(self.thread[-1].lower() if self.thread else "") else cards.best(self.data, text, facts, "ok_for")
        if m is not None:
            return self._card(m, facts)
        if series or cont:
            bits = []
            if series and card.series:
                bits.append(f"{series} S is within its {card.series.min}-{card.series.max} S range")
                cites += card.series.citations
            top = card.rating.continuous_a.max if card.rating and card.rating.continuous_a else None
            comfort = getattr(card.rating, "comfort_a", None) if card.rating else None
            if cont and top:
                bits.append(f"{cont:g} A is within its ~{top:g} A rating")
                cites += card.rating.citations
            self.last_card = "ok-for"
            if cont and comfort and cont > comfort and fid != "charge-only":  # the label is not what it carries
                # the handbook's own field figure (JK tripped near 60 A) turns the verdict; our derating only warns
                lead = "Not really: on its label" if getattr(card.rating, "comfort_basis", "ours") == "handbook" or \
                    (top is not None and cont >= 0.75 * top) else "Yes on its label:"
                return self._out(f"{lead} {', and '.join(bits)}{assumed}, but "
                                 f"{card.rating.comfort_note or 'it carries less in practice'}, so {cont:g} A is past "
                                 f"the ~{comfort:g} A it carries in practice; if you use it, give it airflow and monthly "
                                 f"thermal checks, or choose more headroom (a bigger or a second board). "
                                 f"{_cites_md(cites)}", cites)
            if cont and top and cont >= 0.9 * top and fid != "charge-only":  # at the label: no headroom
                cites += ["3", "22"]
                return self._out(f"Only just: {cont:g} A is within but at the ~{top:g} A {card.name} carries, with no headroom; "
                                 f"builders oversize protection (200 A-class boards even on 70 A packs) so the BMS never "
                                 f"has to trip, so pick a bigger board if you can. {_cites_md(cites)}", cites)
            caveat = self._family_caveat(facts, str(fid))
            if caveat is not None and caveat[0] == "avoid":
                cites = caveat[2] + cites
                return self._out(f"No: {card.name} does not suit this pack: {caveat[1]} {_cites_md(cites)}", cites)
            tail = ""
            if caveat is not None:
                tail = f" Watch one thing: {caveat[1]} {_cites_md(caveat[2])}"
                cites += caveat[2]
            return self._out(f"Yes: for {card.name}, {', and '.join(bits)}{assumed}. {_cites_md(cites)}{tail}", cites)
        self.last_card = "ok-for"
        q = "How many cells in series (or what does the charger end at), and what continuous current do you need?"
        cites = list(card.citations[:3])
        return self._out(f"That depends on the pack: {card.summary} {_cites_md(cites)}", cites, follow_up=q)

    def _family_caveat(self, facts: dict[str, Any], fid: str) -> tuple[str, str, list[str]] | None:
        """The advisor's first pitfall for this family and these needs (verdict, text, citations), if any."""
        try:
            res = self._run_select(facts)
        except (UserError, KeyError):
            return None
        r = next((x for x in res.ranking if x.family == fid), None) if res is not None else None
        if r is None or not r.pitfalls:
            return None
        p = r.pitfalls[0]
        return r.verdict, p.text, list(p.citations)

    def _family_verdict(self, facts: dict[str, Any], fams: list[str]) -> dict[str, Any] | None:
        try:
            res = self._run_select(facts)
        except UserError:
            return None
        if res is None:
            return None
        lines: list[str] = []
        cites: list[str] = []
        for r in res.ranking:
            if r.family not in fams:
                continue
            p = (r.pitfalls[0] if r.verdict == "avoid" and r.pitfalls else (r.reasons[0] if r.reasons else None))
            lines.append(f"**{r.name}**: {r.verdict} for {', '.join(_need_text(facts))}" +
                         (f": {p.text} {_cites_md(p.citations)}" if p else "."))
            cites += p.citations if p else []
        if not lines:
            return None
        self.last_card = "select"
        return self._out("\n\n".join(lines), cites)

    def _lead_without_current(self, facts: dict[str, Any]) -> tuple[str, list[str]]:
        """What the handbook already says for these needs before the current is known: the advisor's criterion for
        a cramped deck or critical uptime (content/selection.yaml), which names the families installers move to."""
        if facts.get("space") not in ("cramped", "none") and facts.get("uptime") != "critical":
            return "", []
        spec = getattr(self.kb, "selection", None)
        c = next((c for c in (spec.criteria if spec else []) if c.id == "uptime-compact-alternative"), None)
        if c is None:
            return "", []
        return f"{c.text} {_cites_md(c.citations)} ", list(c.citations)

    def _concept_compare(self, text: str, facts: dict[str, Any]) -> dict[str, Any] | None:
        """Two things the handbook explains, set side by side: each side answered by its own card, when the two
        sides find two different cards (a comparison card for the pair, if one exists, outranks this)."""
        m = _CONCEPT_VS.search(text.lower())
        if m is None:
            return None
        a, b = (m.group("a") or m.group("a2") or "").strip(), (m.group("b") or m.group("b2") or "").strip()
        if len(a) < 3 or len(b) < 3:
            return None
        whole = cards.best(self.data, text, facts, "compare")
        if whole is not None and "compare" in whole.card.intents:
            return None  # a card written for this comparison answers it
        sides = []
        for side in (a, b):
            mc = cards.best(self.data, side, facts, "what")
            if mc is None:
                return None
            sides.append((side, mc))
        if sides[0][1].card.id == sides[1][1].card.id:
            return None
        lines, cites = [], []
        for side, mc in sides:
            said = cards.say(mc, facts)
            if said is None:
                return None
            lines.append(f"**{side[0].upper() + side[1:]}**: {said[0]} {_cites_md(said[1])}")
            cites += said[1]
        self.last_card = "concept-compare"
        return self._out("\n\n".join(lines), _uniq(cites))

    def _family_pitfalls(self, fid: str) -> dict[str, Any] | None:
        """"What's the catch with a daly?": the family card's pitfalls, each with what builders do about it."""
        fam = self.data.families.get(fid) or {}  # the plain dicts (self.data.family: the same, by attribute)
        pits = [p for p in (fam.get("pitfalls") or []) if isinstance(p, dict) and p.get("text")][:3]
        if not pits:
            return None
        cites: list[str] = []
        bits = []
        for p in pits:
            c = list(p.get("citations") or [])
            cites += c
            fix = f" {p['mitigation']}" if p.get("mitigation") else ""
            bits.append(f"{p['text']}{fix} {_cites_md(c)}".strip())
        self.last_card = "family-pitfalls"
        return self._out(f"The catch with **{fam.get('name', fid)}**: " + " ".join(bits), _uniq(cites))

    def _family_rating(self, facts: dict[str, Any]) -> dict[str, Any] | None:
        card = self.data.family.get(facts["bms"])
        if card is None or card.rating is None or card.rating.continuous_a is None:
            return None
        r = card.rating
        lo, hi = r.continuous_a.min, r.continuous_a.max
        span = f"about {hi:g} A" if lo == hi else f"about {lo:g}-{hi:g} A"
        peak = f" ({r.peak_a.max:g} A peak)" if getattr(r, "peak_a", None) else ""
        return self._out(f"{card.name}: {span} continuous{peak}. {r.note} {_cites_md(r.citations)}", list(r.citations))

    def _family_series(self, facts: dict[str, Any]) -> dict[str, Any] | None:
        card = self.data.family.get(facts["bms"])
        if card is None or card.series is None or facts.get("series"):
            return None
        s = card.series
        extra = f" (listings claim {s.advertised_max} S)" if getattr(s, "advertised_max", None) else ""
        return self._out(f"{card.name}: up to {s.max} S in the field{extra}. {s.note} {_cites_md(s.citations)}",
                         list(s.citations))

    def _alternative(self, facts: dict[str, Any], exclude: str) -> tuple[str, list[str]] | None:
        try:
            res = self._run_select(facts)
        except (UserError, KeyError):
            return None
        if res is None:
            return None
        for r in res.ranking:
            if r.family != exclude and r.verdict != "avoid":
                why = r.reasons[0] if r.reasons else None
                return (f"Consider {r.name} instead ({r.verdict})" + (f": {why.text}" if why else "."),
                        list(why.citations) if why else list(r.citations[:2]))
        return None

    def _needs(self, facts: dict[str, Any]):
        from engine.select import Needs

        cont = facts.get("continuous")
        peak = facts.get("peak")
        if peak is not None and cont is not None and peak < cont:
            peak = None
        return Needs(series=int(facts["series"]), continuous=float(cont or 0), peak=peak, regen=facts.get("regen_limit"),
                     space=facts.get("space"), uptime=facts.get("uptime"), budget=facts.get("budget"),
                     full_protection=facts.get("full_protection"), integration=facts.get("integration"))

    def _run_select(self, facts: dict[str, Any]):
        from engine.select import select

        if not facts.get("series") or not facts.get("continuous"):
            return None
        return select(self._needs(facts), self.kb)

    def _select(self, facts: dict[str, Any]) -> dict[str, Any]:
        note = ""
        if not facts.get("series") and facts.get("pack_voltage") in _NOMINAL:
            facts["series"] = _NOMINAL[facts["pack_voltage"]]  # a nominal pack voltage names its series (Li-ion)
            self.facts["series"] = facts["series"]
            note = (f" (taking {facts['pack_voltage']:g} V as a nominal Li-ion pack, {facts['series']} S; "
                    "say the series if it differs)")
        missing = [n for n in ("series", "continuous") if not facts.get(n)]
        if missing:
            self.pending = "select"
            ask = {"series": "How many cells in series (for example 20S)?",
                   "continuous": "What continuous battery current do you need (for example 70 A)?"}
            q = " ".join(ask[m] for m in missing)
            said = ", ".join(_need_text(facts)) or "your pack"
            lead, lead_cites = self._lead_without_current(facts)
            return self._out(f"{lead}To rank the BMS families for {said} I need the pack's "
                             f"{' and the '.join('series count' if m == 'series' else 'continuous current' for m in missing)}. "
                             f"{q} {_cites_md(['3'])}", [*lead_cites, "3"], follow_up=q)
        self.pending = None
        try:
            res = self._run_select(facts)
        except UserError as e:
            return self._out(f"I cannot rank with those needs: {e}", [], follow_up="Which series count and current?")
        top = res.ranking[0]
        cites: list[str] = []
        why = top.reasons[0] if top.reasons else None
        lines = [f"**{top.name}** is the pick for {', '.join(_need_text(facts))}{note} ({top.verdict})" +
                 (f": {why.text} {_cites_md(why.citations)}" if why else ".")]
        cites += why.citations if why else top.citations[:2]
        for extra in top.reasons[1:2]:
            lines[0] += f" {extra.text} {_cites_md(extra.citations)}"
            cites += extra.citations
        others = [r for r in res.ranking[1:] if r.verdict != "avoid"][:1]
        if facts.get("budget") == "low":  # the rider asked for cheap: name the cheap board even when it is not the pick
            cheap = next((r for r in res.ranking[1:] if r.verdict != "avoid" and
                          any(x.criterion == "budget-cheap" for x in r.reasons)), None)
            if cheap is not None:
                others = [cheap]
        for r in others:
            w = r.reasons[0] if r.reasons else None
            if facts.get("budget") == "low" and w is not None and w.criterion == "budget-cheap":
                p = r.pitfalls[0] if r.pitfalls else None
                lines.append(f"Cheapest: **{r.name}** ({r.verdict}): {w.text} {_cites_md(w.citations)}" +
                             (f" But: {p.text} {_cites_md(p.citations)}" if p else ""))
                cites += w.citations + (p.citations if p else [])
                continue
            lines.append(f"Runner-up: **{r.name}** ({r.verdict})" + (f": {w.text} {_cites_md(w.citations)}" if w else "."))
            cites += w.citations if w else []
        avoid = [r for r in res.ranking if r.verdict == "avoid"]
        if avoid:
            bits = []
            for r in avoid:
                p = r.pitfalls[0] if r.pitfalls else None
                bits.append(f"**{r.name}**" + (f" ({p.text} {_cites_md(p.citations)})" if p else ""))
                cites += p.citations if p else []
            lines.append("Avoid: " + "; ".join(bits) + ".")
        self.last_card = "select"
        if not self.facts.get("bms"):  # "ok how do i keep it from dying": "it" is the board just picked
            self.facts["bms"] = top.family
        return self._out("\n\n".join(lines), cites)

    def _compare(self, text: str, facts: dict[str, Any]) -> dict[str, Any]:
        fams = [f for f in facts.get("families", []) if f in self.data.family]
        if facts.get("series") and facts.get("continuous"):
            try:
                res = self._run_select(facts)
            except UserError:
                res = None
            if res is not None:
                rs = [r for r in res.ranking if r.family in fams]
                if rs:
                    a = rs[0]
                    why = a.reasons[0] if a.reasons else None
                    lines = [f"**{a.name}** for {', '.join(_need_text(facts))} ({a.verdict})" +
                             (f": {why.text} {_cites_md(why.citations)}" if why else ".")]
                    cites = list(why.citations) if why else []
                    for b in rs[1:]:
                        p = b.pitfalls[0] if b.pitfalls else None
                        lines.append(f"Against it, **{b.name}** ({b.verdict})" +
                                     (f": {p.text} {_cites_md(p.citations)}" if p else "."))
                        cites += p.citations if p else []
                    return self._out("\n\n".join(lines), cites)
        by_topic = self._topic_compare(self.thread[-1] if self.thread else text, fams)  # the topic of this turn
        if by_topic is not None:
            return by_topic
        series = facts.get("series")
        if series:
            over = [f for f in fams if self.data.family[f].series and series > self.data.family[f].series.max]
            fit = [f for f in fams if f not in over]
            if over and fit:
                cites = [c for f in fams for c in (self.data.family[f].series.citations or [])]
                bits = "; ".join(f"{self.data.family[f].name} tops out at {self.data.family[f].series.max} S in the field"
                                 for f in over)
                best_fit = self.data.family[fit[0]]
                return self._out(f"**{best_fit.name}** for {series} S: {bits}, while {best_fit.name} covers "
                                 f"{best_fit.series.min}-{best_fit.series.max} S. {_cites_md(cites)}", cites)
        m = next((x for x in cards.ranked(self.data, text, facts, "compare") if "compare" in x.card.intents), None)
        if m is not None:
            return self._card(m, facts)
        lines, cites = [], []
        for fid in fams[:3]:
            f = self.data.family[fid]
            lines.append(f"**{f.name}**: {f.summary} {_cites_md(f.citations[:3])}")
            cites += f.citations[:3]
        q = "How many cells in series, and what continuous current? Then I can rank them for your pack."
        return self._out("It depends on the pack and the deck:\n\n" + "\n\n".join(lines), cites, follow_up=q)

    def _topic_compare(self, text: str, fams: list[str]) -> dict[str, Any] | None:
        """'daly vs jk, when do they start balancing' / 'which one is more compact': each family on that one topic."""
        low = text.lower()
        fams = [f for f in fams if f in self.data.family]
        if len(fams) < 2:
            return None
        lines: list[str] = []
        cites: list[str] = []
        if _BALANCE_TOPIC.search(low):
            for fid in fams:
                b = getattr(self.data.family[fid], "balancing", None)
                if b is None:
                    continue
                lines.append(f"**{self.data.family[fid].name}**: {_balance_words(b)} {_cites_md(b.citations)}")
                cites += b.citations
        elif _RATING_TOPIC.search(low):
            for fid in fams:
                r = self._family_rating({"bms": fid})
                if r is not None:
                    lines.append(r["answer"])
                    cites += r["citations"]
        elif _SIZE_TOPIC.search(low):
            rank = {"compact": 0, "standard": 1, "large": 2}
            order = sorted(fams, key=lambda f: rank.get(getattr(self.data.family[f], "footprint", None) or "standard", 1))
            for fid in order:
                f = self.data.family[fid]
                st = next((x for x in f.strengths or [] if _SIZE_WORDS.search(x.text.lower())), None)
                kind = getattr(f, "footprint", None) or "standard"
                text_ = st.text if st is not None else {
                    "large": "A large board: dual busbars and warm copper planes that need room and airflow.",
                    "standard": "No size figure in the handbook.", "compact": "Compact housing."}[kind]
                c = list(st.citations) if st is not None else ({"large": ["1", "10"]}.get(kind, []))
                lines.append(f"**{f.name}** ({kind}): {text_} {_cites_md(c)}".replace(" ()", ""))
                cites += c
            if lines:
                lines[0] = f"{self.data.family[order[0]].name} is the more compact. " + lines[0]
        if not lines:
            return None
        self.last_card = "compare-topic"
        return self._out(" ".join(lines), cites)  # one paragraph: the first family named is the answer

    # ------------------------------------------------------------ flows

    def _symptom(self, text: str, facts: dict[str, Any]) -> dict[str, Any] | None:
        from engine.flows import match_symptom, start

        ms = match_symptom(self.kb, text)
        if not ms or ms[0].score < 0.45:
            return None

        fl = self.kb.flows[ms[0].flow]
        reading = reading_of(facts)
        pre = {}
        for st in fl.steps:
            if st.kind in ("ask", "measure") and st.field and st.field in facts and st.field not in reading:
                pre[st.id] = facts[st.field]
        try:
            self.session = start(self.kb, ms[0].flow, reading or None)
        except UserError:
            self.session = start(self.kb, ms[0].flow)
        for sid, v in pre.items():
            try:
                self.session.answer(sid, v)
            except UserError:
                pass
        latest = self.thread[-1] if self.thread else ""
        p = self.session.next_step()
        if p is not None and latest and len(self.thread) > 1:  # the rider may already have answered it
            v = self._option_value(p, latest, self._new)
            if v is not None:
                try:
                    self.session.answer(v)
                except UserError:
                    pass
        self.last_card = "flow:" + ms[0].flow
        return self._advance(f"Let's find the cause ({self.session.flow.title.lower()}).")

    def _advance(self, lead: str) -> dict[str, Any]:
        s = self.session
        c = s.conclusion
        if c is not None:
            body = f"{c.text} {_cites_md(c.citations)}"
            if c.remedy:
                body = f"{c.remedy[0]} {body}" if not c.text.lower().startswith(c.remedy[0].lower()[:20]) else body
                body += "".join(f"\n- {x}" for x in c.remedy[1:])
            return self._out(f"**{c.title}**: {body}", list(c.citations))
        p = s.next_step()
        if p is None:
            return self._out(NOT_COVERED, [])
        q = p.question + (f" ({p.how})" if p.how else "")
        return self._out(f"{lead} {q} {_cites_md(p.citations)}".strip(), list(p.citations), follow_up=p.question,
                         options=[o["label"] for o in p.options])

    def _flow_answer(self, text: str, new: dict[str, Any]) -> dict[str, Any] | None:
        p = self.session.next_step()
        value = self._option_value(p, text, new)
        if value is None:
            return None
        try:
            self.session.answer(value)
        except UserError:
            if p.type == "number":
                return self._out(f"I need {p.question[0].lower() + p.question[1:]} Give {p.allowed}.", list(p.citations),
                                 follow_up=p.question)
            return None
        self.thread.append(text)
        self.facts.update(new)
        out = self._advance("")
        said_number = any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in new.values())
        if self.session.conclusion is None and said_number:  # a number that already answers the rider: say so first
            facts = derived_facts(self.facts)
            m = cards.best(self.data, " ".join(self.thread[-3:]), facts, "followup")
            if m is not None and m.card.weight >= 2 and m.card.only_if is not None:
                said = cards.say(m, facts)
                if said is not None:
                    text, cites = said
                    out["answer"] = f"{text} {_cites_md(cites)}\n\n{out['answer']}"
                    out["citations"] = _uniq([*cites, *out["citations"]])
        return out

    def _option_value(self, p, text: str, new: dict[str, Any]) -> Any:
        t = text.strip().lower().rstrip(".!")
        if p.type == "number":
            field = getattr(p, "field", None) or _step_field(self.session, p.id)
            if field and field in new:
                return float(new[field])
            if field and _LIKE_SAID.search(t) and field in self.facts:
                return float(self.facts[field])
            if field == "cell_mean" and "cell_voltage" in new:
                return float(new["cell_voltage"])
            if field == "cell_mean" and "pack_voltage" in new and (new.get("series") or self.facts.get("series")):
                return round(new["pack_voltage"] / (new.get("series") or self.facts["series"]), 3)
            if field == "cell_delta" and ("cell_delta" in new):
                return float(new["cell_delta"])
            if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in new.values()):
                return None  # the number said is another fact ("its at 4.2 per cell"), not this answer
            m = re.search(r"(-?\d+(?:[.,]\d+)?)\s?(mv|v|a|°c|c)?\b", t)
            if not m or len(t) > 60:
                return None
            v = float(m.group(1).replace(",", "."))
            if m.group(2) == "mv" or (p.unit == "V" and p.max is not None and p.max < 2 and v >= 2 and v < 1000):
                v = v / 1000
            return v
        opts = p.options
        if t.isdigit() and 1 <= int(t) <= len(opts):
            return opts[int(t) - 1]["value"]
        for o in opts:
            if t in (str(o["value"]).lower(), str(o["label"]).lower()):
                return o["value"]
        if new.get("bms"):
            for o in opts:
                if str(o["value"]).lower() == new["bms"]:
                    return o["value"]
        if p.type == "yesno":
            from engine.text import tokens

            asked = [f for f in understand(p.question, self.names).get("families", [])]
            if new.get("bms") and asked:  # "jk" to "Is the BMS a Daly board?"
                return "yes" if new["bms"] in asked else "no"

            said = re.findall(r"[a-z']+", t)
            if said and said[0] not in ("no", "nope", "nah", "not", "never", "n") and len(said) <= 8 and \
                    set(tokens(t)) & (set(tokens(p.question)) - {"board", "bms", "pack", "battery"}):
                return "yes"  # "its brand new" to "Is the board new...?"
            head = re.findall(r"[a-z']+", t)[:1]
            first = head[0] if head else ""
            if first in ("y", "yes", "yeah", "yep", "yup", "sure", "correct", "true", "right", "definitely", "it", "it's"):
                return "yes" if first not in ("it", "it's") or re.search(r"\b(is|was|did)\b", t) else None
            if first in ("n", "no", "nope", "nah", "false", "never", "not"):
                return "no"
            return None
        import difflib

        labels = [str(o["label"]).lower() for o in opts]
        close = difflib.get_close_matches(t, labels, n=1, cutoff=0.6)
        if close:
            return opts[labels.index(close[0])]["value"]
        from engine.text import tokens

        best, best_n, tie = None, 0, False
        tw = {_OPTION_WORDS.get(w, w) for w in tokens(t)}
        for o in opts:
            lw = set(tokens(str(o["label"])))
            n = len(tw & lw)
            if n > best_n:
                best, best_n, tie = o["value"], n, False
            elif n == best_n and n:
                tie = True
        return best if best_n >= 1 and not tie and len(t.split()) <= 8 else None

    # ------------------------------------------------------------ readings

    def _facts_check(self, facts: dict[str, Any]) -> dict[str, Any] | None:
        reading = reading_of(facts)
        if len([k for k in reading if k not in ("bms", "series", "chemistry", "controller", "goal", "state")]) < 1:
            return None
        from engine.check import check
        from engine.reading import Reading

        try:
            rep = check(Reading.parse(reading), self.kb)
        except UserError:
            return None
        fs = [f for f in rep.sorted_findings() if f.severity in ("critical", "warning")]
        if not fs:
            return None
        f = fs[0]
        follow = _next_question(rep, facts)
        first = f.remedy[0] if f.remedy else f.title
        return self._out(f"{first} {_cites_md(f.citations)}\n\nWhy: {f.message}", list(f.citations), [f.to_json()],
                         follow_up=follow)

    def _pasted(self, text: str) -> dict[str, Any] | None:
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
        follow = _next_question(rep, self.facts)
        if not fs:
            return self._out("Nothing wrong in that reading: I checked it against every rule of the handbook and none "
                             "fired.", [], follow_up=follow)
        lines = [f"{fs[0].remedy[0] if fs[0].remedy else fs[0].title} {_cites_md(fs[0].citations)}", "",
                 f"I checked the reading: {len(fs)} finding(s)."]
        cites: list[str] = []
        for f in fs:
            lines.append(f"- **{f.severity.upper()}** {f.title}: {f.message} {_cites_md(f.citations)}")
            cites += f.citations
        if self.session is not None and not self.session.concluded:
            self.session.reading = reading
            self.session._walked = None
            p = self.session.next_step()
            if p is not None:
                lines += ["", f"Back to the diagnosis: {p.question}"]
                return self._out("\n".join(lines), cites, [f.to_json() for f in fs], p.question,
                                 [o["label"] for o in p.options])
        return self._out("\n".join(lines), cites, [f.to_json() for f in fs], follow_up=follow)

    # ------------------------------------------------------------ retrieval

    def _retrieve(self, text: str) -> dict[str, Any]:
        from engine.retrieve import index_for

        if not _DOMAIN.search(text.lower()[:MAX_TEXT]):
            return self._out(NOT_COVERED, [])
        from engine.text import tokens

        idx = index_for(self.root, lambda: self.kb)
        hits = idx.search(text, k=1)
        if not hits:
            return self._out(NOT_COVERED, [])
        d = hits[0][1]
        generic = {"bms", "board", "pack", "battery", "jk", "ant", "jbd", "daly", "llt", "smart", "cell", "set"}
        shared = {t for t in tokens(text) if t not in generic} & set(tokens(d.title + " " + d.text))
        if len(shared) < 2:  # one shared word is a coincidence, not an answer
            return self._out(NOT_COVERED, [])
        if len(shared) >= 3:  # most of the question's own words are in one note: that note is the answer
            return self._out(f"The handbook's note on that: {d.show} {_cites_md(d.citations)}", list(d.citations))
        return self._out(f"The handbook has no direct answer to that; its closest note: {d.show} {_cites_md(d.citations)}",
                         list(d.citations))

    def _out(self, answer: str, citations, findings=None, follow_up=None, options=None) -> dict[str, Any]:
        return {"answer": answer.strip(), "citations": _uniq(citations), "findings": findings or [],
                "follow_up": follow_up, "options": list(options or [])}


_WH_START = re.compile(r"\s*(is|are|can|could|does|do|did|what|whats|what's|how|why|which|when|where|should|will|would)\b")
_NEEDS = ("series", "continuous", "peak", "regen_limit", "space", "uptime", "budget", "full_protection", "integration")
_NOMINAL = {36.0: 10, 48.0: 13, 52.0: 14, 60.0: 16, 72.0: 20}  # ours: nominal Li-ion pack voltages riders quote
def _about_the_board(low: str, cons: re.Match, fid: str, names: dict[str, str]) -> bool:
    """The downside asked is the board's own ("the catch with a daly", "jk downsides", "any drawbacks to it"), not
    a topic's ("ant harness for 16s, any gotchas": the harness)."""
    words = [n for n, f in names.items() if f == fid] + ["it", "that", "this", "them", "those", "this one", "that one"]
    after = low[cons.end():cons.end() + 40]
    before = low[max(0, cons.start() - 30):cons.start()]
    alt = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))
    return bool(re.match(rf"\s*(?:\w+ ){{0,4}}?(?:with|of|to|about|on|for)\s(?:a |an |the |my |our |using |these |those )?"
                         rf"(?:{alt})s?\b(?:\s(?:bms|boards?|units?|smart))?\s*[?.!]?\s*$", after) or
                re.search(rf"\b(?:{alt})s?(?:'s)?(?:\s(?:bms|boards?|units?|smart))?[\s,;:]*$", before))


# "X vs Y", "X versus Y", "difference between X and Y": the two sides, each up to a clause end
_CONCEPT_VS = re.compile(r"(?:^|[.:;?!]\s*)(?:(?:what(?:'s| is) the )?difference between (?P<a2>[a-z0-9 .'-]{3,40}?) and "
                         r"(?P<b2>[a-z0-9 .'-]{3,40}?)(?=[.:;?!,]|$| in | for | on )|"
                         r"(?P<a>[a-z0-9 '-]{3,40}?)\s+(?:vs\.?|versus)\s+(?P<b>[a-z0-9 '-]{3,40}?)(?=[.:;?!,]|$))")
_CONS = re.compile(r"\b(catch|downsides?|down sides?|drawbacks?|cons|weak(?:ness|nesses| points?| spots?)|pitfalls?|"
                   r"anything to (?:watch|look out|know|worry)|watch out for|look out for|careful (?:with|about)|"
                   r"gotchas?|what(?:'s| is) (?:wrong|bad) (?:with|about)|bad (?:about|with)|worst (?:thing|part)|"
                   r"(?:what|any|known|common|usual) (?:\w+ )?(?:problems?|issues?|complaints?)(?! (?:with|when) "
                   r"(?:the |my )?(?:balanc|charg|regen|wak|bluetooth|app|soc|cell)))\b")
_RATING_Q = re.compile(r"\b(how much current|how many amps|max(?:imum)? (?:continuous )?current|max(?:imum)? continuous|"
                       r"continuous rating|rated current|amp limit|max amps|current rating|amp rating|"
                       r"rated for|continuous current of|current of an? |how many a |"
                       r"how much can (?:it|a|an|the|my)\b[^?.]{0,20}\b(?:take|handle|do)|amps can|how many a\b)")
_SERIES_Q = re.compile(r"\b(max(?:imum)? series|how many (?:series|cells in series|s\b)|series (?:limit|max|ceiling)|"
                       r"highest series|up to how many s)\b")
_DOMAIN = re.compile(r"\b(bms|balanc\w*|cells?|fets?|mosfets?|mos|regen|charg\w*|soc|volt\w*|amps?|trip\w*|cut\w*|wake|"
                     r"bluetooth|app|harness|leads?|pack|battery|controller|vesc|esc|jk|ant|jbd|daly|llt|jikong|ocp|uvp|ovp|"
                     r"firmware|display|telemetry|delta|series|\d+s)\b")
_OWN = re.compile(r"\b(bms|board|pack|battery|cell|cells|fet|regen|balanc\w*|charg\w*|soc|controller|vesc|esc|"
                  r"scooter|wake|trip\w*|cut\w*|hot|heat|smell\w*|jk|ant|jbd|daly|llt|jikong)\b")
_NEW_TOPIC = re.compile(r"^\s*(different|diff|new|another|other|unrelated|separate|next)\s(issue|question|problem|thing|topic|q)\b|"
                        r"^\s*(btw|by the way|also unrelated|question)\b")


_UNSET = object()
_CHOOSE = re.compile(r"\b(bms|board|one) (?:for|to (?:buy|get|use|choose|pick))|\b(which|what|best|recommend\w*|good|cheap\w*|"
                     r"right) (?:smart )?(bms|board)s?\b|\b(pick|choose|buy|get|recommend|suggest)\b|\bbms setup|\bwhat setup|"
                     r"\b(one|a|the|single) (?:bms|board)\b[^.?!]{0,25}\b(handle|enough|cope|manage|do it)\b|"
                     r"\b(handle|enough|cope|manage)\b[^.?!]{0,30}\b(big|large|high|heavy)\w* (?:pack|build|battery)\b")
# "now the board wont respond at all" after "jk app froze on the discharge page": the same story, one step on
_WHAT_NEXT = re.compile(r"^\s*(?:and )?(?:now|since then|after that|then it|and then)\b")
_TRIED = re.compile(r"\b(did that|done that|tried (?:that|it|this)|still|didn'?t (?:work|help|fix)|no (?:change|luck)|now what|"
                    r"what else|what next|next step|anything else|same (?:thing|problem)|not fixed)\b")
_BACK_REF = re.compile(r"\b(it|that|this|them|those)\b")
_SWAP = re.compile(r"\b(swap|switch|change|move|go|goes|going|replace it|use|get|try)\b[^.?!]{0,25}\b(instead|rather)\b|"
                   r"\b(swap|switch|change|move|upgrade|downgrade)(?:ing)? (?:it )?(?:to|for) (?:a |an |the )?\w+|\binstead\?")
_REFERS_BACK = re.compile(r"\b(which one|which of (?:them|the two|those)|that one|the other one|either of|both of them|"
                          r"of the two|instead|something else|an alternative|the cheaper one|the second one)\b")
_BALANCE_TOPIC = re.compile(r"\b(balanc\w*|equaliz\w*|bleed|shuttl\w*|trigger)\b")
_RATING_TOPIC = re.compile(r"\b(peak|surge|amps?|current rating|rated|rating|continuous|how much current)\b")
_SIZE_TOPIC = re.compile(r"\b(compact|smaller|small|slim\w*|size|footprint|fits?|tight|cramped|narrow|bigger|room)\b")
_SIZE_WORDS = re.compile(r"compact|footprint|slim|tight deck|cramped|mm wide")


def _balance_words(b) -> str:
    """One family's balancing in a sentence, from its card: how it balances and when it starts."""
    start = getattr(b, "starts_above_v", None)
    trig = getattr(b, "trigger_v", None)
    kind = {"active": "Active balancing", "passive": "Passive balancing"}.get(b.type, "")
    if start:
        stops = ", and it often stops once it decides the pack is full" if "stop" in (b.note or "").lower() else ""
        return f"{kind or 'Balances'} only from about {start:g} V per cell, so only at the top of a full charge{stops}."
    if trig:
        return (f"{kind or 'Balancing'} that starts once the cell spread passes about {trig.min:g} V "
                f"(builders set {trig.min:g}-{trig.max:g} V).")
    return b.note


def _own_topic(text: str) -> bool:
    """A turn that stands on its own: long enough and about a BMS thing (not 'and on a daly?')."""
    words = re.findall(r"[a-z0-9']+", text.lower()[:MAX_TEXT])
    return len(words) >= 5 and bool(_OWN.search(text.lower()[:MAX_TEXT])) and not re.match(
        r"^\s*(and|also|what about|how about|what if|same|then|ok so|so)\b", text.lower())


def _need_text(facts: dict[str, Any]) -> list[str]:
    out = []
    if facts.get("series"):
        out.append(f"{facts['series']} S" + (f" {facts['parallel']} P" if facts.get("parallel") else ""))
    if facts.get("continuous"):
        out.append(f"{facts['continuous']:g} A continuous")
    if facts.get("peak") and facts.get("continuous") and facts["peak"] > facts["continuous"]:
        out.append(f"{facts['peak']:g} A peak")
    if facts.get("regen_limit"):
        out.append(f"{facts['regen_limit']:g} A regen")
    space = {"cramped": "a cramped deck", "none": "no room for discharge FETs", "roomy": "a roomy deck"}
    if facts.get("space") in space:
        out.append(space[facts["space"]])
    if facts.get("budget") == "low":
        out.append("a low budget")
    if facts.get("uptime") == "critical":
        out.append("critical uptime")
    if facts.get("integration") == "vesc-can":
        out.append("VESC CAN integration")
    if facts.get("full_protection"):
        out.append("full protection required")
    return out


# what a rider already said, in chat terms, for each reading field a report may ask about
_SAID_AS = {"cells": ("cells", "cell_voltage", "cell_delta", "cell_min", "cell_max"),
            "current": ("continuous", "battery_limit", "charge_current", "peak"),
            "pack_voltage": ("pack_voltage", "cell_voltage"), "regen_limit": ("regen_limit", "regen")}


def _next_question(report, facts: dict[str, Any]) -> str | None:
    """The report's most decisive question (engine.check's ranked questions) about a fact the rider has not given."""
    for q in getattr(report, "questions", None) or []:
        field = q.get("field") if isinstance(q, dict) else getattr(q, "field", None)
        ask = q.get("ask") if isinstance(q, dict) else getattr(q, "ask", None)
        if not ask or not field or any(facts.get(k) is not None for k in _SAID_AS.get(field, (field,))):
            continue
        return ask
    return None


# rider words -> the (stemmed) word a flow option uses for the same thing
_OPTION_WORDS = {"hill": "climb", "hills": "climb", "uphill": "climb", "floor": "acceleration", "throttle": "acceleration",
                 "launch": "acceleration", "accelerat": "acceleration", "regen": "brak", "brak": "brak", "empty": "low",
                 "flat": "low", "charg": "charg", "downhill": "downhill"}


def _step_field(session, sid: str) -> str | None:
    s = session.steps.get(sid)
    return getattr(s, "field", None) if s is not None else None
