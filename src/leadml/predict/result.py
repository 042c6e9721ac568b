"""The one shape every predictor source (rules, model, llm) returns.

Field names are snake_case here; api/schemas.py renders them camelCase as in the seed API.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

ScoreLevel = Literal["HOT", "WARM", "COLD", "DEAD"]
Source = Literal["model", "llm", "rules"]


@dataclass
class RiskFactor:
    factor: str
    impact: Literal["high", "medium", "low"]
    current_value: Any
    trend: Literal["improving", "stable", "declining"]
    description: str


@dataclass
class Recommendation:
    priority: Literal["urgent", "high", "medium", "low"]
    action: str
    rationale: str
    expected_impact: str
    timeframe: str


@dataclass
class Reason:
    """One signed contribution to the prediction, for explanations."""

    feature: str
    category: str  # demographic | behavioral | temporal | engagement | custom
    value: Any
    contribution: float  # on the log-odds scale (positive raises the probability)
    text: str


@dataclass
class Thresholds:
    hot: float = 80.0
    warm: float = 50.0
    cold: float = 20.0


@dataclass
class PredictionResult:
    source: Source
    probability: float
    confidence: float
    score_level: ScoreLevel
    predicted_days: float
    interval_low: float
    interval_high: float
    score: float  # 0-100
    score_breakdown: dict[str, float]  # demographic / behavioral / temporal / engagement, sums to score
    risk_factors: list[RiskFactor] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    explanation: str = ""
    top_positive: list[Reason] = field(default_factory=list)
    top_negative: list[Reason] = field(default_factory=list)
    # Time to close extras.
    time_factors: list[dict[str, Any]] = field(default_factory=list)
    acceleration_opportunities: list[dict[str, Any]] = field(default_factory=list)
    model_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_level(probability: float, thresholds: Thresholds) -> ScoreLevel:
    """The config's thresholds on probability * 100 decide the level."""
    from leadml.predict.rules_terms import level_formula  # the one definition, shared with the table path

    return level_formula(probability, thresholds.hot, thresholds.warm, thresholds.cold)
