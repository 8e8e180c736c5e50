"""Pasted text -> reading fields: detect the shape, parse it with that shape's module, say what was understood.

    parsed = parse_text(text)            # Parsed: .fields, .format, .notes, .ambiguities
    reading, parsed = parse_to_reading(text)

Shapes (one module each): JSON/YAML, key: value lines, cell lists (numbered, bare, inline, tap voltages),
ESPHome BMS logs, jbdtool output, batmon-ha lines, Home Assistant device pages, the VESC terminal `faults`
block, BLE advertisements (identified by aiobmsble) and BLE notification frames in every hex layout (decoded by
aiobmsble's own BMS classes; Parsed.format names the protocol generation, e.g. "ble-frames: JK02_32S (...)").
The BMS's alarm state becomes the reading's protection fields (drivers/protection.py). Every parser converts
to the reading's units and conventions (V, A with positive = charging, °C, booleans) and says so in notes;
what it cannot be sure of goes to ambiguities instead of being guessed silently.
"""

from __future__ import annotations

from types import ModuleType

from drivers.paste import advert, batmon, cells, esphome, frames, homeassistant, jbdtool, keyvalue, structured, vesc
from drivers.paste.parsed import Parsed, finish
from engine.reading import Reading
from kb.errors import UserError

__all__ = ["Parsed", "SHAPES", "TOOL_SHAPES", "claims", "detect", "parse_text", "parse_to_reading"]

# most specific first: on a tie the earlier shape wins
SHAPES: tuple[ModuleType, ...] = (frames, advert, esphome, vesc, batmon, jbdtool, structured, homeassistant, keyvalue,
                                  cells)
MAX_CHARS = 2_000_000
# outputs of tools whose conventions only their parser knows (VESC's and batmon-ha's current sign, ...)
TOOL_SHAPES = frozenset({frames.NAME, advert.NAME, esphome.NAME, vesc.NAME, batmon.NAME, jbdtool.NAME, homeassistant.NAME})


def detect(text: str) -> list[tuple[float, str]]:
    """(confidence, shape name) for every shape that recognises the text, best first."""
    scored = [(m.detect(text), i, m) for i, m in enumerate(SHAPES)]
    return [(c, m.NAME) for c, _i, m in sorted(scored, key=lambda x: (-x[0], x[1])) if c > 0]


def claims(text: str, mapping: dict | None = None) -> bool:
    """Whether text that YAML also reads as `mapping` should go through these parsers instead: a tool's output
    (`Fault : FAULT_CODE_...`, `Current : 85.2` is a VESC block whose current sign must be flipped), or names the
    paste parsers understand but that are no reading fields (`Cell 1: 3.28`, `cell count: 13`, `delta: 0.02`)."""
    from drivers.paste.entities import lookup
    from engine.reading import canonical_field

    found = detect(text)
    if found and found[0][1] in TOOL_SHAPES and found[0][0] >= 0.5:
        return True
    for key in mapping or {}:
        if isinstance(key, str) and canonical_field(key) is None and lookup(key) is not None:
            return True
    return False


def parse_text(text: str) -> Parsed:
    """Parse pasted text; raises UserError (one line) when nothing in it can be understood."""
    if not isinstance(text, str):
        raise UserError("a paste is text")
    if len(text) > MAX_CHARS:
        raise UserError(f"the paste is too long ({len(text):,} characters; at most {MAX_CHARS:,})")
    if not text.strip():
        raise UserError("the paste is empty")
    sure = frames.detect(text)
    if sure >= 0.98:  # whole BLE frames: no other shape reads them (and a long sniffer log is costly to test)
        scored = [(sure, 0, frames)]
    else:
        scored = sorted(((m.detect(text), i, m) for i, m in enumerate(SHAPES)), key=lambda x: (-x[0], x[1]))
    best, _i, module = scored[0]
    if best < 0.2:
        raise UserError("could not understand the paste: expected cell voltages, 'key: value' lines, JSON/YAML, "
                        "an ESPHome/jbdtool/batmon-ha/Home Assistant/VESC output or BLE frames in hex")
    parsed = module.parse(text)
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    if runner_up >= 0.5 and best - runner_up < 0.1:
        parsed.unsure(f"the paste looks like {module.NAME} and also like {scored[1][2].NAME}; "
                      f"it was read as {module.NAME}")
    finish(parsed)
    if not parsed.fields and not parsed.summary and not parsed.nothing_to_read:
        why = f" ({parsed.ambiguities[0]})" if parsed.ambiguities else ""
        raise UserError(f"read the paste as {parsed.format} but found no reading values in it{why}")
    return parsed


def parse_to_reading(text: str) -> tuple[Reading, Parsed]:
    """Parse and validate: the Reading (or a one-line UserError) and what the parser understood."""
    parsed = parse_text(text)
    return Reading.parse(parsed.fields), parsed
