"""Officer rules: plain-language conditions, item semantics, hot reload, bad files."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from zeikan.streams.engine.lanes import Action
from zeikan.streams.engine.rules import RuleFile, parse_condition, parse_rules
from zeikan.streams.errors import RulesError

RULES = """
version: v1
rules:
  - id: phones-cn-cheap
    description: HS 8517 from CN below 20 per unit
    when:
      - hs_code starts with 8517
      - origin_country in [CN, HK]
      - unit_value < 20
    action: SCAN
    score: 0.8
  - id: new-importer
    when: imp_log_n < 1
"""


def decl(origin="CN", items=None):
    return {
        "declaration_id": "D1",
        "origin_country": origin,
        "containers": ["A", "B"],
        "items": items
        or [
            {"hs_code": "85171200", "quantity": 100.0, "customs_value": Decimal("5000.00"), "gross_weight_kg": 9.0},
            {"hs_code": "94036000", "quantity": 100.0, "customs_value": Decimal("100.00"), "gross_weight_kg": 9.0},
        ],
    }


def test_item_conditions_must_hold_on_one_item():
    book = parse_rules(RULES, "inline")
    assert book.version == "v1"
    # the cheap line is furniture, the phone line costs 50 per unit: no hit
    assert book.evaluate(decl(), {"imp_log_n": 3.0}).hits == ()
    cheap_phones = [{"hs_code": "85171200", "quantity": 100.0, "customs_value": Decimal("900.00"), "gross_weight_kg": 1.0}]
    outcome = book.evaluate(decl(items=cheap_phones), {"imp_log_n": 0.0})
    assert outcome.hits == ("phones-cn-cheap", "new-importer")
    assert outcome.floor is Action.SCAN and outcome.score == 0.8
    assert outcome.reasons[0] == "rule phones-cn-cheap: HS 8517 from CN below 20 per unit"
    assert book.evaluate(decl(origin="US", items=cheap_phones), {}).hits == ()


@pytest.mark.parametrize(
    "text, value, expected",
    [
        ("container_count >= 2", 2, True),
        ("office_id = JPYOK", "JPYOK", True),
        ("office_id != JPYOK", "JPYOK", False),
        ("origin_country not in [CN]", "US", True),
        ("description contains phone", "Mobile Phones", True),
        ("uv_z_hs <= -3.5", -4.0, True),
    ],
)
def test_operators(text, value, expected):
    assert parse_condition(text).holds(value) is expected


@pytest.mark.parametrize(
    "bad, message",
    [
        ("rules: [{id: a, when: ['hs_code resembles 85']}]", "is not '<field> <operator> <value>'"),
        ("rules: [{id: a, when: ['unit_value < cheap']}]", "needs a number"),
        ("rules: [{id: a, when: ['x = 1'], action: GREEN}]", "unknown lane"),
        ("rules: [{id: a}]", "'when' must list"),
        ("rules: [{id: a, when: ['x = 1']}, {id: a, when: ['x = 2']}]", "unique"),
        ("rules: [unclosed", "rejected"),
    ],
)
def test_bad_rule_files_are_rejected_with_a_clear_message(bad, message):
    with pytest.raises(RulesError, match=message):
        parse_rules(bad, "bad.yaml")


def test_hot_reload_picks_up_edits_and_keeps_old_rules_on_a_bad_edit(tmp_path, caplog):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    rules = RuleFile(path, check_interval_s=0.0)
    assert rules.book.version == "v1"
    path.write_text(RULES.replace("v1", "v2"))
    os.utime(path, ns=(1, 2_000_000_000))
    assert rules.refresh() and rules.book.version == "v2"
    path.write_text("rules: [{id: broken, when: ['nonsense']}]")
    assert not rules.refresh()
    assert rules.book.version == "v2"
    assert "rule file" in (rules.last_error or "") and "previous rules stay active" in caplog.text
    assert not rules.refresh(force=True)


def test_a_missing_rule_file_at_start_is_an_error(tmp_path):
    with pytest.raises(RulesError, match="rules.yaml"):
        RuleFile(tmp_path / "rules.yaml")


@pytest.mark.parametrize(
    ("containers", "features", "hit"),
    [
        (["A"], {"imp_disc_rate": 0.25, "duty_rate": 0.0, "origin_ne_dispatch": 0.0}, "container-of-importer-with-findings"),
        (["A"], {"imp_disc_rate": 0.05, "duty_rate": 0.3, "origin_ne_dispatch": 1.0}, "container-high-duty-transshipped"),
        ([], {"imp_disc_rate": 0.25, "duty_rate": 0.3, "origin_ne_dispatch": 1.0}, None),
        (["A"], {"imp_disc_rate": 0.05, "duty_rate": 0.3, "origin_ne_dispatch": 0.0}, None),
    ],
)
def test_default_rules_scan_containers_with_a_concealment_profile(containers, features, hit):
    from zeikan.streams.settings import DEFAULT_RULES

    book = RuleFile(DEFAULT_RULES).book
    outcome = book.evaluate(dict(decl(origin="VN"), containers=containers), features)
    concealment = [h for h in outcome.hits if h.startswith("container-")]
    assert concealment == ([hit] if hit else [])
    assert (outcome.floor is Action.SCAN) == (hit is not None)
