"""Chat answer cards (content/answers.yaml): direct "what setting / how much / is X ok for Y / why does..." answers.

A card is matched on the rider's words (`need`: every entry must match; `any`: each entry that matches adds a point;
an entry is word prefixes joined by `|`, a space inside a prefix means a phrase) and on facts (`families`, `only_if`).
Its `answers` are variants tried in order: the first whose `when` holds (a condition in the ordinary condition
language over the chat's facts) and whose `{placeholders}` are all known is said (`none`: the card is out when any of its entries matches). The text starts with the number,
the verdict or the action; `why` follows; every number in the text is listed in `numbers` with whose it is
(`basis: handbook` for the handbook's, `ours` for our own judgement or arithmetic).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from kb.errors import Problem
from kb.expr import ExprError, parse
from kb.fields import FAMILIES
from kb.load import Collection, register_collection
from kb.schema import Citations, Strict
from kb.validate import TEMPLATE_FIELD, expr_position, register_check

INTENTS = ("symptom", "setting", "ok_for", "select", "compare", "what", "followup")

from kb.chatfacts import CHAT_FACTS, vocabulary  # noqa: E402,F401  (the chat's facts, light for engine.chat)


class Number(Strict):
    value: float
    unit: str = ""
    basis: Literal["handbook", "ours"]


class Variant(Strict):
    when: str | None = None
    text: str
    citations: Citations = Field(default_factory=list)  # this variant's own footnotes (default: the card's)


class Ask(Strict):
    field: str
    question: str


class Card(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    topic: str
    intents: list[Literal[INTENTS]] = Field(default_factory=list)  # type: ignore[valid-type]
    families: list[str] = Field(default_factory=list)
    all_families: bool = False  # compare cards: every family listed must be named
    need: list[str] = Field(default_factory=list)
    any: list[str] = Field(default_factory=list)
    none: list[str] = Field(default_factory=list)  # a match of any entry rules the card out ("regen" for charger current)
    only_if: str | None = None
    weight: float = 0  # added to the score: cards that need particular facts outrank cards that match words only
    answers: list[Variant] = Field(min_length=1)
    why: str = ""
    ask: list[Ask] = Field(default_factory=list)  # asked after the answer, each only while its field is unknown
    numbers: list[Number] = Field(default_factory=list)
    citations: Citations = Field(min_length=1)

    @field_validator("ask", mode="before")
    @classmethod
    def _one_ask(cls, v):
        return [v] if isinstance(v, dict) else v


class AnswersFile(Strict):
    version: int = Field(ge=1)
    answers: list[Card] = Field(min_length=1)


register_collection(Collection("answers", "answers.yaml", AnswersFile, required=False))

_NUM = re.compile(r"(?<![\w{:.])(\d+(?:\.\d+)?)(?![\w}])")
_PATTERN_WORD = re.compile(r"^[a-z0-9%][a-z0-9 .'%+-]*$")


@register_check
def _check_answers(kb, problems: list[Problem]) -> None:
    cards: dict[str, Card] = {}
    trees: dict[tuple[str, int | str], object] = {}
    vocab = vocabulary()
    for doc in kb.docs.get("answers", []):
        f = doc.model
        if f is None:
            continue
        for i, c in enumerate(f.answers):
            base = ("answers", i)
            if c.id in cards:
                problems.append(Problem(doc.path, *doc.pos(base + ("id",), True), f"duplicate answer id '{c.id}'"))
            cards[c.id] = c
            for label in [*c.citations, *(x for v in c.answers for x in v.citations)]:
                if label not in kb.sources:
                    problems.append(Problem(doc.path, *doc.pos(base + ("citations",), True), f"unknown footnote '{label}'"))
            for fam in c.families:
                if fam not in FAMILIES:
                    problems.append(Problem(doc.path, *doc.pos(base + ("families",), True), f"unknown family '{fam}'"))
            for entry in [*c.need, *c.any, *c.none]:
                for alt in entry.split("|"):
                    if not _PATTERN_WORD.match(alt):
                        problems.append(Problem(doc.path, *doc.pos(base, False), f"pattern '{alt}': lower-case words only"))
            conds = [("only_if", c.only_if, base + ("only_if",))] + [
                (j, v.when, base + ("answers", j, "when")) for j, v in enumerate(c.answers)]
            for key, text, loc in conds:
                if text is None:
                    continue
                try:
                    trees[(c.id, key)] = parse(text, vocab)
                except ExprError as e:
                    problems.append(Problem(doc.path, *expr_position(doc, loc, e.line, e.col), f"condition: {e.message}"))
            listed = {n.value for n in c.numbers}
            for j, v in enumerate(c.answers):
                for m in TEMPLATE_FIELD.finditer(v.text):
                    if m.group(1) not in vocab:
                        problems.append(Problem(doc.path, *doc.pos(base + ("answers", j, "text"), True),
                                                f"unknown placeholder '{{{m.group(1)}}}'"))
                for m in _NUM.finditer(TEMPLATE_FIELD.sub("", v.text)):
                    if float(m.group(1)) not in listed and float(m.group(1)) not in (0, 1, 2):
                        problems.append(Problem(doc.path, *doc.pos(base + ("answers", j, "text"), True),
                                                f"number {m.group(1)} is not listed in numbers (with its basis)"))
            for a in c.ask:
                if a.field not in vocab:
                    problems.append(Problem(doc.path, *doc.pos(base + ("ask",), True), f"unknown field '{a.field}'"))
    kb.answers = cards
    kb.answer_trees = trees
    kb.counts["answers"] = len(cards)
    kb.coverage_items["answers"] = [
        {"kind": "answer", "id": c.id, "section": c.topic, "citations": list(c.citations)} for c in cards.values()]
