"""A BMS's own alarm and protection code -> the reading's protection fields, in words.

The meaning of every bit or status value lives in drivers/protection.yaml (one table per family and protocol
generation, with its public source); this module only applies a table. Where a code comes from:

- aiobmsble's `problem_code` (live BLE, pasted frames, a pasted BMSSample): JK error bits, JBD protection status,
  Daly fault registers, ANT's two MOSFET status bytes as one word (2021: discharge << 8 | charge; legacy: charge << 8
  | discharge);
- the raw status bytes of an ANT frame when the frame itself is at hand (aiobmsble's problem_code keeps only the
  low nibble of each and hides the normal states, so 0x11 "low temperature" would read as 0x1 "on").

    fields = protection_fields("jk", 0x2000)   # {"protection_active": True, "prot_discharge_ocp": True, ...,
                                                #  "alarm_code": "jk:0x2000", "alarm_text": "discharge over-current"}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

TABLES_FILE = Path(__file__).with_name("protection.yaml")
FLAGS = ("prot_cell_ovp", "prot_cell_uvp", "prot_pack_ovp", "prot_pack_uvp", "prot_charge_ocp", "prot_discharge_ocp",
         "prot_short_circuit", "prot_charge_otp", "prot_discharge_otp", "prot_charge_utp", "prot_discharge_utp",
         "prot_mos_otp", "prot_fet_lock", "prot_cell_imbalance", "prot_sensor_fault")
_WIDTH = {"jk": 4, "jbd": 4, "ant": 4, "ant_leg": 4, "daly": 16, "daly_x81": 8}
# the family a table belongs to (for the alarm_code prefix)
_PREFIX = {"ant_leg": "ant", "daly_x81": "daly"}


@dataclass
class Alarm:
    table: str
    code: int
    items: list[tuple[str, str]] = field(default_factory=list)  # (text, level: protection | alarm | none)
    flags: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)
    opaque: bool = False

    @property
    def active(self) -> bool:
        return any(level == "protection" for _t, level in self.items) or bool(self.unknown) \
            or (self.opaque and self.code != 0)

    @property
    def code_text(self) -> str:
        width = _WIDTH.get(self.table, 4)
        if self.code >= 16 ** width:
            width = 8
        return f"{_PREFIX.get(self.table, self.table)}:0x{self.code:0{width}X}"

    @property
    def words(self) -> str:
        parts = [t if level != "alarm" else f"warning: {t}" for t, level in self.items]
        parts += self.unknown
        if self.opaque and self.code:
            parts.append(f"alarm code {self.code_text} (its bits are not published: see the BMS app)")
        return "; ".join(parts) if parts else "no alarm"

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"protection_active": self.active}
        if not self.opaque:
            out.update({f: f in self.flags for f in FLAGS})
        out["alarm_code"] = self.code_text
        out["alarm_text"] = self.words
        return out


@lru_cache(maxsize=1)
def tables() -> dict[str, dict]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(TABLES_FILE.read_text(encoding="utf-8"))
    for t in data.values():
        if t["kind"] == "bits":
            t["bits"] = {int(k): v for k, v in t["bits"].items()}
        elif t["kind"] == "status":
            t["charge"] = {int(k): v for k, v in t["charge"].items()}
            t["discharge"] = {int(k): v for k, v in t["discharge"].items()}
    return data


def _add(a: Alarm, entry: dict) -> None:
    a.items.append((entry["text"], entry.get("level", "protection")))
    a.flags.update(entry.get("flags") or ())


def decode_bits(table: str, code: int) -> Alarm:
    t = tables()[table]
    a = Alarm(table, int(code))
    if t["kind"] == "opaque":
        a.opaque = True
        return a
    bit = 0
    rest = int(code)
    while rest:
        if rest & 1:
            entry = t["bits"].get(bit)
            if entry:
                _add(a, entry)
            else:
                a.unknown.append(f"unknown alarm bit {bit}")
        rest >>= 1
        bit += 1
    return a


def decode_status(table: str, charge: int, discharge: int, *, hidden_normal: bool = False) -> Alarm:
    """ANT: the charge and discharge MOSFET status values. hidden_normal: the values come from aiobmsble's
    problem_code, where 0 stands for "normal" (on, full, switched off by hand), not for "off"."""
    t = tables()[table]
    a = Alarm(table, (charge << 8) | discharge)
    for which, value in (("charge", charge), ("discharge", discharge)):
        if hidden_normal and value == 0:
            continue
        if value == 1:
            continue  # on: nothing to say
        entry = t[which].get(value)
        if entry:
            _add(a, entry)
        else:
            a.unknown.append(f"{which} FET status 0x{value:02X} (not in the published table)")
    return a


def from_problem_code(family: str, code: Any, variant: str = "") -> Alarm | None:
    """The alarm from aiobmsble's problem_code of a family (variant: 'legacy' for ANT AA 55, 'x81' for Daly)."""
    if code is None or isinstance(code, bool):
        return None
    try:
        code = int(code)
    except (TypeError, ValueError):
        return None
    if family == "ant":
        # aiobmsble reads the two status bytes as one word in the frame's byte order: ANT 2021 is little-endian
        # (discharge in the high byte), the legacy protocol big-endian (charge in the high byte)
        if variant == "legacy":
            return decode_status("ant_leg", (code >> 8) & 0xFF, code & 0xFF, hidden_normal=True)
        return decode_status("ant", code & 0xFF, (code >> 8) & 0xFF, hidden_normal=True)
    if family == "daly":
        return decode_bits("daly_x81" if variant == "x81" else "daly", code)
    if family in ("jk", "jbd"):
        return decode_bits(family, code)
    return None


def protection_fields(family: str, code: Any, variant: str = "") -> dict[str, Any]:
    a = from_problem_code(family, code, variant)
    return a.fields() if a else {}


def describe(fields: dict[str, Any]) -> str | None:
    """The alarm in words for display ('discharge over-current (jk:0x2000)'), or None when nothing is raised."""
    text, code = fields.get("alarm_text"), fields.get("alarm_code")
    if not text or text == "no alarm":
        return None
    return f"{text} ({code})" if code else text


# ---------------------------------------------------------------------------- an alarm already in words

# what tools print for an alarm (ESPHome components' `errors` text, the ANT status texts, app screens) -> flags;
# first match wins per phrase, so the specific patterns come before the general ones
_WORDS: tuple[tuple[str, str | None], ...] = (
    (r"software lock|mosfet abnormal|mos abnormal|open failed|switch-?on failed|discharge on failed|start exception",
     "prot_fet_lock"),
    (r"wire resistance|cell count|sensor|coprocessor|front-?end|afe|balanced? line|balance lead|self.?detect",
     "prot_sensor_fault"),
    (r"short", "prot_short_circuit"),
    # Daly's app names ("Cell volt high level 2", "Sum volt low level 1", "Chg overcurrent", "Dischg temp high")
    (r"\b(?:sum|total|pack) volt(?:age)? high", "prot_pack_ovp"),
    (r"\b(?:sum|total|pack) volt(?:age)? low", "prot_pack_uvp"),
    (r"\bcell volt(?:age)? high", "prot_cell_ovp"),
    (r"\bcell volt(?:age)? low", "prot_cell_uvp"),
    (r"\bdiff volt", "prot_cell_imbalance"),
    (r"\bdischg\b.*over.?current", "prot_discharge_ocp"),
    (r"\bchg\b.*over.?current", "prot_charge_ocp"),
    (r"\bdischg\b.*(?:temp high|over.?temp)", "prot_discharge_otp"),
    (r"\bdischg\b.*temp low", "prot_discharge_utp"),
    (r"\bchg\b.*(?:temp high|over.?temp)", "prot_charge_otp"),
    (r"\bchg\b.*temp low", "prot_charge_utp"),
    (r"(?:voltage|pressure) difference|diff(?:erence)? (?:too )?(?:large|high)|imbalance", "prot_cell_imbalance"),
    (r"(?:mosfet|mos|motherboard|board|power tube)\b.*(?:over.?temp|high temp)", "prot_mos_otp"),
    (r"discharg\w*\b.*(?:over.?temp|high temp)|(?:over.?temp|high temp).*\bdischarg", "prot_discharge_otp"),
    (r"charg\w*\b.*(?:over.?temp|high temp)|(?:over.?temp|high temp).*\bcharg|battery over.?temp", "prot_charge_otp"),
    (r"discharg\w*\b.*(?:under.?temp|low temp)|(?:under.?temp|low temp).*\bdischarg", "prot_discharge_utp"),
    (r"charg\w*\b.*(?:under.?temp|low temp)|(?:under.?temp|low temp)", "prot_charge_utp"),
    (r"discharg\w*\b.*over.?current|over.?current.*\bdischarg|ocp ii", "prot_discharge_ocp"),
    (r"charg\w*\b.*over.?current|over.?current.*\bcharg", "prot_charge_ocp"),
    (r"(?:pack|battery|total)\b.*(?:over.?voltage|over.?pressure)", "prot_pack_ovp"),
    (r"(?:pack|battery|total)\b.*(?:under.?voltage|pressure undervoltage)", "prot_pack_uvp"),
    (r"over.?voltage|overcharge|fully charged|battery full|exceed voltage", "prot_cell_ovp"),
    (r"under.?voltage|over.?discharge|low voltage", "prot_cell_uvp"),
    (r"over.?current", "prot_discharge_ocp"),
)
_WORDS_RX = tuple((re.compile(p, re.IGNORECASE), f) for p, f in _WORDS)
_NONE_WORDS = {"", "none", "ok", "normal", "no error", "no errors", "no alarm", "0", "off", "on"}


_CODE_LIKE = re.compile(r"^\s*(?:FAULT_CODE_)?[A-Za-z]+(?:_[A-Za-z0-9]+)+\s*$")  # under_voltage, FAULT_CODE_...


def protection_in_words(text: str) -> dict[str, Any]:
    """fields_from_words for a fault a rider or an app wrote in words ("Discharge overcurrent protection"), or {}
    when it names no BMS protection. A controller's code (VESC's `under_voltage`, `FAULT_CODE_...`) is not the BMS's
    alarm and sets nothing."""
    if not isinstance(text, str) or _CODE_LIKE.match(text):
        return {}
    found = fields_from_words(text)
    return found if any(v for k, v in found.items() if k.startswith("prot_")) else {}


def fields_from_words(text: str) -> dict[str, Any]:
    """Protection fields from an alarm a tool already printed in words ('Cell Undervoltage;Discharge overcurrent').
    Phrases that name no known protection are kept in alarm_text but set no flag."""
    phrases = [x.strip() for x in re.split(r"[;,|/]+", text or "") if x.strip()]
    if not phrases or all(x.lower() in _NONE_WORDS for x in phrases):
        return {}
    flags: set[str] = set()
    for phrase in phrases:
        for rx, flag in _WORDS_RX:
            if rx.search(phrase):
                if flag:
                    flags.add(flag)
                break
    tripped = flags - {"prot_sensor_fault"}  # a sensing alarm alone (wire resistance) is a warning, not a trip
    out: dict[str, Any] = {"protection_active": bool(tripped), "alarm_text": "; ".join(phrases)}
    out.update({f: True for f in flags})
    return {k: v for k, v in out.items() if v is not None}
