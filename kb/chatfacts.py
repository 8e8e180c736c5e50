"""The facts the chat reads from prose beyond the reading fields, and the vocabulary answer-card conditions use.

Kept apart from kb/answers.py (the pydantic models) so the chat can parse card conditions without importing them.
"""

from __future__ import annotations

from kb.fields import FIELDS, FieldSpec

_F = FieldSpec
# facts the chat reads from prose beyond the reading fields (kb/fields.py)
CHAT_FACTS: dict[str, FieldSpec] = {f.name: f for f in [
    _F("cell_voltage", "number", "V", "a cell voltage the rider quoted", group="chat"),
    _F("continuous", "number", "A", "continuous current the pack must deliver", group="chat"),
    _F("peak", "number", "A", "peak current", group="chat"),
    _F("parallel", "int", doc="cells in parallel", group="chat"),
    _F("phase_current", "number", "A", "motor phase current", group="chat"),
    _F("charge_current", "number", "A", "charger current", group="chat"),
    _F("space", "enum", doc="room in the deck", group="chat", values=("none", "cramped", "normal", "roomy")),
    _F("budget", "enum", doc="budget", group="chat", values=("low", "normal", "high")),
    _F("uptime", "enum", doc="uptime", group="chat", values=("critical", "normal")),
    _F("integration", "enum", doc="integration", group="chat", values=("none", "vesc-can")),
    _F("full_protection", "bool", doc="full protection required", group="chat"),
    _F("board_rating", "number", "A", "a current rating written right after a family name ('a daly 60a')", group="chat"),
    _F("damage_after_miswire", "bool", doc="the rider reports damage after reversed or miswired sense leads", group="chat"),
    _F("family_count", "int", doc="how many families the rider named", group="chat"),
    _F("other_family", "enum", doc="the family compared with a Daly", group="chat", values=("jk", "ant", "jbd")),
    _F("series_over_board", "bool", doc="the pack has more series than the board", group="chat"),
    _F("charger_series", "int", doc="the series count a charger is built for", group="chat"),
    _F("pack_label_voltage", "number", "V", "the voltage a pack is named by ('my 84v pack'): full-charge or nominal", group="chat"),
    _F("board_from_series", "int", doc="the series of the board being replaced ('from a 10s board to a 14s one')", group="chat"),
    _F("pack_at_415", "number", "V", "the series count times the 4.15 V longevity ceiling", group="chat"),
    _F("pack_at_29", "number", "V", "the series count times the 2.9 V per cell an ANT commuter stops at", group="chat"),
    _F("pack_at_418", "number", "V", "the series count times the 4.18 V per cell a Daly needs to balance", group="chat"),
    _F("cells_shown", "int", doc="how many cells the app shows", group="chat"),
    _F("charger_cell", "number", "V", "charger voltage per cell in series", group="chat"),
    _F("partial_charge", "bool", doc="the rider never charges to full (a percentage or a lower ceiling)", group="chat"),
]}


def vocabulary() -> dict[str, FieldSpec]:
    v = dict(FIELDS)
    v.update(CHAT_FACTS)
    return v
