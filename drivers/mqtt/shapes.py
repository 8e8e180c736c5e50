"""Payloads of the telemetry shapes people already publish -> reading fields (the reading's names, units and
current sign: + = charging).

    bmsdoc         `bmsdoc/{pack}/reading`: one JSON object, a reading as `bmsdoc check` reads it, or the envelope
                   `bmsdoc watch --mqtt` sends: {"seq": 12, "t": 1.2, "time": 1764590000.1, "reading": {...}}
    batmon         batmon-ha: one plain value per topic, `{alias}/soc/total_voltage`, `{alias}/cell_voltages/3`, ...
    esphome        ESPHome MQTT state topics `{node}/{domain}/{object_id}/state`, the entity names of
                   esphome-jk-bms / -jbd-bms / -ant-bms (the same table as the ESPHome paste parser: entities.py)
    serialbattery  dbus-serialbattery's generic MQTT JSON: voltage, current, soc, cells, temperature_1.., *_fet

Every problem is a Malformed with a one-line reason; the service counts it and logs it once per topic.
"""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

from engine.reading import MAX_LIST

SHAPES = ("bmsdoc", "batmon", "esphome", "serialbattery")
CURRENT_SIGNS = ("charge", "discharge")  # which direction a positive current means in the source
MAX_PAYLOAD = 256 * 1024
MAX_AHEAD = 3600.0  # how far a reading's `time` may be ahead of this clock (seconds)


class Malformed(ValueError):
    """A payload that is not what its topic promises."""


def _reject_constant(name: str) -> Any:
    raise Malformed(f"{name} is not a number")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # made once: json.loads builds one per call with it


def json_object(payload: bytes, what: str = "a JSON object") -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD:
        raise Malformed(f"payload of {len(payload)} bytes is too large")
    try:
        data = _DECODER.decode(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise Malformed("payload is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise Malformed(f"not JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except RecursionError:
        raise Malformed("JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise Malformed(f"expected {what}, got {type(data).__name__}")
    return data


def text(payload: bytes) -> str:
    if len(payload) > 4096:
        raise Malformed(f"payload of {len(payload)} bytes is too large for one value")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise Malformed("payload is not UTF-8 text") from None


def number(payload: bytes) -> float:
    return _finite(text(payload))


def _finite(s: str) -> float:
    try:
        x = float(s)
    except ValueError:
        raise Malformed(f"'{s[:40]}' is not a number") from None
    if not math.isfinite(x):
        raise Malformed(f"'{s[:40]}' is not a finite number")
    return x


_ON = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}


def switch(payload: bytes) -> bool:
    s = text(payload).lower()
    if s not in _ON:
        raise Malformed(f"'{s[:40]}' is not ON/OFF")
    return _ON[s]


# ------------------------------------------------------------------------------------------------ bmsdoc


def bmsdoc_reading(payload: bytes) -> tuple[dict[str, Any], int | None, float | None]:
    """(reading fields, seq, time) of a `bmsdoc/{pack}/reading` message."""
    data = json_object(payload, "a reading (a JSON object of fields)")
    if isinstance(data.get("reading"), dict):
        seq, when = data.get("seq"), data.get("time")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
            raise Malformed("'seq' must be an integer")
        if when is not None and (isinstance(when, bool) or not isinstance(when, (int, float))):
            raise Malformed("'time' must be a number (seconds since 1970)")
        if when is not None and not when <= time.time() + MAX_AHEAD:  # also inf (1e400) and nan
            # readings are ordered by it: one from the far future would have every later one dropped as older
            raise Malformed(f"'time' is {(when - time.time()) / 3600:.1f} h ahead of this machine's clock "
                            f"(is the sender's clock right?)")
        return dict(data["reading"]), seq, (float(when) if when is not None else None)
    return data, None, None


def settings(payload: bytes) -> dict[str, Any]:
    """A retained `bmsdoc/{pack}/settings` message: reading fields (series, regen_limit, cell_ovp, ...) and the
    fleet keys current_sign; an empty payload clears the pack's retained settings."""
    if not payload.strip():
        return {}
    return json_object(payload, "settings (a JSON object of fields)")


# ------------------------------------------------------------------------------------------------ batmon-ha

_BATMON_SOC = {"total_voltage": "pack_voltage", "current": "current", "soc_percent": "soc"}
_BATMON_SWITCH = {"charge": "charge_fet", "discharge": "discharge_fet"}


def batmon(parts: list[str], payload: bytes) -> tuple[str, Any] | None:
    """One batmon-ha topic below the alias -> (slot, value): slot is a field name, "cell:i", "temp:i" or
    "raw_current" (the sign is applied by the pack, from its setting). None: a topic the checks do not use."""
    if len(parts) != 2:
        return None
    group, key = parts
    if group == "soc" and key in _BATMON_SOC:
        field = _BATMON_SOC[key]
        return ("raw_current" if field == "current" else field), number(payload)
    if group in ("cell_voltages", "temperatures") and key.isascii() and key.isdigit():
        # bounded: the pack lists every cell up to the highest one it has seen (cell 10**11 hung the worker)
        if len(key) > 4 or int(key) > MAX_LIST:
            raise Malformed(f"{group}/{key[:20]}: no pack has more than {MAX_LIST}")
        return ("cell:" if group == "cell_voltages" else "temp:") + str(int(key)), number(payload)
    if group == "switch" and key in _BATMON_SWITCH:
        return _BATMON_SWITCH[key], switch(payload)
    return None


def batmon_single(key: str, payload: bytes) -> tuple[str, Any] | None:
    """`{alias}/problem_code`: a non-zero code is the BMS's alarm."""
    if key == "problem_code":
        code = number(payload)
        return "fault", (f"bms alarm code {int(code)}" if code else None)
    return None


# ------------------------------------------------------------------------------------------------ ESPHome

ESPHOME_DOMAINS = ("sensor", "binary_sensor", "switch", "number", "text_sensor")
_FAMILY = re.compile(r"\b(jk|jbd|ant|daly)[-_ ]?bms\b")


_NO_VALUE = frozenset({"nan", "-nan", "unknown", "unavailable", "none", ""})


def esphome_state(domain: str, payload: bytes) -> str | None:
    """One ESPHome state as text to keep; None when the entity has no value now ('nan' at boot, 'unavailable');
    Malformed when a sensor's state is not a number or a switch's not ON/OFF (garbage is counted, not kept)."""
    s = text(payload)
    if s.lower() in _NO_VALUE:
        return None
    if domain in ("sensor", "number"):
        _finite(s)
    elif domain in ("binary_sensor", "switch") and s.lower() not in _ON:
        raise Malformed(f"'{s[:40]}' is not ON or OFF")
    return s


def esphome_fields(states: dict[tuple[str, str], str]) -> tuple[dict[str, Any], list[str]]:
    """The latest state of every entity of one ESPHome node -> (reading fields, notes), through the same entity
    table and finishing steps as the ESPHome paste parser."""
    from drivers.paste.entitymap import collect
    from drivers.paste.parsed import Parsed, finish

    p = Parsed(format="esphome-mqtt")
    pairs = []
    for (domain, obj), value in states.items():
        name = obj.replace("_", " ")
        if domain == "switch" and name.rstrip().endswith("balancer"):
            continue  # the balancer *enable* switch, not "balancing now"
        pairs.append((name, value))
    collect(pairs, p)
    finish(p)
    fam = _FAMILY.search(" ".join(n.lower() for n, _v in pairs))
    if fam and "bms" not in p.fields:
        p.fields["bms"] = fam.group(1)
    return p.fields, p.notes + p.ambiguities


# ------------------------------------------------------------------------------------------------ serialbattery

_SB_SCALARS = {"voltage": "pack_voltage", "current": "current", "soc": "soc", "temperature_mos": "mos_temp",
               "charge_fet": "charge_fet", "discharge_fet": "discharge_fet", "balancing": "balancing"}


def serialbattery(payload: bytes) -> dict[str, Any]:
    """dbus-serialbattery's generic MQTT JSON (Victron convention: current + = charging)."""
    data = json_object(payload, "a dbus-serialbattery JSON object")
    out: dict[str, Any] = {}
    for key, field in _SB_SCALARS.items():
        v = data.get(key)
        if v is None:
            continue
        if field in ("charge_fet", "discharge_fet", "balancing"):
            if isinstance(v, bool) or v in (0, 1):
                out[field] = bool(v)
            else:
                raise Malformed(f"'{key}' must be true/false or 0/1")
        else:
            out[field] = _num(key, v)
    cells = data.get("cells")
    if cells is not None:
        if isinstance(cells, dict):
            try:
                cells = [cells[k] for k in sorted(cells, key=lambda k: int(k))]
            except (TypeError, ValueError):
                raise Malformed("'cells' keys must be cell numbers") from None
        if not isinstance(cells, list):
            raise Malformed("'cells' must be a list of voltages")
        volts = [_num("cells", c.get("voltage") if isinstance(c, dict) else c) for c in cells]
        if volts:
            out["cells"] = volts
    temps = [(int(m.group(1)), v) for k, v in data.items()
             if (m := re.fullmatch(r"temperature_(\d)", k)) and v is not None]
    if temps:
        out["temperatures"] = [_num("temperature", v) for _i, v in sorted(temps)]
    return out


def _num(key: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise Malformed(f"'{key}' must be a number, got {json.dumps(v)[:40]}")
    return float(v)
