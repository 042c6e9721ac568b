"""The answers the LLM must give, validated with Pydantic, and the checks that keep them honest.

Anything that does not parse, misses a field, or is out of range is a `BadAnswer` (the caller falls
back to the model or rules); nothing here can produce a NaN. `check_grounded` refuses prose that
states a number or a level the trusted facts do not contain, so even an LLM talked into lying by text
in the lead's record cannot put a different probability or level in front of a sales rep.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Kind = Literal["narrative", "predictor", "insights"]


class BadAnswer(Exception):
    """The LLM answered, but not usably. `reason` is the fallback reason reported in llmMetadata."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _Answer(BaseModel):
    # Extra keys (a "level", say) are ignored: nothing outside the schema is ever read.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class RecommendationWording(_Answer):
    index: int = Field(ge=0, le=50)
    action: str = Field(min_length=1, max_length=200)
    rationale: str = Field(min_length=1, max_length=500)
    expectedImpact: str = Field(min_length=1, max_length=300)


class NarrativeAnswer(_Answer):
    explanation: str = Field(min_length=1, max_length=1500)
    recommendations: list[RecommendationWording] = Field(default_factory=list, max_length=20)


class PredictorAnswer(NarrativeAnswer):
    probability: float = Field(ge=0.0, le=1.0)
    confidence: float = Field(ge=0.0, le=1.0)
    predictedDays: float = Field(ge=1.0, le=365.0)
    dealValue: float | None = Field(default=None, ge=0.0, le=1e12)


class InsightsAnswer(_Answer):
    summary: str = Field(min_length=1, max_length=1000)
    commonPatterns: list[str] = Field(default_factory=list, max_length=8)


ANSWERS: dict[str, type[_Answer]] = {"narrative": NarrativeAnswer, "predictor": PredictorAnswer,
                                      "insights": InsightsAnswer}

_WORDING = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"index": {"type": "integer"}, "action": {"type": "string"},
                       "rationale": {"type": "string"}, "expectedImpact": {"type": "string"}},
        "required": ["index", "action", "rationale", "expectedImpact"],
        "additionalProperties": False,
    },
}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "narrative": {
        "type": "object",
        "properties": {"explanation": {"type": "string"}, "recommendations": _WORDING},
        "required": ["explanation", "recommendations"],
        "additionalProperties": False,
    },
    "predictor": {
        "type": "object",
        "properties": {
            "probability": {"type": "number"}, "confidence": {"type": "number"},
            "predictedDays": {"type": "number"}, "dealValue": {"type": ["number", "null"]},
            "explanation": {"type": "string"}, "recommendations": _WORDING,
        },
        "required": ["probability", "confidence", "predictedDays", "dealValue", "explanation", "recommendations"],
        "additionalProperties": False,
    },
    "insights": {
        "type": "object",
        "properties": {"summary": {"type": "string"}, "commonPatterns": {"type": "array", "items": {"type": "string"}}},
        "required": ["summary", "commonPatterns"],
        "additionalProperties": False,
    },
}


def json_schema(kind: Kind) -> dict[str, Any]:
    """The strict JSON schema for the `json_schema` response format (OpenAI's supported subset)."""
    return _SCHEMAS[kind]


def schema_name(kind: Kind) -> str:
    return f"leadml_{kind}"


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_answer(kind: Kind, content: str | None) -> _Answer:
    if content is None or not content.strip():
        raise BadAnswer("malformed_output", "empty answer")
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadAnswer("malformed_output", f"not JSON: {exc.msg} at {exc.pos}") from None
    if not isinstance(data, dict):
        raise BadAnswer("malformed_output", "the answer is not a JSON object")
    try:
        return ANSWERS[kind].model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise BadAnswer("malformed_output", problems) from None


def check_indices(answer: NarrativeAnswer, count: int) -> None:
    seen = set()
    for item in answer.recommendations:
        if item.index >= count or item.index in seen:
            raise BadAnswer("malformed_output", f"recommendation index {item.index} does not name one of {count}")
        seen.add(item.index)


# Numbers in prose: "23%", "1,200", "4.5", "-3"; not the digit in "Q3" or "B2B".
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w.]*[A-Za-z])(\s*%)?")
_LEVEL = re.compile(r"\b(HOT|WARM|COLD|DEAD)\b")
ALWAYS_ALLOWED = (0.0, 1.0, 2.0)  # "one or two calls", "1:1"


def numbers_in(text: str) -> list[float]:
    return [value for value, _ in _numbers(text)]


def _numbers(text: str) -> list[tuple[float, bool]]:
    """(number, whether it is a percentage) for each number in the text."""
    return [(float(digits.replace(",", "")), bool(percent)) for digits, percent in _NUMBER.findall(text)]


@dataclass
class Trusted:
    """Numbers the prose may state: plain ones, and percentages (fractions x 100, or written with %)."""

    plain: set[float] = field(default_factory=set)
    percent: set[float] = field(default_factory=set)

    def __or__(self, other: Trusted) -> Trusted:
        return Trusted(self.plain | other.plain, self.percent | other.percent)


def trusted_numbers(value: Any) -> Trusted:
    """Every number in the trusted facts: values, fractions as percentages, and numbers in leadml's text."""
    found = Trusted()

    def walk(item: Any) -> None:
        if isinstance(item, bool) or item is None:
            return
        if isinstance(item, int | float):
            if math.isfinite(item):
                found.plain.add(abs(float(item)))
                if 0.0 <= item <= 1.0:
                    found.percent.add(float(item) * 100.0)
        elif isinstance(item, str):
            for number, is_percent in _numbers(item):
                (found.percent if is_percent else found.plain).add(number)
        elif isinstance(item, Mapping):
            for sub in item.values():
                walk(sub)
        elif isinstance(item, list | tuple):
            for sub in item:
                walk(sub)

    walk(value)
    return found


def _close(number: float, allowed: Iterable[float]) -> bool:
    return any(abs(number - a) <= (0.51 if a < 1000 else 0.005 * a) for a in allowed)


def check_grounded(texts: Iterable[str], *, allowed: Trusted, level: str | None) -> None:
    """Refuse prose that states a number not in the facts (a percentage must be one of the facts'
    percentages), or a level other than the real one."""
    plain = allowed.plain | set(ALWAYS_ALLOWED)
    for text in texts:
        for number, is_percent in _numbers(text):
            if not _close(number, allowed.percent if is_percent else plain | allowed.percent):
                shown = f"{number:g}{'%' if is_percent else ''}"
                raise BadAnswer("ungrounded_output", f"states {shown}, which is not in the facts")
        if level is not None:
            for named in _LEVEL.findall(text):
                if named != level:
                    raise BadAnswer("ungrounded_output", f"calls the lead {named}; its level is {level}")
