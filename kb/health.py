"""Pack-health knowledge (content/health.yaml): thresholds with their basis, OCV curves, finding texts.

engine/health reads kb.health; the numbers live here as data so a threshold changes without code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kb.errors import Problem
from kb.load import Collection, register_collection
from kb.schema import Citations, Strict
from kb.validate import TEMPLATE_FIELD, register_check

SEVERITIES = ("info", "warning", "critical")
# The finding ids engine/health raises and the thresholds it reads: the file must define all of them.
FINDING_IDS = ("health.cell-high-resistance", "health.cell-low-capacity", "health.cell-imbalanced", "health.rest-delta",
               "health.rest-delta-info", "health.resistance-trend", "health.delta-trend", "health.after-storage",
               "health.soc-drift", "health.balancer-idle")
THRESHOLDS = ("step_min_a", "step_steady_a", "step_gap_s", "step_gap_long_s", "rest_current_a", "rest_min_s", "resistance_ratio",
              "capacity_ratio", "imbalance_soc", "imbalance_v", "delta_info_v", "delta_warn_v", "capacity_swing_soc",
              "ocv_slope_min_v", "trend_resistance_rise", "trend_delta_rise_v", "storage_gap_h", "storage_delta_rise_v",
              "soc_error", "liion_above_v")
CHEMISTRIES = ("li-ion", "lfp")


class Threshold(Strict):
    value: float
    basis: Literal["handbook", "ours"]
    note: str
    citations: Citations = Field(default_factory=list)


class OcvCurve(Strict):
    basis: Literal["handbook", "ours"]
    soc: list[float] = Field(min_length=3)
    volts: list[float] = Field(min_length=3)
    citations: Citations = Field(default_factory=list)


class HealthFinding(Strict):
    id: str = Field(pattern=r"^health\.[a-z0-9][a-z0-9-]*$")
    severity: Literal["info", "warning", "critical"]
    title: str
    evidence: list[str] = Field(min_length=1)
    message: str
    remedy: list[str] = Field(min_length=1)
    remedy_lfp: list[str] = Field(default_factory=list)  # instead of remedy on LiFePO4 packs (Li-ion voltages differ)
    citations: Citations = Field(min_length=1)


class HealthFile(Strict):
    version: int = Field(ge=1)
    thresholds: dict[str, Threshold]
    ocv: dict[Literal["li-ion", "lfp"], OcvCurve]
    findings: list[HealthFinding] = Field(min_length=1)

    def value(self, name: str) -> float:
        return self.thresholds[name].value

    def finding(self, fid: str) -> HealthFinding:
        return next(f for f in self.findings if f.id == fid)


register_collection(Collection("health", "health.yaml", HealthFile, required=False))


@register_check
def _check_health(kb, problems: list[Problem]) -> None:
    for doc in kb.docs.get("health", []):
        h = doc.model
        if h is None:
            continue
        for name, t in h.thresholds.items():
            if t.basis == "handbook" and not t.citations:
                problems.append(Problem(doc.path, *doc.pos(("thresholds", name)), f"threshold '{name}': a handbook number needs its citation"))
        for name in THRESHOLDS:
            if name not in h.thresholds:
                problems.append(Problem(doc.path, *doc.pos(("thresholds",)), f"threshold '{name}' is missing (engine/health reads it)"))
        for chem in CHEMISTRIES:
            c = h.ocv.get(chem)
            if c is None:
                problems.append(Problem(doc.path, *doc.pos(("ocv",)), f"OCV curve '{chem}' is missing"))
                continue
            ok = len(c.soc) == len(c.volts) and all(a < b for a, b in zip(c.soc, c.soc[1:])) \
                and all(a < b for a, b in zip(c.volts, c.volts[1:])) and c.soc[0] == 0.0 and c.soc[-1] == 1.0
            if not ok:
                problems.append(Problem(doc.path, *doc.pos(("ocv", chem)),
                                        f"OCV curve '{chem}': soc from 0 to 1 and volts, both rising, of the same length"))
        seen: set[str] = set()
        for i, f in enumerate(h.findings):
            if f.id in seen:
                problems.append(Problem(doc.path, *doc.pos(("findings", i, "id"), True), f"duplicate finding id '{f.id}'"))
            seen.add(f.id)
            for m in TEMPLATE_FIELD.finditer(f.message):
                if m.group(1) not in f.evidence:
                    problems.append(Problem(doc.path, *doc.pos(("findings", i, "message"), True),
                                            f"message: '{{{m.group(1)}}}' is not one of its evidence fields"))
        for fid in FINDING_IDS:
            if fid not in seen:
                problems.append(Problem(doc.path, *doc.pos(("findings",)), f"finding '{fid}' is missing (engine/health raises it)"))
        kb.health = h
        kb.counts["health_findings"] = len(h.findings)
        kb.coverage_items["health"] = [
            {"kind": "health", "id": f.id, "section": "balancing", "citations": list(f.citations)} for f in h.findings]
        for f in h.findings:
            kb.diff_items[f"health:{f.id}"] = f
