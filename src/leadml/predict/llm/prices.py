"""Estimated cost of a call from a price table in USD per million tokens (input, output).

Endpoints answer with the dated model name (`gpt-4o-mini-2024-07-18`); the table lists base names
(`gpt-4o-mini`). A name is looked up as given, then without a date suffix, then by the longest base
name it starts with. Unknown models (a local Llama, an Azure deployment with its own name) cost 0 and
are reported as unpriced; add them with LEADML_LLM_PRICES.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# OpenAI list prices (standard tier) in USD per 1M tokens, as published in 2025.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "gpt-3.5-turbo": (0.50, 1.50),
}

_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4}|\d{8})$")


@dataclass(frozen=True)
class Price:
    name: str
    input_per_million: float
    output_per_million: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1_000_000


def price_table(overrides: Mapping[str, tuple[float, float] | list[float]] | None = None) -> dict[str, tuple[float, float]]:
    table = dict(DEFAULT_PRICES)
    for name, pair in (overrides or {}).items():
        inp, out = (float(x) for x in pair)
        if inp < 0 or out < 0:
            raise ValueError(f"negative price for {name!r}")
        table[name.lower()] = (inp, out)
    return table


def find_price(model: str | None, table: Mapping[str, tuple[float, float]]) -> Price | None:
    if not model:
        return None
    name = model.strip().lower()
    name = name.rsplit("/", 1)[-1]  # provider prefixes such as "openai/gpt-4o-mini"
    for candidate in (name, _DATE_SUFFIX.sub("", name)):
        if candidate in table:
            return Price(candidate, *table[candidate])
    prefixes = [key for key in table if name.startswith(key + "-") or name.startswith(key + ":")]
    if prefixes:
        best = max(prefixes, key=len)
        return Price(best, *table[best])
    return None


def estimated_cost(model: str | None, prompt_tokens: int, completion_tokens: int,
                   table: Mapping[str, tuple[float, float]]) -> tuple[float, bool]:
    """(cost in USD, whether the model was in the table)."""
    price = find_price(model, table)
    if price is None:
        return 0.0, False
    return price.cost(prompt_tokens, completion_tokens), True
