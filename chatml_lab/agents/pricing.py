"""What a turn cost: Anthropic list prices in USD per million tokens.

Prices are Anthropic's published standard rates (platform.claude.com "Pricing" and the per-model
pages), checked on :data:`CHECKED`: input, output, cache write (the default 5-minute cache, which
is what ``cache_control: {"type": "ephemeral"}`` buys) and cache read. Batch, fast-mode, regional
(``inference_geo``) and 1-hour-cache rates are not modelled.

A model is looked up by its id with any date or context suffix removed (``claude-sonnet-4-5-20250929``,
``claude-sonnet-4-5@20250929`` and ``claude-sonnet-4-5[1m]`` all price as ``claude-sonnet-4-5``).
Matching stops at version boundaries on purpose: ``claude-opus-4-9`` is *unknown* rather than
priced like some other Opus, because a wrong cost is worse than "unknown". :func:`cost` returns
None for unknown models (UIs show "unknown", never $0) and 0.0 for the offline ``scripted`` model.

Some models bill a long prompt (input + cache reads + cache writes above a threshold) at higher
rates on every token of that request; :func:`cost` applies that per call, so price each API call
and sum, as the ``anthropic`` backend does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

CHECKED = "2026-11-24"
SCRIPTED_MODEL = "scripted"


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


@dataclass(frozen=True)
class ModelPrice:
    """A model's rates, and the rates for requests whose prompt exceeds ``long_threshold`` tokens."""

    base: Price
    long_threshold: int | None = None
    long: Price | None = None


_OPUS_LEGACY = ModelPrice(Price(15.0, 75.0, 18.75, 1.50))
_OPUS_45 = ModelPrice(Price(5.0, 25.0, 6.25, 0.50))
_SONNET_4 = ModelPrice(Price(3.0, 15.0, 3.75, 0.30), 200_000, Price(6.0, 22.50, 7.50, 0.60))
_SONNET_3 = ModelPrice(Price(3.0, 15.0, 3.75, 0.30))
_FABLE_5 = ModelPrice(Price(10.0, 50.0, 12.50, 1.00))
_FABLE_51 = ModelPrice(Price(10.0, 50.0, 12.50, 0.25))

#: Model id (without date suffix) -> rates.
PRICES: dict[str, ModelPrice] = {
    "claude-fable-5-1": _FABLE_51,
    "claude-mythos-5-1": _FABLE_51,
    "claude-fable-5": _FABLE_5,
    "claude-mythos-5": _FABLE_5,
    "claude-opus-5-5": ModelPrice(Price(4.0, 20.0, 5.0, 0.20)),
    "claude-opus-5": _OPUS_45,
    "claude-opus-4-8": _OPUS_45,
    "claude-opus-4-7": _OPUS_45,
    "claude-opus-4-6": _OPUS_45,
    "claude-opus-4-5": _OPUS_45,
    "claude-opus-4-1": _OPUS_LEGACY,
    "claude-opus-4-0": _OPUS_LEGACY,
    "claude-opus-4": _OPUS_LEGACY,
    # Sonnet 5.5's cache read was cut from $0.20 to $0.10 on 2026-10-07.
    "claude-sonnet-5-5": ModelPrice(Price(2.0, 10.0, 2.50, 0.10)),
    "claude-sonnet-5": ModelPrice(Price(2.0, 10.0, 2.50, 0.20)),
    "claude-sonnet-4-6": ModelPrice(Price(3.0, 15.0, 3.75, 0.30)),
    "claude-sonnet-4-5": _SONNET_4,
    "claude-sonnet-4-0": _SONNET_4,
    "claude-sonnet-4": _SONNET_4,
    "claude-3-7-sonnet": _SONNET_3,
    "claude-3-5-sonnet": _SONNET_3,
    "claude-haiku-5-5": ModelPrice(Price(0.10, 0.50, 0.125, 0.01), 100_000, Price(0.50, 2.50, 0.625, 0.05)),
    "claude-haiku-4-5": ModelPrice(Price(1.0, 5.0, 1.25, 0.10)),
    "claude-3-5-haiku": ModelPrice(Price(0.80, 4.0, 1.0, 0.08)),
    "claude-3-haiku": ModelPrice(Price(0.25, 1.25, 0.30, 0.03)),
    "claude-3-opus": _OPUS_LEGACY,
}

#: The usage keys a turn reports (the Messages API names).
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
_SUFFIX = re.compile(r"(\[[^\]]*\])$|([-@]\d{8})$|(-latest)$")


def price(model: str) -> ModelPrice | None:
    """The rates for ``model``, or None when it is not in :data:`PRICES`."""
    name = model.strip().lower()
    while (stripped := _SUFFIX.sub("", name)) != name:
        name = stripped
    return PRICES.get(name)


def cost(model: str | None, usage: Mapping[str, int | None]) -> float | None:
    """USD for one request's ``usage`` (the API's usage keys); None when the price is unknown."""
    if model == SCRIPTED_MODEL:
        return 0.0
    rates = price(model) if model else None
    if rates is None:
        return None
    tokens = {key: int(usage.get(key) or 0) for key in USAGE_KEYS}
    prompt = (
        tokens["input_tokens"] + tokens["cache_creation_input_tokens"] + tokens["cache_read_input_tokens"]
    )
    chosen = rates.base
    if rates.long is not None and rates.long_threshold is not None and prompt > rates.long_threshold:
        chosen = rates.long
    total = (
        tokens["input_tokens"] * chosen.input
        + tokens["output_tokens"] * chosen.output
        + tokens["cache_creation_input_tokens"] * chosen.cache_write
        + tokens["cache_read_input_tokens"] * chosen.cache_read
    )
    return total / 1_000_000
