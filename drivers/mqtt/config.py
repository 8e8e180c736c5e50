"""The fleet YAML: which packs, in which shape, with which settings, and the timings.

    timing:                 # all optional (seconds)
      debounce: 0.25        # quiet time after the last split-topic message before the pack is checked
      min_interval: 1.0     # at most one check per pack per this many seconds (later messages are coalesced)
      stale_after: 120      # a pack silent this long is published as `stale`
    defaults:               # settings for every pack (any reading field)
      chemistry: li-ion
    packs:
      scooter-7:            # bmsdoc/scooter-7/reading needs no entry; an entry adds its settings
        series: 13
        regen_limit: 30
      rental-12:
        shape: batmon       # bmsdoc | batmon | esphome | serialbattery
        topic: jk_bms_12    # the batmon-ha alias / ESPHome node / serialbattery topic (default: the pack name)
        current_sign: discharge   # batmon-ha reports + = discharging unless invert_current is set
        bms: jk
        series: 16

Every other key of a pack is a reading field (series, chemistry, controller, regen_limit, cell_ovp, ...), checked
like `bmsdoc check` checks them. Retained `bmsdoc/{pack}/settings` JSON messages add to and override these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.mqtt.shapes import CURRENT_SIGNS, SHAPES
from kb.errors import UserError

PACK_KEYS = ("shape", "topic", "current_sign", "settings")


@dataclass(frozen=True)
class Timing:
    debounce: float = 0.25
    min_interval: float = 1.0
    stale_after: float = 120.0


@dataclass(frozen=True)
class PackConfig:
    name: str
    shape: str = "bmsdoc"
    topic: str = ""  # alias / node / topic; "" = the name
    current_sign: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.topic or self.name


@dataclass(frozen=True)
class FleetConfig:
    timing: Timing = Timing()
    defaults: dict[str, Any] = field(default_factory=dict)
    packs: dict[str, PackConfig] = field(default_factory=dict)


def valid_pack_name(name: str) -> bool:
    return bool(name) and len(name) <= 128 and not any(c in name for c in "/+#\x00") and name.strip() == name


def check_settings(where: str, values: dict[str, Any]) -> dict[str, Any]:
    from drivers.ble import canonical_context

    try:
        return canonical_context(values)
    except UserError as e:
        raise UserError(f"{where}: {e}") from None


def load(path: str | Path | None) -> FleetConfig:
    if path is None:
        return FleetConfig()
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot read {p}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UserError(f"{p}: not UTF-8 text") from None
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except (YAMLError, ValueError) as e:
        mark = getattr(e, "problem_mark", None)
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise UserError(f"{p}{at}: not valid YAML ({getattr(e, 'problem', None) or str(e).splitlines()[0]})") \
            from None
    return parse(data or {}, str(p), text)


def _locator(where: str, text: str | None):
    """at(*keys) -> "FILE:LINE:COL" of the deepest of those mapping keys found in the YAML text (else FILE). For
    errors only: the text is composed again on the first call (a large fleet file is not parsed twice to load)."""

    def at(*keys: Any) -> str:
        if text is None:
            return where
        from ruamel.yaml import YAML
        from ruamel.yaml.nodes import MappingNode

        n, mark = YAML(typ="safe", pure=True).compose(text), None
        for key in keys:
            if not isinstance(n, MappingNode):
                break
            for k, v in n.value:
                if str(k.value) == str(key):
                    n, mark = v, k.start_mark
                    break
            else:
                break
        return f"{where}:{mark.line + 1}:{mark.column + 1}" if mark is not None else where

    return at


def _seconds(where: str, v: Any, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise UserError(f"{where}: expected seconds between {lo:g} and {hi:g}, got {v!r}")
    return float(v)


def parse(data: Any, where: str = "fleet config", text: str | None = None) -> FleetConfig:
    """The fleet config from loaded YAML; `text`, the YAML it came from, puts the line and column in errors."""
    at = _locator(where, text)
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping with timing:, defaults: and packs:")
    unknown = sorted(map(str, set(data) - {"timing", "defaults", "packs"}))
    if unknown:
        raise UserError(f"{at(unknown[0])}: unknown key '{unknown[0]}' (known: timing, defaults, packs)")
    t = data.get("timing") or {}
    if not isinstance(t, dict):
        raise UserError(f"{at('timing')}: timing: must be a mapping")
    bad = sorted(map(str, set(t) - {"debounce", "min_interval", "stale_after"}))
    if bad:
        raise UserError(f"{at('timing', bad[0])}: timing: unknown key '{bad[0]}' "
                        f"(known: debounce, min_interval, stale_after)")
    d = Timing()
    limits = {"debounce": (d.debounce, 0, 60), "min_interval": (d.min_interval, 0, 3600),
              "stale_after": (d.stale_after, 1, 86400 * 30)}
    seconds = {}
    for key, (default, lo, hi) in limits.items():
        try:
            seconds[key] = _seconds(f"timing.{key}", t.get(key, default), lo, hi)
        except UserError as e:
            raise UserError(f"{at('timing', key)}: {e}") from None
    timing = Timing(**seconds)
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise UserError(f"{at('defaults')}: defaults: must be a mapping of reading fields")
    try:
        defaults = check_settings("defaults", dict(defaults))
    except UserError as e:
        raise UserError(f"{at('defaults')}: {e}") from None
    packs_in = data.get("packs") or {}
    if not isinstance(packs_in, dict):
        raise UserError(f"{at('packs')}: packs: must be a mapping of pack name -> settings")
    packs: dict[str, PackConfig] = {}
    seen_sources: dict[tuple[str, str], str] = {}
    for name, body in packs_in.items():
        name = str(name)
        try:
            pc = _pack(name, body)
            key = (pc.shape, pc.source)
            if pc.shape != "bmsdoc" and key in seen_sources:
                raise UserError(f"packs '{seen_sources[key]}' and '{name}' read the same {pc.shape} topic "
                                f"'{pc.source}'")
        except UserError as e:
            raise UserError(f"{at('packs', name)}: {e}") from None
        seen_sources[key] = name
        packs[name] = pc
    return FleetConfig(timing, defaults, packs)


def _pack(name: str, body: Any) -> PackConfig:
    if not valid_pack_name(name):
        raise UserError(f"pack name '{name}' cannot be an MQTT topic level (no / + # or spaces around)")
    body = body or {}
    if not isinstance(body, dict):
        raise UserError(f"pack '{name}': expected a mapping of settings")
    shape = str(body.get("shape", "bmsdoc"))
    if shape not in SHAPES:
        raise UserError(f"pack '{name}': unknown shape '{shape}' (known: {', '.join(SHAPES)})")
    sign = body.get("current_sign")
    if sign is not None and sign not in CURRENT_SIGNS:
        raise UserError(f"pack '{name}': current_sign is 'charge' (+ = charging) or 'discharge' "
                        f"(+ = discharging), not {sign!r}")
    topic = str(body.get("topic") or "")
    if topic and (shape != "serialbattery" and not valid_pack_name(topic) or any(c in topic for c in "+#")):
        raise UserError(f"pack '{name}': topic '{topic}' cannot hold + or #"
                        + ("" if shape == "serialbattery" else " or /"))
    if shape == "serialbattery" and not topic:
        raise UserError(f"pack '{name}': a serialbattery pack needs its topic: (the MQTT topic "
                        f"dbus-serialbattery publishes its JSON on)")
    extra = body.get("settings") or {}
    if not isinstance(extra, dict):
        raise UserError(f"pack '{name}': settings: must be a mapping")
    fields = {k: v for k, v in body.items() if k not in PACK_KEYS}
    fields.update(extra)
    settings = check_settings(f"pack '{name}'", fields)
    return PackConfig(name, shape, topic, sign, settings)
