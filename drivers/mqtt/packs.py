"""Per-pack live state: the latest values from whole or split topics, the settings, when to check, what is active.

A whole reading (bmsdoc, serialbattery) replaces the pack's values and is due at once; split topics (batmon-ha,
ESPHome) update one value each and the pack is due after `debounce` seconds of quiet (at most 4 x debounce after
the first unchecked message, for a source that never pauses), or at once when every value the pack has ever sent
has come again since its last check (batmon-ha sends all of them on every poll: the reading is complete). Either
way a pack is checked at most once per `min_interval`: messages arriving sooner are coalesced into the next check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drivers.mqtt.config import PackConfig, Timing, check_settings
from kb.errors import UserError

SPLIT_SHAPES = ("batmon", "esphome")


@dataclass
class PackState:
    name: str
    config: PackConfig
    retained: dict[str, Any] = field(default_factory=dict)  # from bmsdoc/{pack}/settings
    whole: dict[str, Any] | None = None  # the latest whole reading
    split: dict[str, Any] = field(default_factory=dict)  # batmon: slot -> value
    states: dict[tuple[str, str], str] = field(default_factory=dict)  # ESPHome: (domain, object_id) -> raw state
    last_seq: int | None = None
    last_time: float | None = None
    last_msg: float = 0.0  # monotonic time of the latest telemetry message
    first_pending: float | None = None
    received: float = 0.0  # wall time the latest telemetry message arrived (latency)
    seen_wall: float = 0.0  # wall time of the latest sign of life (own message or another worker's check)
    last_check: float = -1e9
    due: float | None = None
    queued: float | None = None  # the time of its earliest entry in the worker's heap of due packs
    fresh: set[Any] = field(default_factory=set)  # split: the values that came since the last check
    known: set[Any] = field(default_factory=set)  # split: every value the pack has sent
    # published state
    status: str | None = None
    active: dict[str, tuple[str, float]] = field(default_factory=dict)  # rule -> (severity, since)
    active_time: float = 0.0  # when `active` was decided (a newer state from another worker replaces it)
    findings: list[dict[str, Any]] = field(default_factory=list)
    questions: list[Any] = field(default_factory=list)
    stale: bool = False
    announced: bool = False
    published: dict[str, bytes] = field(default_factory=dict)  # topic -> payload last published (retained)
    published_from: dict[str, Any] = field(default_factory=dict)  # topic -> the object that payload was made from
    questions_from: list[Any] = field(default_factory=list)  # the report's Question objects `questions` came from
    attrs_key: str = ""
    attrs_from: tuple[Any, ...] = ((), ())  # the findings and questions lists the attributes were made from
    last_key: dict[str, Any] | None = None  # the last checked reading's fields (before validation), reading, and
    last_reading: Any = None
    last_result: tuple[list[Any], list[Any]] | None = None  # its sorted findings and questions (engine objects)
    attrs_at: float = 0.0
    checked_wall: float | None = None  # Unix time of the latest check (this worker's, or adopted from another's)
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> str:
        return self.config.shape

    @property
    def current_sign(self) -> str | None:
        sign = self.retained.get("current_sign")
        return sign if sign in ("charge", "discharge") else self.config.current_sign

    def settings(self, defaults: dict[str, Any]) -> dict[str, Any]:
        s = dict(defaults)
        s.update(self.config.settings)
        s.update({k: v for k, v in self.retained.items() if k != "current_sign"})
        return s

    def set_retained(self, data: dict[str, Any]) -> None:
        sign = data.get("current_sign")
        if sign is not None and sign not in ("charge", "discharge"):
            raise UserError("current_sign is 'charge' or 'discharge'")
        fields = check_settings("settings", {k: v for k, v in data.items() if k != "current_sign"})
        self.retained = fields | ({"current_sign": sign} if sign else {})

    def touched(self, now: float, timing: Timing, *, slot: Any = None) -> None:
        """A message came: a whole reading (slot None) or one value of a split one (its slot)."""
        self.last_msg = now
        if self.first_pending is None:
            self.first_pending = now
        if slot is None:
            ready = now
        else:
            self.fresh.add(slot)
            if self.known and self.fresh >= self.known:
                ready = now  # every value came again: the reading is complete
            else:
                ready = min(now + timing.debounce, self.first_pending + 4 * timing.debounce)
        self.due = max(ready, self.last_check + timing.min_interval)

    def checked_values(self) -> None:
        """The pack is being checked: what came since is known, and nothing is fresh any more."""
        if self.fresh:
            self.known |= self.fresh
            self.fresh = set()

    def measured(self) -> tuple[dict[str, Any], list[str]]:
        """The pack's measured fields from its latest messages (reading names and sign), plus notes."""
        if self.shape == "esphome":
            from drivers.mqtt.shapes import esphome_fields

            return esphome_fields(self.states)
        if self.shape == "batmon":
            return self._batmon()
        return dict(self.whole or {}), []

    def _batmon(self) -> tuple[dict[str, Any], list[str]]:
        out: dict[str, Any] = {}
        notes: list[str] = []
        cells: dict[int, float] = {}
        temps: dict[int, float] = {}
        for slot, v in self.split.items():
            if slot.startswith("cell:"):
                cells[int(slot[5:])] = v
            elif slot.startswith("temp:"):
                temps[int(slot[5:])] = v
            elif slot == "raw_current":
                sign = self.current_sign
                if sign is None:
                    notes.append("current left out: batmon-ha's sign depends on its invert_current option; "
                                 "give current_sign: charge|discharge for this pack")
                else:
                    out["current"] = v if sign == "charge" else -v + 0.0
            elif v is not None:
                out[slot] = v
        if cells:
            top = max(cells)
            missing = [i for i in range(1, top + 1) if i not in cells]
            if missing:
                notes.append(f"no value yet for cell {', '.join(map(str, missing))}")
            out["cells"] = [cells[i] for i in sorted(cells)]
        if temps:
            out["temperatures"] = [temps[i] for i in sorted(temps)]
        return out, notes
