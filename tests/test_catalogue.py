"""The price catalogue (genai-prices, converted in a subprocess) priced by hand.

Every expected charge below is tokens × the vendor's $/MTok as the issue states it (micro-units
per million tokens), summed and rounded once half up: e.g. gpt-5.4 above 272k input tokens
costs $5 in and $22.50 out; priority $5/$30; web search $10 per thousand requests."""

from __future__ import annotations

import sys

import pytest
import pytest_asyncio

from server.pricing.catalogue import catalogue_rules, convert_installed, diff, installed_version
from server.pricing.pricing import PriceRule, compute_cost, find_rule
from server.pricing.usage import Usage
from emulator.models import ANTHROPIC_MODELS, OPENAI_MODELS


@pytest_asyncio.fixture(scope="module")
async def catalogue():
    converted = await convert_installed()
    assert converted["version"] == installed_version() == "genai-prices 0.2.5"
    assert "genai_prices" not in sys.modules  # converted in a subprocess: never in the relay's memory
    return {"_id": converted["version"], "entries": converted["entries"]}


@pytest.fixture(scope="module")
def rules(catalogue):
    return catalogue_rules(catalogue)


def _cost(rules, model: str, **usage) -> int:
    return compute_cost(Usage(**usage), find_rule(rules, model)).total


@pytest.mark.parametrize("model, prices", [
    ("claude-opus-4-6", (5_000_000, 25_000_000, 6_250_000, 10_000_000, 500_000)),
    ("claude-opus-5-5", (4_000_000, 20_000_000, 5_000_000, 8_000_000, 200_000)),
    ("claude-haiku-4-5", (1_000_000, 5_000_000, 1_250_000, 2_000_000, 100_000)),
    ("claude-sonnet-4-5-20250929", (3_000_000, 15_000_000, 3_750_000, 6_000_000, 300_000)),
    ("gpt-5.4", (2_500_000, 15_000_000, None, None, 250_000)),
    ("gpt-5.5", (5_000_000, 30_000_000, None, None, 500_000)),
    ("gpt-5.2-codex", (1_750_000, 14_000_000, None, None, 175_000)),
    ("gpt-5.1-codex-mini", (250_000, 2_000_000, None, None, 25_000)),
])
def test_document_models_at_vendor_prices(rules, model, prices):
    rule = find_rule(rules, model)
    got = (rule.input, rule.output, rule.cache_write_5m, rule.cache_write_1h, rule.cache_read)
    assert all(p is None or g == p for g, p in zip(got, prices)), (model, got)
    assert rule.source == "catalogue" and rule.base_model == ""


def test_unknown_model_priced_as_its_base_model_and_flagged(rules):
    rule = find_rule(rules, "gpt-5.4-codex")
    assert (rule.pattern, rule.base_model, rule.input) == ("gpt-5.4", "gpt-5.4", 2_500_000)
    cost = compute_cost(Usage(input=1000, output=100), rule)
    assert cost.total == 2_500 + 1_500 and cost.base_model == "gpt-5.4"
    # versions are never stripped: an unknown version is refused rather than priced as another
    assert find_rule(rules, "claude-opus-9-9") is None and find_rule(rules, "gpt-7") is None


def test_every_emulator_model_has_a_price(rules):
    for model in [m[0] for m in ANTHROPIC_MODELS] + [m[0] for m in OPENAI_MODELS]:
        assert find_rule(rules, model) is not None, model


def test_responses_tier_on_input_tokens_including_cached(rules):
    # 272,000 input tokens is not above the threshold: $2.50 / $0.25 cached / $15 out
    assert _cost(rules, "gpt-5.4", input=200_000, cache_read=72_000, output=1_000) == 500_000 + 18_000 + 15_000
    # one more cached token crosses it: every input, cached and output token at the tier's rate
    assert _cost(rules, "gpt-5.4", input=200_000, cache_read=72_001, output=1_000) == \
        1_058_501  # 1,000,000 + 72,001 × $0.50 (36,000.5) + 22,500 = 1,058,500.5, rounded once, half up
    cost = compute_cost(Usage(input=200_000, cache_read=72_001, output=1_000), find_rule(rules, "gpt-5.4"))
    assert cost.tier == 272_000 and cost.applied["input"] == 5_000_000
    assert cost.parts["long_context"] == 500_000 + 18_000 + 7_500  # the premium is a line of its own


def test_anthropic_tier_counts_cache_reads_and_writes(rules):
    base = dict(input=100_000, cache_read=60_000, cache_write_5m=30_000, cache_write_1h=10_000, output=2_000)
    # 200,000 in total: base prices 3 / 0.3 / 3.75 / 6 / 15
    assert _cost(rules, "claude-sonnet-4-5-20250929", **base) == 300_000 + 18_000 + 112_500 + 60_000 + 30_000
    base["cache_read"] += 1  # 200,001: 6 / 0.6 / 7.5 / 12 / 22.5
    assert _cost(rules, "claude-sonnet-4-5-20250929", **base) == 600_000 + 36_001 + 225_000 + 120_000 + 45_000
    # claude-opus-4-6 has no long-context tier any more: the same tokens at $5 / $25
    big = dict(input=300_000, output=1_000)
    assert _cost(rules, "claude-opus-4-6", **big) == 1_500_000 + 25_000


def test_service_tiers_and_fast_mode(rules):
    gpt = find_rule(rules, "gpt-5.4")
    priority = compute_cost(Usage(input=1_000, output=100, service_tier="priority"), gpt)
    assert priority.total == 5_000 + 3_000 and priority.variant == "service_tier=priority"
    assert priority.parts["service_tier"] == 2_500 + 1_500  # its own line: the premium over standard
    assert priority.parts["input"] == 2_500 and priority.prices["input"] == 2_500_000
    flex = compute_cost(Usage(input=1_000, output=100, service_tier="flex"), gpt)
    assert flex.total == 1_250 + 750 and flex.parts["service_tier"] == -(1_250 + 750)
    for tier in ("default", "auto", ""):  # standard prices, no variant line
        cost = compute_cost(Usage(input=1_000, output=100, service_tier=tier), gpt)
        assert cost.total == 4_000 and "service_tier" not in cost.parts
    opus = find_rule(rules, "claude-opus-5-5")
    fast = compute_cost(Usage(input=1_000, output=100, cache_read=1_000, speed="fast"), opus)
    assert fast.total == 8_000 + 4_000 + 400 and fast.parts["speed"] == 4_000 + 2_000 + 200


def test_web_search_per_request(rules):
    cost = compute_cost(Usage(input=1_000, output=100, web_search_requests=3), find_rule(rules, "claude-opus-4-6"))
    assert cost.total == 5_000 + 2_500 + 30_000 and cost.parts["web_search"] == 30_000  # 3 × $10/1000
    assert cost.pricing()["web_search_requests"] == 3
    halved = compute_cost(Usage(web_search_requests=1), find_rule(rules, "gpt-5.4"), multiplier_ppm=500_000)
    assert halved.total == 5_000  # the group multiplier scales web search too


def test_operator_rule_beats_catalogue_whatever_its_specificity(rules):
    broad = PriceRule.build("claude-*", input=1_000_000, output=2_000_000)
    assert find_rule([*rules, broad], "claude-opus-4-6") is broad
    assert find_rule([*rules, broad], "gpt-5.4").source == "catalogue"
    exact = PriceRule.build("claude-opus-4-6", input=7_000_000, output=9_000_000)
    assert find_rule([broad, *rules, exact], "claude-opus-4-6") is exact  # most specific operator rule


def test_diff_between_catalogue_versions(catalogue):
    newer = {"_id": "genai-prices 9.9.9", "entries": [dict(e) for e in catalogue["entries"]]}
    for entry in newer["entries"]:
        if entry["model"] == "gpt-5.4":
            entry["prices"] = {**entry["prices"], "output": 16_000_000}
    newer["entries"] = [e for e in newer["entries"] if e["model"] != "claude-opus-4-1"]
    changes = {c["model"]: c for c in diff(catalogue, newer)}
    assert set(changes) == {"gpt-5.4", "claude-opus-4-1"}
    assert changes["gpt-5.4"]["change"] == "changed" and "output" in changes["gpt-5.4"]["fields"]
    assert changes["claude-opus-4-1"]["change"] == "removed"
    assert diff(catalogue, catalogue) == []
