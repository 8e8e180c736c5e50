"""Collecting (entity name, value text) pairs into reading fields: shared by the ESPHome log and the Home
Assistant device-page parsers, which differ only in how they find the pairs."""

from __future__ import annotations

from collections.abc import Iterable

from drivers.paste.entities import Target, common_prefix, lookup
from drivers.paste.parsed import Parsed, cells_from_indexed
from drivers.paste.text import field_value, number_unit

_NO_FAULT = {"", "none", "ok", "no error", "no errors", "normal", "0"}


def collect(pairs: Iterable[tuple[str, str]], p: Parsed, skip: set[str] = frozenset()) -> None:
    """Apply pairs in order (a later value of the same entity wins) to p.fields / p.summary."""
    pairs = list(pairs)
    prefix = common_prefix([n for n, _v in pairs])
    if prefix.strip():
        p.note(f"entity prefix '{prefix.strip()}' recognised")
    cells: dict[int, float] = {}
    temps: dict[int, float] = {}
    unused: list[str] = []
    for name, raw in pairs:
        t = lookup(name, prefix)
        bare = name.strip().lower()[len(prefix):] if name.strip().lower().startswith(prefix) else name.lower()
        if t is None or bare.strip() in skip:
            unused.append(bare.strip())
            continue
        _apply(t, raw, p, cells, temps)
    if cells:
        p.fields["cells"] = cells_from_indexed(cells, p)
    if temps:
        live = {i: v for i, v in temps.items() if v != 0}
        if live and len(live) < len(temps):
            zero = sorted(set(temps) - set(live))
            p.note(f"temperature sensor {', '.join(map(str, zero))} read exactly 0 °C beside live probes and were "
                   f"left out as absent")
            temps = live
        p.fields["temperatures"] = [temps[i] for i in sorted(temps)]
    if unused:
        uniq = list(dict.fromkeys(unused))
        shown = ", ".join(uniq[:6]) + (f" and {len(uniq) - 6} more" if len(uniq) > 6 else "")
        p.note(f"{len(uniq)} entities not used by the checks ({shown})")


def _apply(t: Target, raw: str, p: Parsed, cells: dict[int, float], temps: dict[int, float]) -> None:
    if t.kind in ("cell", "temp", "summary", "signed_current"):
        nu = number_unit(raw)
        if nu is None:
            p.unsure(f"'{raw}' is not a number; left out")
            return
        x = round(nu[0] / 1000.0 if nu[1] in ("mv", "ma") else nu[0], 4)  # ESPHome's float32 noise: 25.000002
        if t.kind == "cell":
            cells[t.index] = x
        elif t.kind == "temp":
            temps[t.index] = x
        elif t.kind == "summary":
            p.summary[t.name] = x
        else:
            p.fields["current"] = abs(x) if t.name == "+" else -abs(x)
        return
    if t.name == "fault":
        text = raw.strip().strip("'\"").strip()
        if text.lower() in _NO_FAULT:
            p.fields.pop("fault", None)
        else:
            p.fields["fault"] = text
        return
    value, problem = field_value(t.name, raw)
    if isinstance(value, float):
        value = round(value, 4)
    if problem:
        p.unsure(problem + "; left out")
    elif value is not None:
        p.fields[t.name] = value
