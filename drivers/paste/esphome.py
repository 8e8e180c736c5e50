"""ESPHome BMS component logs (esphome-jk-bms, -jbd-bms, -ant-bms, -daly-bms and ESPHome's own daly_bms).

`[12:34:56][D][sensor:094]: 'jk-bms cell voltage 1': Sending state 3.33400 V with 3 decimals of accuracy`, with or
without timestamps and levels, `Received new state 3.28`, ANSI colours, settings (`[number:012]`) and switches.
The components report current positive = charging, the reading's convention.
"""

from __future__ import annotations

import re

from drivers.paste.entitymap import collect
from drivers.paste.parsed import Parsed
from drivers.paste.text import clean_text

NAME = "esphome-log"
LINE = re.compile(
    r"\[(?P<domain>[a-z_]+)(?::\d+)?\]:\s*['\"](?P<name>[^'\"]+)['\"](?:\s*>>)?\s*:?\s*"
    r"(?:Sending state|Received new state|Got state|New state)\s*(?P<value>.*)$")
_ACCURACY = re.compile(r"\s+with \d+ decimals? of accuracy\s*$")
_COMPONENT = re.compile(r"\[(jk_bms\w*|jbd_bms\w*|ant_bms\w*|daly_bms\w*|daly\w*)(?::\d+)?\]")
_FAMILY_OF = {"jk": "jk", "jbd": "jbd", "ant": "ant", "daly": "daly"}


def detect(text: str) -> float:
    lines = [ln for ln in clean_text(text).split("\n") if ln.strip()]
    hits = sum(1 for ln in lines if LINE.search(ln))
    if not hits:
        return 0.0
    return 0.97 if hits >= 3 or hits * 2 >= len(lines) else 0.6


def parse(text: str) -> Parsed:
    p = Parsed(format=NAME)
    pairs: list[tuple[str, str]] = []
    for ln in clean_text(text).split("\n"):
        m = LINE.search(ln)
        if not m:
            continue
        name, value = m.group("name"), _ACCURACY.sub("", m.group("value")).strip()
        if m.group("domain") == "switch" and name.lower().rstrip().endswith("balancer"):
            # the balancer *enable* switch, not "balancing now"
            p.note(f"balancer enable switch is {value}")
            continue
        pairs.append((name, value))
    p.note(f"{len(pairs)} ESPHome entity states read")
    collect(pairs, p)
    comp = _COMPONENT.search(clean_text(text))
    family = None
    if comp:
        family = _FAMILY_OF.get(comp.group(1).split("_")[0])
        if family:
            p.note(f"BMS family {family} from the ESPHome component name {comp.group(1)}")
    else:
        prefix_words = re.findall(r"\b(jk|jbd|ant|daly)[-_ ]?bms\b", " ".join(n.lower() for n, _ in pairs))
        if prefix_words:
            family = _FAMILY_OF[prefix_words[0]]
            p.note(f"BMS family {family} from the entity names")
    if family:
        p.fields["bms"] = family
    _errors_bitmask(pairs, family, p)
    _alarm_words(p)
    temps = p.fields.get("temperatures")
    if family == "ant" and temps and any(t <= -40 for t in temps):
        p.note(f"{sum(1 for t in temps if t <= -40)} ANT temperature sensor(s) read -40 °C, the value of an open "
               f"(unconnected) probe: left out")
        kept = [t for t in temps if t > -40]
        if kept:
            p.fields["temperatures"] = kept
        else:
            p.fields.pop("temperatures")
    if "current" in p.fields:
        p.note("current as the component reports it: positive = charging")
    return p


def _errors_bitmask(pairs: list[tuple[str, str]], family: str | None, p: Parsed) -> None:
    """`jbd-bms errors bitmask: 4096` -> the protection fields (JBD's word is the BMS's own protection status).
    JK's numeric bitmask changed byte order in esphome-jk-bms (May 2026), so it is shown, not decoded."""
    from drivers.protection import describe, protection_fields

    def code_of(suffix: str) -> int | None:
        v = next((v for n, v in reversed(pairs) if n.strip().lower().endswith(suffix)), None)
        m = re.match(r"\s*(\d+)(?:\.0+)?\b", v) if v is not None else None
        return int(m.group(1)) if m else None

    if family == "ant":
        from drivers.protection import decode_status

        chg, dsg = code_of("charge mosfet status code"), code_of("discharge mosfet status code")
        if chg is not None and dsg is not None:
            p.fields.update(decode_status("ant", chg, dsg).fields())
            if words := describe(p.fields):
                p.note(f"ANT MOSFET status codes {chg}/{dsg}: {words}")
        return
    raw = next((v for n, v in reversed(pairs) if n.strip().lower().endswith("errors bitmask")), None)
    if raw is None:
        return
    m = re.match(r"\s*(\d+(?:\.0+)?)\b", raw)
    if not m:
        return
    code = int(float(m.group(1)))
    if family == "jbd":
        p.fields.update(protection_fields("jbd", code))
        if words := describe(p.fields):
            p.note(f"JBD errors bitmask {code}: {words}")
    elif code:
        p.note(f"errors bitmask {code} (0x{code:X}) reported; its bit order depends on the component version, "
               f"so it was not decoded: the 'errors' text says what it means")


def _alarm_words(p: Parsed) -> None:
    """The `errors` text (`'Cell Undervoltage;Discharge overcurrent'`) -> protection fields, unless a code said more."""
    from drivers.protection import fields_from_words

    if "alarm_code" in p.fields or not p.fields.get("fault"):
        return
    got = fields_from_words(str(p.fields["fault"]))
    if got:
        p.fields.update(got)
        named = sorted(k.removeprefix("prot_") for k in got if k.startswith("prot_"))
        p.note(f"BMS alarm in words: '{got['alarm_text']}'" + (f" ({', '.join(named)})" if named else ""))
