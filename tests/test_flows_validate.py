"""A broken flow is rejected with file:line:col for each mistake: the flows are edited in a copy of the content."""

import re

import pytest
from flows_support import build_content, col_of, line_of

from kb.errors import KBInvalid
from kb.load import load_kb
from tui.cli import main


@pytest.fixture
def content(tmp_path):
    return build_content(tmp_path / "content")


def _problems(root) -> list[str]:
    with pytest.raises(KBInvalid) as e:
        load_kb(root, use_cache=False)
    return [str(p) for p in e.value.problems]


def _edit(root, name: str, old: str, new: str, count: int = 1) -> str:
    p = root / "flows" / name
    text = p.read_text()
    assert old in text, f"{old!r} not in {name}"
    text = text.replace(old, new, count)
    p.write_text(text)
    return text


def _one(problems: list[str], fragment: str) -> str:
    hits = [p for p in problems if fragment in p]
    assert hits, f"no problem mentions {fragment!r}: {problems}"
    return hits[0]


def test_the_shipped_flows_validate(content):
    kb = load_kb(content, use_cache=False)
    assert len(kb.flows) >= 10
    assert kb.counts["flow_conclusions"] >= 50
    rows = kb.coverage_items["flows"]
    assert {r["id"] for r in rows} == set(kb.flows) and all(r["citations"] for r in rows)


def test_dangling_next_is_located_at_the_reference(content):
    text = _edit(content, "cutout.yaml", "    no: load-sag\n", "    no: load-sagg\n")
    line = line_of(text, "no: load-sagg")
    p = _one(_problems(content), "unknown step 'load-sagg'")
    assert p.startswith(f"content/flows/cutout.yaml:{line}:{col_of(text, line, 'load-sagg')}: ")
    assert "did you mean 'load-sag'" in p


def test_unreachable_step_and_its_uncovered_conclusion(content):
    # nothing leads to load-hot any more: it, and the conclusion only it reached, become unreachable
    text = _edit(content, "cutout.yaml", "    no: load-hot\n", "    no: log-first-rides\n")
    problems = _problems(content)
    line = line_of(text, "- id: load-hot")
    p = _one(problems, "step 'load-hot' cannot be reached")
    assert f"cutout.yaml:{line}:{col_of(text, line, 'load-hot')}:" in p
    _one(problems, "step 'trip-thermal' cannot be reached")


def test_bad_condition_points_inside_the_expression(content):
    text = _edit(content, "cutout.yaml", "when: battery_limit > discharge_ocp", "when: battery_limit > discharge_opc")
    line = line_of(text, "discharge_opc")
    p = _one(_problems(content), "unknown field 'discharge_opc'")
    assert f"cutout.yaml:{line}:{col_of(text, line, 'discharge_opc')}:" in p
    assert "did you mean 'discharge_ocp'" in p


def test_condition_syntax_and_type_errors(content):
    text = _edit(content, "cutout.yaml", "when: charge_fet == false", "when: charge_fet > 3")
    line = line_of(text, "when: charge_fet > 3")
    p = _one(_problems(content), "'charge_fet' is yes/no")
    assert f"cutout.yaml:{line}:" in p


def test_unknown_step_kind_and_misplaced_keys(content):
    text = _edit(content, "hot-bms.yaml", "  - id: hot-jk\n    kind: check\n", "  - id: hot-jk\n    kind: chek\n")
    line = line_of(text, "kind: chek")
    p = _one(_problems(content), "kind")
    assert f"hot-bms.yaml:{line}:{col_of(text, line, 'chek')}:" in p and "'check'" in p


def test_key_that_does_not_apply_to_the_kind(content):
    text = _edit(content, "hot-bms.yaml", "    question: Is it a JK board?\n",
                 "    question: Is it a JK board?\n    unit: V\n")
    line = line_of(text, "    unit: V")
    p = _one(_problems(content), "'unit' does not apply to a check step")
    assert f"hot-bms.yaml:{line}:5:" in p


def test_cycle_is_rejected(content):
    text = _edit(content, "cutout.yaml", "    yes: discharge-not-rearmed\n    no: log-first-rides\n",
                 "    yes: discharge-not-rearmed\n    no: when\n")
    line = line_of(text, "    no: when")
    p = _one(_problems(content), "loops back to 'when'")
    assert f"cutout.yaml:{line}:" in p


def test_dead_end_and_missing_branch_keys(content):
    # an ask without its options has no way on
    text = (content / "flows" / "hot-bms.yaml").read_text()
    text = re.sub(r"    options:\n(      - \{value: .*\n)+", "", text, count=1)
    (content / "flows" / "hot-bms.yaml").write_text(text)
    problems = _problems(content)
    _one(problems, "ask step 'hot-what' needs 'options'")


def test_duplicate_step_id_and_conclusion_without_citations(content):
    text = _edit(content, "no-wake.yaml", "  - id: jk-service\n", "  - id: jk-new\n")
    text = _edit(content, "no-wake.yaml", "    citations: [ant-floor]\n    rules: [voltage.ant-wake-floor",
                 "    rules: [voltage.ant-wake-floor")
    problems = _problems(content)
    line = line_of(text, "- id: jk-new", line_of(text, "- id: jk-new") + 1)
    assert f"no-wake.yaml:{line}:" in _one(problems, "duplicate step id 'jk-new'")
    _one(problems, "conclude step 'ant-floor-drop' needs 'citations'")


def test_dangling_citation_in_a_conclusion(content):
    text = _edit(content, "external-battery.yaml", "    citations: [cheap-externals, \"6\"]", "    citations: [cheap-external, \"6\"]")
    line = line_of(text, "cheap-external,")
    p = _one(_problems(content), "citation 'cheap-external' is not a footnote")
    assert f"external-battery.yaml:{line}:{col_of(text, line, 'cheap-external')}:" in p


def test_number_ranges_and_branch_gaps(content):
    text = _edit(content, "external-battery.yaml", "      - {at_least: 70, next: ext-sharing}", "      - {at_least: 80, next: ext-sharing}")
    p = _one(_problems(content), "no branch of 'ext-capacity' takes 70")
    assert f"external-battery.yaml:{line_of(text, '    branches:', line_of(text, 'id: ext-capacity'))}:" in p


def test_branch_never_taken(content):
    _edit(content, "external-battery.yaml", "      - {below: 70, next: weak-external}",
          "      - {below: 70, next: weak-external}\n      - {below: 60, next: test-solo}")
    _one(_problems(content), "branch 'below 60 %' of 'ext-capacity' is never taken")


def test_field_of_the_wrong_kind(content):
    _edit(content, "balancing.yaml", "    field: cell_delta\n", "    field: balancing\n")
    _one(_problems(content), "'balancing' is a bool field; a number answer cannot fill it")


def test_scripts_naming_unknown_steps_or_bad_answers(content):
    text = _edit(content, "soc-wrong.yaml", "answers: {soc-external: yes}, expect: external-telemetry",
                 "answers: {soc-externl: yes}, expect: external-telemetry")
    text = _edit(content, "soc-wrong.yaml", "answers: {soc-external: no, soc-cycles: no}",
                 "answers: {soc-external: perhaps, soc-cycles: no}")
    problems = _problems(content)
    line = line_of(text, "soc-externl")
    p = _one(problems, "unknown step 'soc-externl'")
    assert f"soc-wrong.yaml:{line}:{col_of(text, line, 'soc-externl')}:" in p
    _one(problems, "'perhaps' is not an answer to 'soc-external': give yes or no")


def test_script_path_must_follow_the_graph_and_every_conclusion_needs_a_test(content):
    text = _edit(content, "nuisance-trips.yaml",
                 "expect: align-both, path: [nt-which, align-both]}", "expect: align-high, path: [nt-which, align-high]}")
    problems = _problems(content)
    _one(problems, "no step leads from 'nt-which' to 'align-high'")
    line = line_of(text, "- id: align-both")
    assert f"nuisance-trips.yaml:{line}:" in _one(problems, "conclusion 'align-both' is not reached by any test")


def test_validate_command_reports_flow_problems_with_exit_1(content, capsys):
    _edit(content, "cutout.yaml", "    no: load-sag\n", "    no: nowhere\n")
    assert main(["kb", "validate", str(content)]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert re.search(r"flows/cutout\.yaml:\d+:\d+: step 'load-over-limit' \(no\) leads to unknown step 'nowhere'", text)
    assert "Traceback" not in text


def test_links_to_rules_and_guides_must_exist(content):
    text = (content / "flows" / "cutout.yaml").read_text()
    text = re.sub(r"^    rules: \[", "    rules: [fet.no-such-rule, ", text, count=1, flags=re.M)
    text = re.sub(r"^    guides: \[", "    guides: [no.such-guide, ", text, count=1, flags=re.M)
    (content / "flows" / "cutout.yaml").write_text(text)
    problems = _problems(content)
    line = line_of(text, "fet.no-such-rule")
    assert f"cutout.yaml:{line}:{col_of(text, line, 'fet.no-such-rule')}:" in _one(problems, "unknown rule id 'fet.no-such-rule'")
    _one(problems, "unknown guide entry 'no.such-guide'")
