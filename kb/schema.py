"""Pydantic models of everything in content/. Unknown keys are errors (extra="forbid")."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kb.fields import CHEMISTRIES, FAMILIES

Severity = Literal["info", "warning", "critical"]
Status = Literal["experimental", "test", "stable", "deprecated"]
Family = Literal["jk", "ant", "jbd", "daly", "charge-only"]
Chemistry = Literal["li-ion", "lifepo4", "lto"]
# The one home of the severity order (most severe first); everything that ranks findings imports it.
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
SEVERITIES = tuple(SEVERITY_ORDER)

_ID = r"^[a-z0-9][a-z0-9._-]*$"
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


class Strict(BaseModel):
    # defer_build: schemas are built on first validation, so loading the cached KB (no validation) skips them
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


Citations = list[str]


class Cited(Strict):
    """A sentence of advice with the footnote labels that support it."""

    text: str = Field(min_length=1)
    citations: Citations = Field(min_length=1)


# ---------------------------------------------------------------- manifest and sources


class Section(Strict):
    id: str = Field(pattern=_ID)
    title: str
    heading: str  # the handbook heading it maps to


class ChangelogEntry(Strict):
    version: str
    date: str
    changes: list[str] = Field(min_length=1)


class Manifest(Strict):
    kb_version: str
    title: str
    handbook: str
    sections: list[Section] = Field(min_length=1)
    changelog: list[ChangelogEntry] = Field(min_length=1)

    @field_validator("kb_version")
    @classmethod
    def _semver(cls, v: str) -> str:
        if not _SEMVER.match(v):
            raise ValueError("kb_version must be a semantic version such as 1.2.0")
        return v


class Source(Strict):
    label: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    summary: str = Field(min_length=1)
    sections: list[str] = Field(min_length=1)
    locators: list[str] = Field(min_length=1)


class SourcesFile(Strict):
    sources: list[Source] = Field(min_length=1)


# ---------------------------------------------------------------- BMS families (the selection matrix)


class Range(Strict):
    min: float
    max: float


class Rating(Strict):
    continuous_a: Range | None = None  # None: the board carries no discharge current (charge-only)
    peak_a: Range | None = None
    # what the family carries in practice, when the handbook says it is well below the label (JK ~60 A, Daly derated)
    comfort_a: float | None = None
    comfort_basis: Literal["handbook", "ours"] | None = None
    comfort_note: str = ""
    note: str = ""
    citations: Citations = Field(min_length=1)


class SeriesSupport(Strict):
    min: int
    max: int  # the handbook's confirmed ceiling (basis: handbook) or the highest it shows the family on (ours)
    basis: Literal["handbook", "ours"] = "ours"
    advertised_max: int | None = None
    note: str = ""
    citations: Citations = Field(min_length=1)


class Balancing(Strict):
    type: Literal["active", "passive", "external", "none", "unspecified"]
    current_a: Range | None = None
    starts_above_v: float | None = None  # cell voltage below which it does not balance
    trigger_v: Range | None = None  # typical delta trigger
    note: str = ""
    citations: Citations = Field(min_length=1)


class Pitfall(Strict):
    text: str
    mitigation: str
    citations: Citations = Field(min_length=1)


class FamilyCard(Strict):
    id: Family
    version: int = Field(ge=1)
    name: str
    aliases: list[str] = Field(default_factory=list)
    summary: str
    rating: Rating
    series: SeriesSupport
    balancing: Balancing
    footprint: Literal["compact", "standard", "large"]
    discharge_fets: bool
    full_protection: bool
    traits: list[str] = Field(default_factory=list)  # machine tags the advisor scores on
    strengths: list[Cited] = Field(min_length=1)
    pitfalls: list[Pitfall] = Field(min_length=1)
    failure_modes: list[Cited] = Field(default_factory=list)
    citations: Citations = Field(min_length=1)


# ---------------------------------------------------------------- guides (guardrails, regen, balancing, charging, service)


class GuideEntry(Strict):
    id: str = Field(pattern=_ID)
    version: int = Field(ge=1)
    title: str
    summary: str
    steps: list[str] = Field(min_length=1)
    families: list[Family] = Field(default_factory=list)  # empty = every family
    rules: list[str] = Field(default_factory=list)  # rule ids that check this entry against a reading
    citations: Citations = Field(min_length=1)


class GuideFile(Strict):
    section: str
    title: str
    entries: list[GuideEntry] = Field(min_length=1)


# ---------------------------------------------------------------- reading rules


class Scope(Strict):
    families: list[Family] = Field(default_factory=list)  # empty = any family (or none given)
    chemistry: list[Chemistry] = Field(default_factory=list)  # empty = any chemistry


class RuleTest(Strict):
    name: str
    reading: dict[str, Any]
    fires: bool
    boundary: bool = False  # a case on the edge of a threshold


class Basis(Strict):
    """Whose numbers a condition uses: the handbook's (cited by the rule) or our own engineering judgement."""

    handbook: list[float] = Field(default_factory=list)
    ours: list[float] = Field(default_factory=list)
    note: str = ""


class Rule(Strict):
    id: str = Field(pattern=_ID)
    version: int = Field(ge=1)
    status: Status
    title: str
    severity: Severity
    section: str  # handbook section id the rule belongs to
    scope: Scope = Field(default_factory=Scope)
    when: str
    message: str
    remedy: list[str] = Field(min_length=1)
    citations: Citations = Field(min_length=1)
    tests: list[RuleTest] = Field(min_length=2)
    basis: Basis | None = None  # every number in `when` other than 0 must be listed here
    explains: list[str] = Field(default_factory=list)  # rule ids (or 'prefix.*') this root cause accounts for


class RuleFile(Strict):
    topic: str
    rules: list[Rule] = Field(min_length=1)


ALL_FAMILIES = FAMILIES
ALL_CHEMISTRIES = CHEMISTRIES


# ---------------------------------------------------------------- reasoning: handbook defaults and questions


class Default(Strict):
    """A setting's value when nobody gave it, used and shown as an assumption."""

    field: str
    value: float
    families: list[Family] = Field(default_factory=list)
    chemistry: list[Chemistry] = Field(default_factory=list)
    basis: Literal["handbook", "ours"]
    note: str
    citations: Citations = Field(default_factory=list)


class DefaultsFile(Strict):
    defaults: list[Default] = Field(min_length=1)


class Question(Strict):
    """How to ask a rider for a missing fact, and where they can read it."""

    field: str
    ask: str
    how: str


class QuestionsFile(Strict):
    questions: list[Question] = Field(min_length=1)
