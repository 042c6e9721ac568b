"""The LLM step of a prediction, of a bulk job and of a ranking; and the request preview.

Called after the model or rules produced a result. Per scoring config: `llmEnabled` switches it on,
`llmMode` is `narrative` (the default: the LLM rewrites the explanation and the recommendations'
wording; every number stays the model's or the rules') or `predictor` (the LLM also gives
probability, confidence, days and deal value, bounded; the level still comes from the config's
thresholds). `ruleBasedOnly` never calls. Whatever happens, the prediction is returned and
`llmMetadata` (always an object) says what happened and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from leadml.predict.llm import merge, privacy
from leadml.predict.llm.schemas import (
    InsightsAnswer,
    NarrativeAnswer,
    PredictorAnswer,
    check_grounded,
    check_indices,
    trusted_numbers,
)
from leadml.predict.result import PredictionResult, Thresholds
from leadml.scoring.llm_client import CallResult, LlmService
from leadml.storage.tables import ScoringConfig

RULES_MODEL_NAME = "rule-based-fallback"  # the seed's llmMetadata.model for rule predictions
MODES = ("narrative", "predictor")


def mode_of(config: ScoringConfig) -> str:
    return "predictor" if config.llm_mode in ("predictor", "predict") else "narrative"


def wanted(service: LlmService | None, config: ScoringConfig, *, rule_based_only: bool) -> bool:
    return service is not None and bool(config.llm_enabled) and not rule_based_only


def expected_source(service: LlmService | None, config: ScoringConfig, predictor_source: str, *,
                    rule_based_only: bool) -> str:
    """The `source` a fresh prediction would have if the LLM step succeeds (for the cache lookup)."""
    if wanted(service, config, rule_based_only=rule_based_only) and mode_of(config) == "predictor":
        return "llm"
    return predictor_source


def cached_is_current(payload: Mapping[str, Any] | None, service: LlmService | None, config: ScoringConfig, *,
                      rule_based_only: bool) -> bool:
    """Reuse a stored prediction only if it was narrated iff the LLM is wanted now (a fallback is retried)."""
    meta = (payload or {}).get("llmMetadata") or {}
    return (meta.get("status") == "ok") == wanted(service, config, rule_based_only=rule_based_only)


def numbers_name(result: PredictionResult) -> str:
    if result.source == "model":
        return f"leadml-model-v{result.model_version}" if result.model_version is not None else "leadml-model"
    return RULES_MODEL_NAME


def metadata(result: PredictionResult, *, call: CallResult | None = None, mode: str | None = None,
             status: str = "not_used", detail: str | None = None) -> dict[str, Any]:
    """llmMetadata: the seed's four fields first, then what happened."""
    call = call or CallResult()
    ok = status == "ok"
    return {
        "model": (call.model or "unknown") if ok else numbers_name(result),
        "tokensUsed": call.prompt_tokens + call.completion_tokens,
        "latencyMs": call.latency_ms,
        "estimatedCost": round(call.cost, 8),
        "status": status,  # ok | fallback | not_used
        "mode": mode,
        "fallbackReason": call.reason if status == "fallback" else None,
        "detail": call.detail if status == "fallback" else detail,
        "llmModel": call.model,
        "promptTokens": call.prompt_tokens,
        "completionTokens": call.completion_tokens,
        "attempts": call.attempts,
        "responseFormat": call.response_format,
        "costKnown": call.priced,
    }


@dataclass
class LeadData:
    """The lead fields the LLM step may use (only under the privacy policy); no email, name or phone."""

    title: str | None = None
    company: str | None = None
    pipeline_stage: str | None = None
    pipeline_value: float | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, lead: Any) -> LeadData:
        """From a Lead row or a mapping with the same (snake_case or camelCase) names."""
        if isinstance(lead, Mapping):
            def get(*names):
                return next((lead[n] for n in names if n in lead), None)
            return cls(get("title"), get("company"), get("pipeline_stage", "pipelineStage"),
                       get("pipeline_value", "pipelineValue"), get("attributes") or {})
        return cls(lead.title, lead.company, lead.pipeline_stage, lead.pipeline_value, lead.attributes or {})


@dataclass
class Narration:
    result: PredictionResult
    metadata: dict[str, Any]
    deal_value: float | None = None
    call: CallResult | None = None


def _thresholds(thresholds: Thresholds) -> dict[str, float]:
    return {"hot": thresholds.hot, "warm": thresholds.warm, "cold": thresholds.cold}


def request_parts(service: LlmService, *, mode: str, result: PredictionResult, features: Mapping[str, Any],
                  lead: LeadData, thresholds: Thresholds) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(facts, leadText) for one prediction. Predictor mode sends no lead text at all."""
    policy = service.options.privacy
    facts = privacy.facts(result, features, thresholds=_thresholds(thresholds), policy=policy,
                          pipeline_value=lead.pipeline_value)
    if mode == "predictor":
        facts["baselineEstimate"] = facts.pop("prediction")
        return facts, None
    text = privacy.lead_text(title=lead.title, company=lead.company, pipeline_stage=lead.pipeline_stage,
                             attributes=lead.attributes, policy=policy)
    return facts, text or None


def narrate_prediction(service: LlmService | None, *, config: ScoringConfig, tenant: object,
                       result: PredictionResult, features: Mapping[str, Any], lead: Any,
                       thresholds: Thresholds, rule_based_only: bool = False) -> Narration:
    """The LLM step for one computed prediction (`features` flat). Never raises for an LLM problem."""
    if not wanted(service, config, rule_based_only=rule_based_only):
        detail = "ruleBasedOnly" if rule_based_only and config.llm_enabled else None
        return Narration(result, metadata(result, detail=detail))
    mode = mode_of(config)
    facts, text = request_parts(service, mode=mode, result=result, features=features, lead=LeadData.of(lead),
                                thresholds=thresholds)
    trusted = trusted_numbers(facts)  # never the lead text: a number typed into a title is not a fact

    def check(answer: NarrativeAnswer) -> tuple[PredictionResult, float | None]:
        check_indices(answer, len(result.recommendations))
        wording = [answer.explanation] + [f"{w.action} {w.rationale} {w.expectedImpact}" for w in answer.recommendations]
        if isinstance(answer, PredictorAnswer):
            changed = merge.predict_with(result, answer, features=features, thresholds=thresholds,
                                         max_probability_shift=service.options.max_probability_shift)
            own = trusted_numbers({"p": changed.probability, "c": changed.confidence, "d": changed.predicted_days,
                                   "r": [changed.interval_low, changed.interval_high], "v": answer.dealValue,
                                   "recs": [r.rationale for r in changed.recommendations]})
            check_grounded(wording, allowed=trusted | own, level=changed.score_level)
            return changed, answer.dealValue
        check_grounded(wording, allowed=trusted, level=result.score_level)
        return merge.narrate(result, answer), None

    call = service.call(tenant=tenant, kind=mode, facts=facts, lead_text=text, check=check)
    if not call.ok:
        return Narration(result, metadata(result, call=call, mode=mode, status="fallback"), call=call)
    narrated, deal = call.answer
    return Narration(narrated, metadata(narrated, call=call, mode=mode, status="ok"), deal_value=deal, call=call)


@dataclass
class LlmUsage:
    """What a bulk job spent on the LLM."""

    requests: int = 0  # HTTP requests made (retries included)
    narrated: int = 0
    fallbacks: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    cost: float = 0.0

    def add(self, narration: Narration) -> None:
        meta = narration.metadata
        if meta["status"] == "ok":
            self.narrated += 1
        elif meta["status"] == "fallback":
            self.fallbacks[meta["fallbackReason"]] = self.fallbacks.get(meta["fallbackReason"], 0) + 1
        self.requests += meta["attempts"]
        self.tokens += meta["tokensUsed"]
        self.cost += meta["estimatedCost"]

    def to_dict(self) -> dict[str, Any]:
        return {"llmCalls": self.requests, "llmNarrated": self.narrated, "llmFallbacks": dict(self.fallbacks),
                "llmTokens": self.tokens, "llmEstimatedCost": round(self.cost, 8)}


@dataclass
class BatchItem:
    result: PredictionResult
    features: Mapping[str, Any]  # flat
    lead: Any  # a Lead row or a mapping (see LeadData.of)


def narrate_batch(service: LlmService | None, *, config: ScoringConfig, tenant: object, items: Sequence[BatchItem],
                  thresholds: Thresholds, rule_based_only: bool = False,
                  max_workers: int | None = None) -> tuple[list[Narration], LlmUsage]:
    """The LLM step for many predictions, a few at a time, in input order. The tenant's rate limit and
    circuit breaker apply across the batch: once the endpoint fails repeatedly the rest fall back
    without a call (`circuit_open`)."""
    usage = LlmUsage()

    def one(item: BatchItem) -> Narration:
        return narrate_prediction(service, config=config, tenant=tenant, result=item.result, features=item.features,
                                  lead=item.lead, thresholds=thresholds, rule_based_only=rule_based_only)

    if not items:
        return [], usage
    workers = max_workers or (service.options.bulk_concurrency if service is not None else 1)
    if not wanted(service, config, rule_based_only=rule_based_only) or workers <= 1:
        out = [one(item) for item in items]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leadml-llm") as pool:
            out = list(pool.map(one, items))
    for narration in out:
        usage.add(narration)
    return out, usage


RANKED_LEAD_FACTS = ("priorityRank", "priorityTier", "priorityScore", "conversionProbability", "scoreLevel", "score",
                     "predictedDays")


def ranking_facts(rankings: Sequence[Mapping[str, Any]], insights: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers and levels only: per lead the RANKED_LEAD_FACTS (no email, name, company, title or
    reasoning text), and the numeric aggregates. Computed patterns are not sent (they may quote
    custom attribute values)."""
    leads = [{k: privacy.plain(r.get(k)) for k in RANKED_LEAD_FACTS} for r in rankings]
    aggregates = {k: privacy.plain(v) for k, v in insights.items() if isinstance(v, int | float) or v is None}
    return {"aggregates": aggregates, "leads": leads}


def narrate_ranking_insights(service: LlmService | None, *, config: ScoringConfig, tenant: object,
                             rankings: Sequence[Mapping[str, Any]],
                             insights: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(insights, llmMetadata) for ranked-leads. With the LLM on, `commonPatterns` are its phrases and
    `summary` its text; the numbers in `insights` stay as computed."""
    out = dict(insights)
    base = PredictionResult(source="rules", probability=0.0, confidence=0.0, score_level="DEAD", predicted_days=0.0,
                            interval_low=0.0, interval_high=0.0, score=0.0, score_breakdown={})
    if not wanted(service, config, rule_based_only=False) or not rankings:
        meta = metadata(base)
        meta["model"] = "computed"
        return out, meta
    facts = ranking_facts(rankings, insights)
    trusted = trusted_numbers(facts)

    def check(answer: InsightsAnswer) -> InsightsAnswer:
        check_grounded([answer.summary, *answer.commonPatterns], allowed=trusted, level=None)
        return answer

    call = service.call(tenant=tenant, kind="insights", facts=facts, check=check)
    if not call.ok:
        meta = metadata(base, call=call, mode="insights", status="fallback")
        meta["model"] = "computed"
        return out, meta
    out["commonPatterns"] = list(call.answer.commonPatterns)
    out["summary"] = call.answer.summary
    return out, metadata(base, call=call, mode="insights", status="ok")


def preview(service: LlmService, *, config: ScoringConfig, result: PredictionResult, features: Mapping[str, Any],
            lead: Any, thresholds: Thresholds, mode: str | None = None) -> dict[str, Any]:
    """The exact request a prediction of this lead would send now, without sending it."""
    mode = mode or mode_of(config)
    facts, text = request_parts(service, mode=mode, result=result, features=features, lead=LeadData.of(lead),
                                thresholds=thresholds)
    return {
        "url": service.options.endpoint,
        "method": "POST",
        "headers": {"Authorization": "Bearer <LEADML_LLM_API_KEY>", "Content-Type": "application/json"},
        "body": service.request(mode, facts, text),
        "llmEnabled": bool(config.llm_enabled),
        "mode": mode,
    }

