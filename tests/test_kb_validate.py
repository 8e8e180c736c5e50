"""A broken copy of the knowledge base gives one precise file:line:col line per problem, exit code 1, no traceback."""

import re
import shutil
from pathlib import Path

import pytest

from kb.errors import KBInvalid
from kb.load import CONTENT_DIR, load_kb
from tui.cli import main


@pytest.fixture
def kb_copy(tmp_path) -> Path:
    dst = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, dst)
    return dst


def _first_rule_file(root: Path) -> Path:
    return sorted((root / "rules").glob("*.yaml"))[0]


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in text")


def test_the_shipped_knowledge_base_validates():
    kb = load_kb(use_cache=False)
    assert len(kb.sources) == 36
    assert len(kb.rules) >= 30
    assert set(kb.families) == {"jk", "ant", "jbd", "daly", "charge-only"}


def test_every_kind_of_mistake_is_located(kb_copy, capsys):
    path = _first_rule_file(kb_copy)
    text = path.read_text()
    first_id = re.search(r"^\s*- id: (\S+)", text, re.M).group(1)
    # 1 typo'd key, 2 bad severity, 3 unknown field in a condition, 4 dangling citation, 5 duplicate id
    text = re.sub(r"^(\s*)title:", r"\1titel:", text, count=1, flags=re.M)
    text = re.sub(r"^(\s*)severity: \w+", r"\1severity: catastrophic", text, count=1, flags=re.M)
    text = re.sub(r"^(\s*)when: (['\"]?)", r"\1when: \2bogus_field > 3 and ", text, count=1, flags=re.M)
    text = re.sub(r"^(\s*)citations: \[", r"\1citations: [no-such-footnote, ", text, count=1, flags=re.M)
    second = [m for m in re.finditer(r"^(\s*)- id: (\S+)", text, re.M)][1]
    text = text[:second.start(2)] + first_id + text[second.end(2):]
    path.write_text(text)

    with pytest.raises(KBInvalid) as e:
        load_kb(kb_copy, use_cache=False)
    got = [str(p) for p in e.value.problems]
    rel = f"content/rules/{path.name}"
    expect = {
        "unknown key 'titel'": _line_of(text, "titel:"),
        "severity": _line_of(text, "severity: catastrophic"),
        "unknown field 'bogus_field'": _line_of(text, "bogus_field"),
        "citation 'no-such-footnote'": _line_of(text, "no-such-footnote"),
        f"duplicate rule id '{first_id}'": [i for i, l in enumerate(text.splitlines(), 1) if f"- id: {first_id}" in l][1],
    }
    for needle, line in expect.items():
        hits = [g for g in got if needle in g]
        assert hits, f"no problem mentions {needle!r}: {got}"
        assert hits[0].startswith(f"{rel}:{line}:"), hits[0]

    # the column of an expression error points inside the expression, at the unknown field
    bogus = next(g for g in got if "bogus_field" in g)
    col = int(bogus.split(":")[2])
    assert text.splitlines()[expect["unknown field 'bogus_field'"] - 1][col - 1:].startswith("bogus_field")

    assert main(["kb", "validate", str(kb_copy)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(got) and all(re.match(r"^content/\S+:\d+:\d+: ", line) for line in out)


def test_duplicate_yaml_key_and_syntax_errors_are_located(kb_copy):
    path = kb_copy / "manifest.yaml"
    text = path.read_text()
    path.write_text(text + "title: again\n")
    with pytest.raises(KBInvalid) as e:
        load_kb(kb_copy, use_cache=False)
    assert any("duplicate key" in str(p) and str(p).startswith("content/manifest.yaml:") for p in e.value.problems)


def test_changed_condition_without_version_bump_is_refused(kb_copy):
    assert main(["kb", "release", str(kb_copy)]) == 0
    path = _first_rule_file(kb_copy)
    text = path.read_text()
    m = re.search(r"^\s*when: .*?(\d+(?:\.\d+)?)", text, re.M)
    assert m, "a rule with a numeric threshold"
    new_num = str(float(m.group(1)) + 1)
    text = text[:m.start(1)] + new_num + text[m.end(1):]
    path.write_text(text)
    with pytest.raises(KBInvalid) as e:
        load_kb(kb_copy, use_cache=False)
    assert any("bump it to" in str(p) for p in e.value.problems)


def test_kb_test_fails_when_a_threshold_breaks(kb_copy, capsys):
    assert main(["kb", "test", str(kb_copy), "--engine", "evaluator"]) == 0
    capsys.readouterr()
    path = kb_copy / "rules"
    # flip the comparison of the charge-FET rule: its firing test must now fail
    for f in path.glob("*.yaml"):
        t = f.read_text()
        if "- id: fet.charge-off-with-regen" in t:
            block_start = t.index("- id: fet.charge-off-with-regen")
            when = t.index("when:", block_start)
            eol = t.index("\n", when)
            line = t[when:eol].replace("charge_fet == false", "charge_fet == true")
            assert line != t[when:eol], "the rule's condition mentions charge_fet == false"
            t = t[:when] + line + t[eol:]
            # the changed logic carries its version bump (or validation would refuse it before any test runs)
            vpos = t.index("version:", block_start)
            veol = t.index("\n", vpos)
            old_v = int(t[vpos + len("version:"):veol])
            f.write_text(t[:vpos] + f"version: {old_v + 1}" + t[veol:])
    assert main(["kb", "test", str(kb_copy), "--engine", "evaluator"]) == 1
    out = capsys.readouterr().out
    assert "FAIL rule fet.charge-off-with-regen" in out
    # the failure points at the test's own line in the rule file, not at line 1
    import re

    where = re.search(r"FAIL rule fet.charge-off-with-regen :: [^(]*\((rules/fets.yaml|[^)]*fets.yaml):(\d+)\)", out)
    assert where and int(where.group(2)) > 1, out


def test_coverage_cites_every_footnote_and_section(capsys):
    import json

    assert main(["kb", "coverage", "--json"]) == 0
    cov = json.loads(capsys.readouterr().out)
    assert cov["uncited_footnotes"] == []
    assert cov["sections_without_items"] == []
    assert cov["totals"]["footnotes"] == 36


def test_diff_classifies_changes(kb_copy, capsys):
    import json

    (kb_copy / "released.yaml").unlink()  # what changed between two trees, not whether a release allows it

    path = _first_rule_file(kb_copy)
    text = path.read_text()
    text = re.sub(r"^(\s*)title: (.*)$", r"\1title: \2 (reworded)", text, count=1, flags=re.M)
    path.write_text(text)
    assert main(["kb", "diff", str(CONTENT_DIR), str(kb_copy), "--json"]) == 1  # a patch needs a patch bump
    d = json.loads(capsys.readouterr().out)
    assert d["bump"] == "patch" and len(d["changed"]) == 1 and d["changed"][0]["fields"] == ["title"]
    sev = re.search(r"^(\s*)severity: (\w+)", text, re.M)
    other = "critical" if sev.group(2) != "critical" else "info"
    text = text[:sev.start(2)] + other + text[sev.end(2):]
    path.write_text(text)
    assert main(["kb", "diff", str(CONTENT_DIR), str(kb_copy), "--json"]) == 1  # not bumped enough: exit 1
    d = json.loads(capsys.readouterr().out)
    assert d["bump"] == "major" and d["version_ok"] is False
    assert any(c["change"] == "major" and "severity" in c["fields"] for c in d["changed"])
