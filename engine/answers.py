"""Pick and say the answer card (content/answers.yaml, kb/answers.py) that fits a question and its facts.

`best(data, text, facts, intent)` -> Match | None (data: engine.chatdata.ChatData). A card is eligible when every `need` entry matches the words, its
families meet the facts and its `only_if` holds; its score adds the `any` entries matched, an intent it lists and the
family it names. `say(match, facts)` renders the first variant whose condition holds and whose placeholders are known.
Patterns are word prefixes (linear to match); typos are corrected towards the cards' own prefixes with rapidfuzz.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.evaluate import TEMPLATE_FIELD
from engine.text import COMMON

_WORD = re.compile(r"[a-z0-9%]+(?:[.'-][a-z0-9]+){0,4}")
MIN_SCORE = 2.0


@dataclass
class Match:
    card: Any
    score: float
    matched: int


@lru_cache(maxsize=8)
def _alternatives(entries: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({a for e in entries for a in e.split("|") if " " not in a and len(a) >= 4 and a.isalpha()}))


class Words:
    """The question as lower-case words (typos pulled towards known prefixes) and as spaced text for phrases."""

    def __init__(self, text: str, prefixes: tuple[str, ...]) -> None:
        low = (text or "")[:4000].lower().replace("’", "'")
        fixed = []
        for w in _WORD.findall(low):
            if len(w) >= 4 and w.isalpha() and w not in COMMON and not _starts_any(w, prefixes):
                fixed.append(_fix(w, prefixes) or w)
            else:
                fixed.append(w)
        parts = [p for w in fixed if "-" in w for p in w.split("-") if p]  # "over-temp" is also "temp"
        self.words = fixed
        self.starts = {w[:k] for w in fixed + parts for k in range(1, min(len(w), 24) + 1)}  # every word prefix
        self.spaced = " " + " ".join(fixed) + " " + low + " "
        self._seen: dict[str, bool] = {}

    def has(self, entry: str) -> bool:
        hit = self._seen.get(entry)
        if hit is None:
            phrases, plain = _alts(entry)
            hit = self._seen[entry] = not self.starts.isdisjoint(plain) or any(
                ((" " + p) if " " in p else p) in self.spaced for p in phrases)  # "charge ocp" not in "discharge ocp"
        return hit


@lru_cache(maxsize=2048)
def _alts(entry: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """An entry's alternatives: phrases (matched as text) and plain word prefixes (matched against word starts)."""
    alts = entry.split("|")
    plain = frozenset(a for a in alts if " " not in a and a.replace("-", "").replace(".", "").isalnum())
    return tuple(a for a in alts if a not in plain), plain


def _starts_any(word: str, prefixes: tuple[str, ...]) -> bool:
    return any(word[:k] in _prefix_set(prefixes) for k in range(1, len(word) + 1))


@lru_cache(maxsize=8)
def _prefix_set(prefixes: tuple[str, ...]) -> frozenset[str]:
    return frozenset(prefixes)


@lru_cache(maxsize=4096)
def _fix(word: str, prefixes: tuple[str, ...]) -> str | None:
    """The card prefix a misspelt word was meant as ("balence" -> "balanc", "regne" -> "regen"), same first letter."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import DamerauLevenshtein

    if len(word) == 4:  # short words: only two letters swapped ("wkae" -> "wake"), never a different word
        return next((p for p in prefixes if len(p) == 4 and p[0] == word[0] and sorted(p) == sorted(word)
                     and DamerauLevenshtein.distance(word, p) == 1), None)
    best, best_score = None, 84.0
    for p in prefixes:
        if p[0] != word[0] or abs(len(word) - len(p)) > 4 or len(p) < 5:
            continue
        sc = max(fuzz.ratio(word[: len(p)], p), fuzz.ratio(word, p))
        if len(word) == len(p) and DamerauLevenshtein.distance(word, p) == 1:
            sc = max(sc, 85.0)  # one swapped pair or one wrong letter ("regne" -> "regen")
        if sc > best_score:
            best, best_score = p, sc
    return best


@lru_cache(maxsize=1)
def _vocab() -> dict[str, Any]:
    from kb.chatfacts import vocabulary

    return vocabulary()


def with_flags(facts: dict[str, Any]) -> dict[str, Any]:
    """The facts plus the known()/unknown() flags the condition language reads (KNOWN_PREFIX + field)."""
    from kb.fields import KNOWN_PREFIX

    out = dict(facts)
    for name in _vocab():
        out[KNOWN_PREFIX + name] = facts.get(name) is not None
    return out


@lru_cache(maxsize=512)
def _tree(text: str):
    from kb.expr import parse

    return parse(text, _vocab())  # kb/answers.py validated every card condition when the KB was built


def _truth(text: str | None, facts: dict[str, Any]):
    from engine.evaluate import truth

    if text is None:
        return True
    return truth(_tree(text), facts)


def ranked(data, text: str, facts: dict[str, Any], intent: str) -> list[Match]:
    """Eligible cards of `data` (engine.chatdata.ChatData), best first."""
    cards = data.cards
    if not cards:
        return []
    prefixes = _alternatives(tuple(e for c in cards.values() for e in [*c.need, *c.any, *c.none]))
    words = Words(text, prefixes)
    facts = with_flags(facts)
    fams = list(facts.get("families") or ([facts["bms"]] if facts.get("bms") else []))
    out: list[Match] = []
    for c in cards.values():
        if c.families:
            if c.all_families:
                if not all(f in fams for f in c.families):
                    continue
            elif fams and not any(f in c.families for f in fams):
                continue
        if c.intents and "compare" in c.intents and intent != "compare" and c.all_families:
            continue
        if "compare" in c.intents and intent != "compare" and not c.need:
            continue
        if not all(words.has(e) for e in c.need) or any(words.has(e) for e in c.none):
            continue
        if c.only_if is not None and _truth(c.only_if, facts) is not True:
            continue
        hits = sum(words.has(e) for e in c.any)
        score = 2.0 * len(c.need) + hits
        score += c.weight
        if intent in c.intents:
            score += 1.0
        if c.families:
            score += 1.5 if any(f in c.families for f in fams) else -3.0 - c.weight
        out.append(Match(c, score, hits))
    out.sort(key=lambda m: -m.score)
    return out


def best(data, text: str, facts: dict[str, Any], intent: str) -> Match | None:
    r = ranked(data, text, facts, intent)
    return r[0] if r and r[0].score >= MIN_SCORE else None


def fill(text: str, facts: dict[str, Any]) -> str | None:
    """The text with {field[:spec]} placeholders filled, or None when one is unknown."""
    missing = False

    def one(m: re.Match) -> str:
        nonlocal missing
        v = facts.get(m.group(1))
        if v is None or isinstance(v, (list, dict)):
            missing = True
            return ""
        spec = m.group(2)
        try:
            return format(v, spec) if spec else (f"{v:g}" if isinstance(v, float) else str(v))
        except (ValueError, TypeError):
            return str(v)

    out = TEMPLATE_FIELD.sub(one, text)
    return None if missing else out


def say(match: Match, facts: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(text, citations) of the first variant that holds and can be filled, or None."""
    c = match.card
    flagged = with_flags(facts)
    for v in c.answers:
        if v.when is not None and _truth(v.when, flagged) is not True:
            continue
        text = fill(v.text, facts)
        if text is not None:
            return text, list(v.citations or c.citations)
    return None


def gated_by(match: Match | None, keys) -> bool:
    """Whether the card's own `only_if` reads one of `keys` (a fact the rider just gave that made the card eligible)."""
    if match is None or match.card.only_if is None:
        return False
    from kb.expr import fields_of

    return bool(set(fields_of(_tree(match.card.only_if))) & set(keys))


def answers_with(match: Match, facts: dict[str, Any], keys) -> bool:
    """Whether the variant `say` would pick is conditioned on one of `keys` (a fact the last turn just gave)."""
    flagged = with_flags(facts)
    for v in match.card.answers:
        if v.when is not None and _truth(v.when, flagged) is not True:
            continue
        if fill(v.text, facts) is None:
            continue
        return v.when is not None and any(re.search(r"\b" + re.escape(k) + r"\b", v.when) for k in keys)
    return False
