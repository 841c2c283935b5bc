"""Prices (unknown is None, never 0) and the AI helpers' model and fallback paths."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chatml_lab.agents import helpers
from chatml_lab.agents.pricing import PRICES, cost, price
from chatml_lab.agents.scripted_server import ScriptedServer

MILLION = 1_000_000
ANSWER = '"Fix logout after idle timeout."'


def test_unknown_models_cost_none_and_scripted_costs_zero() -> None:
    usage = {"input_tokens": 1000, "output_tokens": 1000}
    assert cost("gpt-4o", usage) is None
    assert cost("claude-opus-4-9", usage) is None  # a version we hold no price for is not guessed
    assert cost(None, usage) is None
    assert cost("scripted", usage) == 0.0


def test_prices_by_model_and_token_kind() -> None:
    one_each = {
        "input_tokens": MILLION,
        "output_tokens": MILLION,
        "cache_creation_input_tokens": MILLION,
        "cache_read_input_tokens": MILLION,
    }
    assert cost("claude-sonnet-4-6", one_each) == pytest.approx(3 + 15 + 3.75 + 0.30)
    assert cost("claude-haiku-4-5", {"output_tokens": MILLION}) == pytest.approx(5.0)
    assert cost("claude-opus-4-1", {"input_tokens": MILLION}) == pytest.approx(15.0)
    assert cost("claude-opus-4-5", {"input_tokens": MILLION}) == pytest.approx(5.0)
    assert cost("claude-3-5-haiku", {"input_tokens": MILLION}) == pytest.approx(0.80)


def test_dated_and_context_suffixes_match_their_model() -> None:
    assert price("claude-sonnet-4-5-20250929") is PRICES["claude-sonnet-4-5"]
    assert price("claude-haiku-4-5@20251001") is PRICES["claude-haiku-4-5"]
    assert price("claude-sonnet-5-5[1m]") is PRICES["claude-sonnet-5-5"]
    assert price("claude-3-5-haiku-latest") is PRICES["claude-3-5-haiku"]


def test_long_prompts_use_the_long_rates() -> None:
    short = cost("claude-haiku-5-5", {"input_tokens": 100_000})
    long = cost("claude-haiku-5-5", {"input_tokens": 60_000, "cache_read_input_tokens": 60_000})
    assert short == pytest.approx(0.01)
    assert long == pytest.approx((60_000 * 0.50 + 60_000 * 0.05) / MILLION)


def test_every_known_model_has_nonzero_rates() -> None:
    for name, rates in PRICES.items():
        assert min(rates.base.input, rates.base.output, rates.base.cache_read) > 0, name
        assert (cost(name, {"input_tokens": 1}) or 0) > 0


def test_helpers_fall_back_without_a_key() -> None:
    assert not helpers.api_configured()
    message = "please **fix** the `login` bug where users are logged out after 5 minutes idle"
    assert helpers.suggest_title(message) == ("Please fix the login bug where users", "fallback")
    assert helpers.suggest_title("   \n") == ("New session", "fallback")
    assert helpers.summarize_session("user: hi", "3 commits, 2 files changed") == (
        "3 commits, 2 files changed",
        "fallback",
    )


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    script: dict[str, Any] = {"turns": [[{"type": "text", "text": ANSWER}]]}
    with ScriptedServer(script) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-fake")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        yield server


def test_title_from_the_model(api: ScriptedServer) -> None:
    assert helpers.api_configured()
    assert helpers.suggest_title("users get logged out after 5 minutes") == (
        "Fix logout after idle timeout",
        "model",
    )
    body = api.requests[0]
    assert body["model"] == helpers.TITLE_MODEL == "claude-haiku-4-5" and body["max_tokens"] == 60
    assert "imperative" in body["system"]


def test_summary_from_the_model(api: ScriptedServer) -> None:
    summary, source = helpers.summarize_session("user: fix it\nassistant: fixed", "1 commit")
    assert (summary, source) == (ANSWER, "model")
    prompt = api.requests[0]["messages"][0]["content"]
    assert "1 commit" in prompt and "assistant: fixed" in prompt


def test_model_failure_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-fake")
    with ScriptedServer({"turns": [{"error": {"status": 400, "type": "invalid_request_error"}}]}) as failing:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", failing.url)
        assert helpers.suggest_title("add a dark mode toggle") == ("Add a dark mode toggle", "fallback")
        assert helpers.summarize_session("t", "facts") == ("facts", "fallback")
        assert len(failing.requests) == 2  # 400 is not retried
