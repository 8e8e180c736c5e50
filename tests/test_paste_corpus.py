"""The paste corpus (tests/data/paste/corpus, built by its build.py from public captures and logs; sources and
licences in tests/data/paste/SOURCES.md): every item gives exactly the values its manifest states, or is refused
with exactly its reason. The manifest's values were checked against the sources' own stated values when built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.paste import parse_text, parse_to_reading
from kb.errors import UserError

CORPUS = Path(__file__).parent / "data" / "paste" / "corpus"
ITEMS = json.loads((CORPUS / "manifest.json").read_text())["items"]
LAYOUTS = {"wireshark", "c-array", "sniffer", "esphome-dotted", "hexdump-c", "xxd", "one-line", "python-literals", "nrf-connect", "request-reply"}


@pytest.mark.parametrize("item", ITEMS, ids=[i["file"] for i in ITEMS])
def test_every_corpus_item_reads_exactly_its_manifest(item):
    text = (CORPUS / item["file"]).read_text()
    if "error" in item:
        with pytest.raises(UserError) as e:
            parse_text(text)
        assert str(e.value) == item["error"]
        return
    reading, p = parse_to_reading(text)
    assert p.format == item["format"]
    assert p.fields == item["fields"]
    assert p.ambiguities == item.get("ambiguities", [])
    assert reading.given()  # and it is a valid reading


def _by_set() -> dict[str, list[dict]]:
    sets: dict[str, list[dict]] = {}
    for item in ITEMS:
        parts = item["file"].split(".")
        if len(parts) == 3 and parts[1] in LAYOUTS and "error" not in item:
            sets.setdefault(parts[0], []).append(item)
    return sets


@pytest.mark.parametrize("name", sorted(_by_set()))
def test_every_layout_of_one_capture_gives_the_same_reading(name):
    items = _by_set()[name]
    assert len(items) >= 7  # sniffer (not for Daly), dotted, hexdump, xxd, one line, literals, nRF, >>> <<<
    first = items[0]["fields"]
    for item in items[1:]:
        assert item["fields"] == first, item["file"]


def test_the_corpus_covers_every_family_and_generation():
    formats = {i.get("format", "") for i in ITEMS}
    for want in ("JK02_24S", "JK02_32S (firmware 11", "JK02_32S (firmware 14", "JK04", "JBD protocol",
                 "ANT 2021", "ANT legacy", "Daly D2"):
        assert any(want in f for f in formats), want
    assert any(i["fields"].get("protection_active") for i in ITEMS if "fields" in i)
