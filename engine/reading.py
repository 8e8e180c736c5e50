"""The Reading: what every driver produces and every check consumes.

Field names and units come from kb.fields (the vocabulary content/ is written against). Conventions:
current is positive when charging (or regenerating) and negative when discharging, as BMS apps and aiobmsble
report it; drivers whose source uses another convention convert at their boundary.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kb.errors import UserError
from kb.fields import CONTROLLERS, FIELDS

RESERVED = frozenset({"id", "sid", "kind"})
_PLAIN = frozenset({int, float})
_NUMERIC = frozenset(n for n, f in FIELDS.items() if f.kind in ("number", "int"))
MAX_LIST = 128  # cells or temperature probes in one reading (the largest boards take 32-48 cells)  # durable-rules uses these as fact identity / our discriminator

FAMILY_ALIASES = {
    "jk": "jk", "jikong": "jk", "jkbms": "jk", "jk-bms": "jk", "jk bms": "jk", "jk smart": "jk", "jk-pb": "jk",
    "ant": "ant", "antbms": "ant", "ant-bms": "ant", "ant bms": "ant", "ant smart": "ant",
    "jbd": "jbd", "llt": "jbd", "llt/jbd": "jbd", "jbd/llt": "jbd", "overkill": "jbd", "overkill solar": "jbd",
    "xiaoxiang": "jbd", "llt power": "jbd", "jbd-bms": "jbd",
    "daly": "daly", "daly smart": "daly", "dalybms": "daly", "daly-bms": "daly",
    "charge-only": "charge-only", "charge only": "charge-only", "charge_only": "charge-only", "chargeonly": "charge-only",
    "none": "charge-only", "balancer only": "charge-only",
}
CHEMISTRY_ALIASES = {
    "li-ion": "li-ion", "liion": "li-ion", "li ion": "li-ion", "lithium-ion": "li-ion", "lithium ion": "li-ion",
    "nmc": "li-ion", "nca": "li-ion", "lion": "li-ion", "li-ion nmc": "li-ion",
    "lifepo4": "lifepo4", "lfp": "lifepo4", "lifepo": "lifepo4", "life": "lifepo4", "lifepo₄": "lifepo4",
    "lto": "lto", "lithium titanate": "lto", "titanate": "lto",
}
BOOL_WORDS = {
    "on": True, "off": False, "true": True, "false": False, "yes": True, "no": False, "enabled": True,
    "disabled": False, "enable": True, "disable": False, "1": True, "0": False, "open": False, "closed": True,
    "active": True, "inactive": False, "y": True, "n": False,
}
# common spellings of field names (lower-case, separators folded to "_")
FIELD_ALIASES = {
    "family": "bms", "bms_type": "bms", "type": "bms", "brand": "bms",
    "s": "series", "cell_count_configured": "series", "series_count": "series", "strings": "series",
    "cell_voltages": "cells", "voltages": "cells", "cell_voltage": "cells", "cellvoltages": "cells",
    "voltage": "pack_voltage", "total_voltage": "pack_voltage", "pack": "pack_voltage", "pack_v": "pack_voltage",
    "battery_voltage": "pack_voltage",
    "amps": "current", "battery_current": "current", "i": "current",
    "state_of_charge": "soc", "battery_level": "soc", "percent": "soc",
    "temps": "temperatures", "temperature": "temperatures", "temp": "temperatures", "cell_temps": "temperatures",
    "mosfet_temp": "mos_temp", "mosfet_temperature": "mos_temp", "mos_temperature": "mos_temp", "power_tube_temp": "mos_temp",
    "charge": "charge_fet", "discharge": "discharge_fet", "charge_switch": "charge_fet",
    "discharge_switch": "discharge_fet", "charge_mos": "charge_fet", "charging": "charge_fet", "chg_fet": "charge_fet", "charge_mosfet": "charge_fet",
    "discharge_mos": "discharge_fet", "discharging": "discharge_fet", "dsg_fet": "discharge_fet",
    "discharge_mosfet": "discharge_fet",
    "balancer": "balancing", "balance": "balancing",
    "charger": "charger_voltage", "ovp": "cell_ovp", "ovpr": "cell_ovp_recover", "uvp": "cell_uvp", "uvpr": "cell_uvp_recover",
    "regen": "regen_limit", "regen_current": "regen_limit", "regen_battery_current": "regen_limit",
    "battery_regen_current": "regen_limit", "regen_current_limit": "regen_limit", "max_regen_current": "regen_limit", "battery_regen_limit": "regen_limit",
    "battery_current_limit": "battery_limit", "battery_max": "battery_limit",
}


# words that name a value inside a longer spelling ("JK-B2A24S15P", "ANT BMS 7-20S", "Spintend Ubox")
FAMILY_WORDS = (("jikong", "jk"), ("jkbms", "jk"), ("jk", "jk"), ("ant", "ant"), ("antbms", "ant"), ("jbd", "jbd"),
                ("llt", "jbd"), ("overkill", "jbd"), ("xiaoxiang", "jbd"), ("daly", "daly"),
                ("charge-only", "charge-only"), ("charge only", "charge-only"))
CHEMISTRY_WORDS = (("lifepo4", "lifepo4"), ("lifepo", "lifepo4"), ("lfp", "lifepo4"), ("lto", "lto"),
                   ("titanate", "lto"), ("nmc", "li-ion"), ("nca", "li-ion"), ("li-ion", "li-ion"),
                   ("liion", "li-ion"), ("lithium ion", "li-ion"), ("lithium-ion", "li-ion"), ("li ion", "li-ion"),
                   ("lion", "li-ion"), ("21700", "li-ion"), ("18650", "li-ion"))
ENUM_WORDS = {
    "controller": tuple((c, c) for c in CONTROLLERS if c not in ("stock", "other"))
    + (("ubox", "spintend"), ("75100", "flipsky"), ("75200", "flipsky"), ("original", "stock"), ("oem", "stock"),
       ("factory", "stock"), ("stock", "stock")),
    "state": (("parked", "idle"), ("resting", "idle"), ("rest", "idle"), ("standby", "idle"), ("idle", "idle"),
              ("riding", "riding"), ("ride", "riding"), ("driving", "riding"), ("under load", "riding"),
              ("discharging", "riding"), ("charging", "charging"), ("on charger", "charging"),
              ("on the charger", "charging"), ("charge", "charging"), ("storage", "storage"), ("stored", "storage"),
              ("winter", "storage")),
    "goal": (("longevity", "longevity"), ("long life", "longevity"), ("lifespan", "longevity"),
             ("cycle life", "longevity"), ("life", "longevity"), ("range", "range"), ("max", "range")),
}


def _first_word_match(text: str, words: tuple[tuple[str, str], ...]) -> str | None:
    """The value of the first word (in the table's order) that stands as a whole word in `text`."""
    t = " " + re.sub(r"[^a-z0-9+/-]+", " ", text.lower()) + " "
    t2 = re.sub(r"[-/]", " ", t)
    for word, value in words:
        w = " " + word + " "
        if w in t or w in t2 or (len(word) >= 4 and word in t.replace(" ", "")):
            return value
    for word, value in words:  # a model code that starts with the family: "jk-b2a24s15p", "ant7-20s"
        if len(word) >= 2 and re.search(r"(?:^|\s)" + re.escape(word) + r"(?=[-_0-9a-z])", t) and word in ("jk", "ant",
                                                                                                      "jbd", "daly"):
            return value
    return None


@functools.lru_cache(maxsize=4096)  # field names repeat on every reading (the fleet validates ~1,000 a second)
def _key(k: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(k).strip().lower())


@functools.lru_cache(maxsize=4096)  # the same few keys on every reading; garbage keys are bounded by the cache
def _field_of(k: str) -> tuple[str, str]:
    """(canonical field, "") for a key a reading may carry, or ("", the one-line reason it may not)."""
    if _key(k) in RESERVED:
        return "", f"'{k}' is a reserved name and cannot be a reading field"
    name = canonical_field(k)
    if name is None or FIELDS[name].derived:
        return "", f"unknown field '{k}'" + _suggest(k)
    return name, ""


def canonical_field(name: str) -> str | None:
    k = _key(name)
    if k in FIELDS:
        return k
    return FIELD_ALIASES.get(k)


def _finite(name: str, v: float) -> float:
    if isinstance(v, bool):
        raise ValueError("expected a number, not true/false")
    if isinstance(v, (int, float)) and not math.isfinite(v):
        raise ValueError("NaN and infinity are not readings")
    return v


def _bounded(name: str, v: float) -> float:
    spec = FIELDS[name]
    if spec.bounds is not None:
        lo, hi = spec.bounds
        if not lo <= v <= hi:
            unit = f" {spec.unit}" if spec.unit else ""
            raise ValueError(f"{v:g}{unit} is implausible (expected {lo:g}..{hi:g}{unit})")
    return v


class Reading(BaseModel):
    """A snapshot of a pack: what was measured, how the BMS is set up, and the ride context. All optional."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=False, frozen=True)

    bms: Literal["jk", "ant", "jbd", "daly", "charge-only"] | None = None
    model: str | None = None
    firmware: str | None = None
    series: int | None = Field(default=None, ge=1, le=64)
    board_max_series: int | None = Field(default=None, ge=1, le=64)
    chemistry: Literal["li-ion", "lifepo4", "lto"] | None = None

    cells: list[float] | None = None
    pack_voltage: float | None = None
    current: float | None = None
    soc: float | None = None
    temperatures: list[float] | None = None
    mos_temp: float | None = None
    charge_fet: bool | None = None
    discharge_fet: bool | None = None
    balancing: bool | None = None
    balance_current: float | None = None
    state: Literal["riding", "idle", "charging", "storage"] | None = None
    fault: str | None = None
    duty: float | None = None
    days_idle: float | None = None
    voltage_drop: float | None = None
    voltage_rise: float | None = None
    latched: bool | None = None
    log_ended: bool | None = None

    cell_ovp: float | None = None
    cell_ovp_recover: float | None = None
    cell_uvp: float | None = None
    cell_uvp_recover: float | None = None
    balance_trigger: float | None = None
    balance_start: float | None = None
    charge_ocp: float | None = None
    discharge_ocp: float | None = None
    rated_continuous: float | None = None
    rated_peak: float | None = None
    charge_target: float | None = None
    charger_voltage: float | None = None

    controller: Literal[CONTROLLERS] | None = None  # type: ignore[valid-type]
    regen_limit: float | None = None
    battery_limit: float | None = None
    dash_low_warning: float | None = None
    dash_high_warning: float | None = None
    goal: Literal["longevity", "range"] | None = None
    fused: bool | None = None
    uptime_critical: bool | None = None

    # protection (kb.fields group "protection")
    protection_active: bool | None = None
    prot_cell_ovp: bool | None = None
    prot_cell_uvp: bool | None = None
    prot_pack_ovp: bool | None = None
    prot_pack_uvp: bool | None = None
    prot_charge_ocp: bool | None = None
    prot_discharge_ocp: bool | None = None
    prot_short_circuit: bool | None = None
    prot_charge_otp: bool | None = None
    prot_discharge_otp: bool | None = None
    prot_charge_utp: bool | None = None
    prot_discharge_utp: bool | None = None
    prot_mos_otp: bool | None = None
    prot_fet_lock: bool | None = None
    prot_cell_imbalance: bool | None = None
    prot_sensor_fault: bool | None = None
    alarm_code: str | None = None
    alarm_text: str | None = None

    # ------------------------------------------------------------ normalisation of loose input

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError("a reading is a mapping of field names to values")
        out: dict[str, Any] = {}
        for k, v in data.items():
            if not isinstance(k, str):
                raise ValueError(f"field names are text, got {k!r}")
            name, problem = _field_of(k)
            if problem:
                raise ValueError(problem)
            if name in out:
                raise ValueError(f"'{k}' gives '{name}' a second time")
            if v is None:
                continue
            cls = v.__class__
            # a plain number for a number field is taken as it is (_loose would return it unchanged)
            out[name] = v if (cls is float or cls is int) and name in _NUMERIC else _loose(name, v)
        return out

    @field_validator("cells", "temperatures")
    @classmethod
    def _list(cls, v: list[float] | None, info) -> list[float] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("an empty list is not a reading; leave the field out")
        if len(v) > MAX_LIST:  # no pack has more; it also keeps every derived fact cheap
            raise ValueError(f"{len(v)} values: a reading holds at most {MAX_LIST}")
        bounds = FIELDS[info.field_name].bounds  # NaN and infinity are refused by allow_inf_nan=False
        if bounds is not None:
            lo, hi = bounds
            for x in v:
                if not lo <= x <= hi:
                    _bounded(info.field_name, x)
        return v

    @field_validator("pack_voltage", "current", "soc", "mos_temp", "balance_current", "duty", "days_idle",
                     "voltage_drop", "voltage_rise", "cell_ovp",
                     "cell_ovp_recover", "cell_uvp", "cell_uvp_recover", "balance_trigger", "balance_start",
                     "charge_ocp", "discharge_ocp", "rated_continuous", "rated_peak", "charge_target",
                     "charger_voltage", "regen_limit", "battery_limit", "dash_low_warning", "dash_high_warning")
    @classmethod
    def _number(cls, v: float | None, info) -> float | None:
        if v is None:
            return v
        if info.field_name == "regen_limit" and v < 0:
            v = -v  # VESC shows its regen battery current as negative (-60 A): the limit is 60 A
        return _bounded(info.field_name, _finite(info.field_name, v))

    # ------------------------------------------------------------ construction

    @classmethod
    def parse(cls, data: Any) -> Reading:
        """Build a Reading from loose user data; any problem becomes a one-line UserError."""
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise UserError(one_line(e)) from None

    def given(self) -> dict[str, Any]:
        """The fields that were given, in vocabulary order (the model's field order); lists are copies. Read off the
        instance, not through model_dump, which serialises all 80 fields (a sixth of a fleet check)."""
        return {k: (list(v) if type(v) is list else v) for k, v in self.__dict__.items() if v is not None}

    def derived(self) -> dict[str, Any]:
        return derive(self)

    def values(self) -> dict[str, Any]:
        """What conditions see: given scalar fields plus derived values (lists are reached through derived values)."""
        vals = {k: v for k, v in self.given().items() if FIELDS[k].kind != "list"}
        vals.update(self.derived())
        return vals


def derive(r: Reading) -> dict[str, Any]:
    d: dict[str, Any] = {}
    cells = r.cells
    if cells:
        lo, hi = min(cells), max(cells)
        d.update(
            cell_count=len(cells), cell_min=lo, cell_max=hi, cell_mean=round(sum(cells) / len(cells), 4),
            cell_delta=round(hi - lo, 4), cell_min_index=cells.index(lo) + 1, cell_max_index=cells.index(hi) + 1,
            cells_sum=round(sum(cells), 3), dead_cells=sum(1 for c in cells if c < 0.5),
        )
        if r.pack_voltage is not None:
            d["pack_cells_gap"] = round(abs(r.pack_voltage - d["cells_sum"]), 3)
    elif r.pack_voltage is not None and r.series:
        d["cell_mean"] = round(r.pack_voltage / r.series, 4)
    if r.current is not None:
        d["discharge_current"] = round(max(0.0, -r.current), 3)
        d["charge_current"] = round(max(0.0, r.current), 3)
    temps = list(r.temperatures or []) + ([r.mos_temp] if r.mos_temp is not None else [])
    if temps:
        d["temp_max"], d["temp_min"] = max(temps), min(temps)
    if r.regen_limit is not None:
        d["max_regen"] = r.regen_limit
    elif r.state == "riding" and r.current is not None:
        d["max_regen"] = d["charge_current"]
    return d


def _loose(name: str, v: Any) -> Any:
    """Accept the spellings riders use: 'on'/'off', '4.15 V', '4150' mV for cells, 'LLT' for jbd."""
    kind = FIELDS[name].kind
    if kind == "bool":
        if isinstance(v, str):
            w = v.strip().lower()
            if w in BOOL_WORDS:
                return BOOL_WORDS[w]
            raise ValueError(f"'{name}': '{v}' is not on/off, true/false or yes/no")
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v in (0, 1):
            return bool(v)
        return v
    if name == "bms" and isinstance(v, str):
        fam = FAMILY_ALIASES.get(v.strip().lower()) or _first_word_match(v, FAMILY_WORDS)
        if fam is None:
            raise ValueError(f"unknown BMS family '{v}' (known: jk, ant, jbd/llt/overkill, daly, charge-only)")
        return fam
    if name == "chemistry" and isinstance(v, str):
        chem = CHEMISTRY_ALIASES.get(v.strip().lower()) or _first_word_match(v, CHEMISTRY_WORDS)
        if chem is None:
            raise ValueError(f"unknown chemistry '{v}' (known: li-ion, lifepo4, lto)")
        return chem
    if kind == "enum" and isinstance(v, str):
        w = v.strip().lower()
        words = ENUM_WORDS.get(name)
        if words and w not in FIELDS[name].values:
            # model names and rider words: "Spintend Ubox 85250" is a spintend, "parked" is idle
            return _first_word_match(w, words) or ("other" if name == "controller" else w)
        return w
    if kind in ("number", "int") and isinstance(v, str):
        return _number_text(name, v)
    if kind in ("number", "int") and isinstance(v, bool):
        raise ValueError(f"'{name}': expected a number, not true/false")
    if kind == "list":
        if isinstance(v, str):
            v = [x for x in re.split(r"[\s,;]+", v.strip().rstrip(".")) if x]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = [v]  # one probe: `temperature: 21`
        if not isinstance(v, (list, tuple)):
            raise ValueError(f"'{name}' must be a list")
        items = [_number_text(name, x) if isinstance(x, str) else x for x in v]
        classes = {x.__class__ for x in items}
        if bool in classes:
            raise ValueError(f"'{name}': expected numbers, not true/false")
        if name == "cells" and items and classes <= _PLAIN and max(items) > 100 \
                and all(100 < abs(x) < 10000 or x == 0 for x in items):
            items = [round(x / 1000.0, 4) for x in items]  # millivolts
        return items
    return v


_NUM = re.compile(r"^\s*([-+]?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?)\s*(mv|v|ma|a|°c|c|%|s)?\s*$", re.IGNORECASE)


_DIRECTION = re.compile(r"^\s*([-+]?\d+(?:[.,]\d+)?)\s*(ma|a)?\s*\(?\s*(discharg\w*|out|draw\w*|load|charg\w*|in|regen\w*)\s*\)?\s*$",
                        re.IGNORECASE)


def _number_text(name: str, s: str) -> float:
    if name == "current":  # "25 A discharging", "12A regen": the word gives the sign (positive = into the pack)
        d = _DIRECTION.match(s)
        if d:
            x = abs(float(d.group(1).replace(",", "."))) / (1000.0 if (d.group(2) or "").lower() == "ma" else 1.0)
            return -x if d.group(3).lower().startswith(("dis", "out", "draw", "load")) else x
    m = _NUM.match(s)
    if not m:
        m = _one_in_unit(name, s)  # "84.0V 5A" for a charger's voltage: the number in the field's own unit
    if not m:
        raise ValueError(f"'{name}': '{s}' is not a number")
    x = float(m.group(1).replace(",", "."))
    unit = (m.group(2) or "").lower()
    if unit in ("mv", "ma"):
        x /= 1000.0
    return x


_QUANTITY = re.compile(r"(?<![\w.])([-+]?\d+(?:[.,]\d+)?)\s?(mv|v|ma|a|°c|c|%|s)(?![\w])", re.IGNORECASE)
_UNIT_WORDS = {"V": ("v", "mv"), "A": ("a", "ma"), "°C": ("°c", "c"), "%": ("%",), "s": ("s",)}


def _one_in_unit(name: str, s: str) -> re.Match | None:
    """The only number in `s` written in the field's unit ("84.0V 5A" -> 84.0 for a voltage), else None."""
    if len(s) > 80:
        return None
    units = _UNIT_WORDS.get(FIELDS[name].unit or "", ())
    hits = [m for m in _QUANTITY.finditer(s) if m.group(2).lower() in units]
    return hits[0] if len(hits) == 1 else None


def _suggest(name: str) -> str:
    import difflib

    known = [n for n, f in FIELDS.items() if not f.derived] + list(FIELD_ALIASES)
    close = difflib.get_close_matches(_key(name), known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def one_line(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:3]:
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    more = len(e.errors()) - 3
    return "invalid reading: " + "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
