"""The selection advisor's knowledge: criteria that score BMS families against a pack's needs (content/selection.yaml).

A criterion's condition is written in the ordinary condition language, over two vocabularies at once: the
pack's needs (series, continuous, space, uptime, ...) and the facts of the family being scored (family_series_max,
family_footprint, has_<trait>, ...). The family facts come from the family cards, so a rating changed in
content/families/ changes every ranking without touching code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kb.errors import Problem
from kb.expr import ExprError, parse
from kb.fields import FAMILIES, FieldSpec
from kb.load import Collection, register_collection
from kb.schema import Basis, Citations, Strict
from kb.validate import TEMPLATE_FIELD, expr_position, register_check

SPACES = ("none", "cramped", "normal", "roomy")  # none: no room for a discharge-FET board at all
UPTIMES = ("critical", "normal")
BUDGETS = ("low", "normal", "high")
INTEGRATIONS = ("none", "vesc-can")

_F = FieldSpec
NEEDS: dict[str, FieldSpec] = {f.name: f for f in [
    _F("series", "int", doc="series count of the pack", group="needs", bounds=(1, 64)),
    _F("continuous", "number", "A", "continuous discharge current", group="needs", bounds=(0, 2000)),
    _F("peak", "number", "A", "peak discharge current", group="needs", bounds=(0, 5000)),
    _F("regen", "number", "A", "regen (charge) current during braking", group="needs", bounds=(0, 2000)),
    _F("space", "enum", doc="room in the deck", group="needs", values=SPACES),
    _F("uptime", "enum", doc="how critical it is that the pack never cuts out", group="needs", values=UPTIMES),
    _F("budget", "enum", doc="budget", group="needs", values=BUDGETS),
    _F("full_protection", "bool", doc="full protection (discharge cut-off) is mandatory", group="needs"),
    _F("integration", "enum", doc="wanted controller integration", group="needs", values=INTEGRATIONS),
]}

FAMILY_FACTS: dict[str, FieldSpec] = {f.name: f for f in [
    _F("family", "enum", doc="the family being scored", group="family", values=FAMILIES),
    _F("family_name", "text", group="family"),
    _F("family_continuous_min", "number", "A", group="family"),
    _F("family_continuous_max", "number", "A", group="family"),
    _F("family_peak_max", "number", "A", group="family"),
    _F("family_series_min", "int", group="family"),
    _F("family_series_max", "int", group="family"),
    _F("family_series_advertised", "int", group="family"),
    _F("family_footprint", "enum", group="family", values=("compact", "standard", "large")),
    _F("family_balance", "enum", group="family", values=("active", "passive", "external", "none", "unspecified")),
    _F("family_comfort_a", "number", "A", doc="what it carries in practice (its label, unless the handbook says less)", group="family"),
    _F("family_comfort_note", "text", group="family"),
    _F("family_series_basis", "enum", group="family", values=("handbook", "ours")),
    _F("family_balance_current_max", "number", "A", group="family"),
    _F("family_discharge_fets", "bool", group="family"),
    _F("family_full_protection", "bool", group="family"),
]}


def vocabulary(traits: set[str]) -> dict[str, FieldSpec]:
    """Needs + family facts + one yes/no `has_<trait>` per trait any family card declares."""
    v = dict(NEEDS)
    v.update(FAMILY_FACTS)
    for t in traits:
        name = "has_" + t.replace("-", "_")
        v[name] = FieldSpec(name, "bool", doc=f"the family has the trait '{t}'", group="family")
    return v


def family_facts(card) -> dict:
    facts = {
        "family": card.id,
        "family_name": card.name,
        "family_series_min": card.series.min,
        "family_series_basis": card.series.basis,
        "family_series_max": card.series.max,
        "family_footprint": card.footprint,
        "family_balance": card.balancing.type,
        "family_discharge_fets": card.discharge_fets,
        "family_full_protection": card.full_protection,
    }
    if card.rating.continuous_a is not None:
        facts["family_continuous_min"] = card.rating.continuous_a.min
        facts["family_continuous_max"] = card.rating.continuous_a.max
        facts["family_comfort_a"] = card.rating.comfort_a if card.rating.comfort_a is not None \
            else card.rating.continuous_a.max
    if card.rating.comfort_note:
        facts["family_comfort_note"] = card.rating.comfort_note
    if card.rating.peak_a is not None:
        facts["family_peak_max"] = card.rating.peak_a.max
    if card.series.advertised_max is not None:
        facts["family_series_advertised"] = card.series.advertised_max
    if card.balancing.current_a is not None:
        facts["family_balance_current_max"] = card.balancing.current_a.max
    return facts


class Criterion(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    when: str
    effect: Literal["avoid", "score"] = "score"
    points: int = 0
    kind: Literal["reason", "pitfall"]
    text: str  # template over needs and family facts: "{family_name} reaches {family_series_max} S"
    citations: Citations = Field(default_factory=list)
    cite_family: Literal["rating", "series", "balancing", "all"] | None = None  # add the card's citations for that part
    basis: Basis | None = None  # whose each number in `when` is (as for rules)


class Thresholds(Strict):
    recommended: int
    acceptable: int


class SelectionFile(Strict):
    version: int = Field(ge=1)
    base_score: int
    thresholds: Thresholds
    criteria: list[Criterion] = Field(min_length=1)


register_collection(Collection("selection", "selection.yaml", SelectionFile))


@register_check
def _check_selection(kb, problems: list[Problem]) -> None:
    docs = kb.docs.get("selection", [])
    traits = {t for f in kb.families.values() for t in f.traits}
    vocab = vocabulary(traits)
    trees = {}
    for doc in docs:
        if doc.model is None:
            continue
        seen: set[str] = set()
        for i, c in enumerate(doc.model.criteria):
            base = ("criteria", i)
            if c.id in seen:
                problems.append(Problem(doc.path, *doc.pos(base + ("id",), True), f"duplicate criterion id '{c.id}'"))
            seen.add(c.id)
            try:
                trees[c.id] = parse(c.when, vocab)
            except ExprError as e:
                problems.append(Problem(doc.path, *expr_position(doc, base + ("when",), e.line, e.col), f"condition: {e.message}"))
            for m in TEMPLATE_FIELD.finditer(c.text):
                if m.group(1) not in vocab:
                    problems.append(Problem(doc.path, *doc.pos(base + ("text",), True), f"text: unknown field '{{{m.group(1)}}}'"))
            if not c.citations and c.cite_family is None:
                problems.append(Problem(doc.path, *doc.pos(base), "a criterion needs citations or cite_family"))
            if c.id in trees:
                from kb.reasoning import literals

                nums = [v for v in literals(trees[c.id]) if v != 0 and not (
                    c.basis and any(abs(abs(v) - abs(x)) < 1e-9 for x in [*c.basis.handbook, *c.basis.ours]))]
                if nums:
                    problems.append(Problem(doc.path, *doc.pos(base), f"criterion '{c.id}': the number(s) "
                                            f"{', '.join(f'{v:g}' for v in nums)} have no basis (handbook or ours)"))
            if c.effect == "avoid" and c.kind != "pitfall":
                problems.append(Problem(doc.path, *doc.pos(base + ("kind",), True), "an 'avoid' criterion is a pitfall"))
        kb.selection = doc.model
        kb.selection_trees = trees
        kb.counts["selection_criteria"] = len(doc.model.criteria)
        kb.coverage_items["selection"] = [
            {"kind": "criterion", "id": c.id, "section": "selection", "citations": list(c.citations)}
            for c in doc.model.criteria]
        for c in doc.model.criteria:
            kb.diff_items[f"criterion:{c.id}"] = c
