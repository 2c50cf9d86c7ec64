"""Money parsing, price rules, and the protocol × cache conformance table, hand-computed.

The catalogue tests (tiers, service tiers, web search, precedence) are in test_catalogue.py."""

from __future__ import annotations

import pytest

from server.pricing.money import MoneyError, div_round_half_up, format_micro, to_micro
from server.pricing.pricing import PriceRule, compute_cost, find_rule
from server.pricing.usage import Usage, from_anthropic, from_responses


@pytest.mark.parametrize("text, micro", [
    ("1", 1_000_000), ("0.000001", 1), ("12.5", 12_500_000), (3, 3_000_000), ("-2.25", -2_250_000),
    (0.1, 100_000), ("100", 100_000_000)])
def test_to_micro(text, micro):
    assert to_micro(text) == micro


@pytest.mark.parametrize("bad", ["abc", "1e400000", "0.0000001", None, True, "NaN", "inf", ""])
def test_to_micro_rejects(bad):
    with pytest.raises(MoneyError):
        to_micro(bad)


def test_format_and_rounding():
    assert format_micro(12_500_000) == "12.5" and format_micro(-1) == "-0.000001" and format_micro(0) == "0"
    assert div_round_half_up(5, 10) == 1 and div_round_half_up(4, 10) == 0 and div_round_half_up(-5, 10) == -1


def test_cache_price_defaults():
    rule = PriceRule.build("m", input=to_micro("3"), output=to_micro("15"))
    assert (rule.cache_write_5m, rule.cache_write_1h, rule.cache_read) == (3_750_000, 6_000_000, 300_000)


def test_most_specific_rule_wins():
    rules = [PriceRule.build("*", 1, 1), PriceRule.build("claude-*", 2, 2),
             PriceRule.build("claude-opus-*", 3, 3), PriceRule.build("claude-opus-5-5", 4, 4)]
    assert find_rule(rules, "claude-opus-5-5").input == 4
    assert find_rule(rules, "claude-opus-4-6").input == 3
    assert find_rule(rules, "claude-haiku-5-5").input == 2
    assert find_rule(rules, "gpt-5.4").input == 1
    assert find_rule(rules[1:], "gpt-5.4") is None


SONNET = PriceRule.build("claude-sonnet-4*", input=3_000_000, output=15_000_000)
GPT = PriceRule.build("gpt-5*", input=1_250_000, output=10_000_000, cache_read=125_000)

# (protocol, case, upstream usage, expected Usage, expected charge in micro-units)
# Charges computed by hand: tokens × $/MTok; e.g. 1000 in × $3 + 200 out × $15 = $0.003 + $0.003.
CONFORMANCE = [
    ("anthropic", "no cache", {"input_tokens": 1000, "output_tokens": 200},
     Usage(input=1000, output=200), 6_000),
    ("anthropic", "cache write 5m", {"input_tokens": 100, "output_tokens": 50, "cache_creation_input_tokens": 2000,
                                     "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 0}},
     Usage(input=100, output=50, cache_write_5m=2000), 300 + 750 + 7_500),
    ("anthropic", "cache write 1h", {"input_tokens": 100, "output_tokens": 50, "cache_creation_input_tokens": 2000,
                                     "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 2000}},
     Usage(input=100, output=50, cache_write_1h=2000), 300 + 750 + 12_000),
    ("anthropic", "cache write without split", {"input_tokens": 10, "output_tokens": 0, "cache_creation_input_tokens": 1000},
     Usage(input=10, cache_write_5m=1000), 30 + 3_750),
    ("anthropic", "cache read", {"input_tokens": 100, "output_tokens": 50, "cache_read_input_tokens": 2000},
     Usage(input=100, output=50, cache_read=2000), 300 + 750 + 600),
    ("anthropic", "rounding half up", {"input_tokens": 1, "output_tokens": 0}, Usage(input=1), 3),
    ("openai", "no cache", {"input_tokens": 1000, "output_tokens": 100,
                            "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
     Usage(input=1000, output=100), 1_250 + 1_000),
    # Responses input_tokens INCLUDES cached tokens: 1000 total, 768 of them cached.
    ("openai", "cache read", {"input_tokens": 1000, "output_tokens": 100,
                              "input_tokens_details": {"cached_tokens": 768}, "output_tokens_details": {"reasoning_tokens": 40}},
     Usage(input=232, output=100, cache_read=768, reasoning=40), 290 + 1_000 + 96),
]


@pytest.mark.parametrize("protocol, case, raw, expected_usage, expected_charge", CONFORMANCE,
                         ids=[f"{p}-{c}" for p, c, *_ in CONFORMANCE])
def test_conformance_table(protocol, case, raw, expected_usage, expected_charge):
    usage = from_anthropic(raw) if protocol == "anthropic" else from_responses(raw)
    assert usage == expected_usage
    rule = SONNET if protocol == "anthropic" else GPT
    assert compute_cost(usage, rule).total == expected_charge


def test_group_multiplier_applies_to_the_total():
    usage = Usage(input=1000, output=200)
    assert compute_cost(usage, SONNET, multiplier_ppm=1_500_000).total == 9_000
    assert compute_cost(usage, SONNET, multiplier_ppm=333_333).total == 2_000  # 1999.998 rounds up


def test_the_overriding_rule_shown_is_the_one_that_bills():
    """The price pages name the operator rule that prices a catalogue model: the most specific,
    as billing picks it, not the first that matches."""
    from server.pricing.pricing import overriding_pattern

    assert overriding_pattern(["claude-*", "claude-opus-4-6", "claude-opus-*"], "claude-opus-4-6") == "claude-opus-4-6"
    assert overriding_pattern(["claude-*", "claude-opus-*"], "claude-opus-4-6") == "claude-opus-*"
    assert overriding_pattern(["gpt-*"], "claude-opus-4-6") is None
