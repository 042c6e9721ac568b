"""The feature catalogue: every feature's name, category, type and definition, in output order.

docs/features.md is generated from this module (`python -m leadml.features.catalogue`; add
`--check` to fail when the committed file is stale), so the documentation cannot drift from code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from leadml.features import activity_rules as rules
from leadml.features import attributes, profile

Category = Literal["demographic", "behavioral", "temporal", "engagement"]
Kind = Literal["bool", "int", "float", "category"]
CATEGORIES: tuple[Category, ...] = ("demographic", "behavioral", "temporal", "engagement")
POLARS_TYPES: dict[str, pl.DataType] = {
    "bool": pl.Boolean(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "category": pl.String(),
}


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    category: Category
    kind: Kind
    definition: str
    values: tuple[str, ...] = ()  # the possible values of a category feature
    nullable: bool = False

    @property
    def dtype(self) -> pl.DataType:
        return POLARS_TYPES[self.kind]


def _spec(name, category, kind, definition, values=(), nullable=False) -> FeatureSpec:
    return FeatureSpec(name, category, kind, definition, tuple(values), nullable)


_PATTERN = ("weekday", "weekend", "mixed", rules.NO_ACTIVITY_PATTERN)
FEATURES: tuple[FeatureSpec, ...] = (
    _spec("hasCompany", "demographic", "bool", "A company name is given (trimmed, non-empty)."),
    _spec("hasTitle", "demographic", "bool", "A job title is given (trimmed, non-empty)."),
    _spec("hasPhone", "demographic", "bool", "A phone number is given (trimmed, non-empty)."),
    _spec("emailDomainType", "demographic", "category",
          "Kind of email domain: `free` webmail (see the list below, with country endings), `edu` "
          "(.edu, .edu.xx, .ac.xx), `government` (.gov, .gov.xx, .gouv.xx, .gob.xx, .go.xx, .mil), "
          "`corporate` otherwise, `unknown` without a usable address.",
          ("free", "edu", "government", "corporate", "unknown")),
    _spec("titleSeniority", "demographic", "category",
          "Seniority from the title, first match wins: `c_level` (ceo, cto, cfo, cio, coo, cmo, cro, cpo, "
          "chief, founder, cofounder, president - but \"vice president\" is `vp`), `vp` (vp, svp, evp, avp, "
          "vice president), `director` (director, head of), `manager` (manager, supervisor, team lead), "
          "`individual` otherwise, `unknown` without a title.",
          ("c_level", "vp", "director", "manager", "individual", "unknown")),
    _spec("companySizeEstimate", "demographic", "category",
          "Company size class by the heuristic described below (employee-count attribute, else legal "
          "form and email domain).",
          ("enterprise", "mid_market", "smb", "startup", "unknown")),
    *(
        _spec(name, "behavioral", "int", f"Inbound `{kind}` activities up to the as-of time.")
        for name, kind in rules.TYPE_COUNT_FEATURES.items()
    ),
    _spec("totalActivities", "behavioral", "int",
          "All inbound activities up to the as-of time, unknown types included."),
    _spec("activityVelocity", "behavioral", "float",
          "totalActivities per day of lead age: totalActivities / max(daysSinceCreated, 1)."),
    _spec("channelDiversity", "behavioral", "int",
          "Distinct channels among the inbound activities, out of: "
          + ", ".join(rules.CHANNELS) + " (email = email_sent/open/click, web = page_view, form = "
          "form_submit). Unknown types belong to no channel."),
    _spec("highValueActionCount", "behavioral", "int", "Inbound meetings + calls + form submits."),
    _spec("daysSinceCreated", "temporal", "float",
          "Fractional days from created_at to the as-of time (0 when created after it)."),
    _spec("daysSinceLastActivity", "temporal", "float",
          "Fractional days from the last inbound activity to the as-of time; null without inbound "
          "activity (not the lead's age).", nullable=True),
    _spec("recencyScore", "temporal", "float",
          "100 * 0.5^(daysSinceLastActivity / 7): a 7-day half-life; 0 without inbound activity."),
    _spec("activityBurst", "temporal", "bool",
          "At least 3 inbound activities within one 24-hour window (first to third at most 24 h apart)."),
    _spec("dayPattern", "temporal", "category",
          "Share of inbound activities on Monday-Friday (config timezone): > 0.8 `weekday`, < 0.2 "
          "`weekend`, else `mixed`; `none` without inbound activity.", _PATTERN),
    _spec("timePattern", "temporal", "category",
          "Share of inbound activities from 9:00 to 17:59 local time (any day): > 0.7 `business_hours`, "
          "< 0.3 `after_hours`, else `mixed`; `none` without inbound activity.",
          ("business_hours", "after_hours", "mixed", rules.NO_ACTIVITY_PATTERN)),
    _spec("emailOpenRate", "engagement", "float",
          "Inbound email opens / outbound `email_sent`; null when no email was sent (not capped: "
          "repeated opens can exceed 1).", nullable=True),
    _spec("emailClickRate", "engagement", "float",
          "Inbound email clicks / outbound `email_sent`; null when no email was sent.", nullable=True),
    _spec("sequenceEngagement", "engagement", "float",
          "(sequence step + 1) / sequence total steps (step counted from 0), clipped to [0, 1]; 0 "
          "without a sequence."),
    _spec("avgResponseTime", "engagement", "float",
          "Mean hours from each outbound touch to the next inbound activity strictly after it (both up "
          "to the as-of time); touches not yet answered are left out; null when no touch was answered.",
          nullable=True),
    _spec("isInActiveSequence", "engagement", "bool", "The lead is enrolled in an active nurture sequence."),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURES_BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}

DOC_PATH = Path("docs") / "features.md"


def render_markdown() -> str:
    lines = [
        "# Lead features",
        "",
        "<!-- Generated by `python -m leadml.features.catalogue`; do not edit by hand. -->",
        "",
        "Every feature is computed for one lead as of a point in time (the *as-of time*). Nothing after it",
        "is read: activities later than the as-of time are ignored; activities before the lead's creation",
        "are counted (CRM imports can have them). Hours and weekdays are in the scoring config's IANA",
        "timezone. *Inbound* activities are what the lead did; *outbound* ones (`email_sent` by default)",
        "are what we did and never count as engagement. An activity's direction is `inbound` or",
        "`outbound` as recorded, and the type's default when missing or unrecognised. Activity types",
        "are compared trimmed and lower-case; unknown types are counted as generic inbound activity.",
        "",
        "Two code paths give the same values: `extract_features` (one lead, returns the groups below)",
        "and `extract_feature_table` (a polars frame, one column per feature). `flatten` turns the",
        f"groups into the flat names used as column names; custom attributes are `{attributes.CUSTOM_PREFIX}<name>`.",
        "",
    ]
    for category in CATEGORIES:
        lines += [f"## {category.capitalize()}", "", "| feature | type | definition |", "| --- | --- | --- |"]
        for f in (f for f in FEATURES if f.category == category):
            kind = f.kind + (", nullable" if f.nullable else "")
            lines.append(f"| `{f.name}` | {kind} | {f.definition} |")
        lines.append("")
    lines += [
        "## Custom",
        "",
        "The config's chosen lead attributes (all of them by default), as "
        f"`{attributes.CUSTOM_PREFIX}<attribute name>`.",
        "An attribute is `numeric` (float, nullable) when every value across the leads it was typed on",
        "is a number, a boolean (1.0 / 0.0) or text reading as a number (blank text is missing there).",
        "Otherwise it is `categorical` (text, nullable): every value becomes text, booleans as",
        "`true` / `false`, integral numbers without a decimal point; values such as `Select` or an empty",
        "string are ordinary categories. The kinds are decided once on the training leads and reused",
        "when scoring, so one lead is coerced exactly as its training rows were.",
        "",
        "## Company size heuristic",
        "",
        "`companySizeEstimate` takes the first rule that applies:",
        "",
        "1. An employee-count attribute, found by name compared lower-case without punctuation ("
        + ", ".join(f"`{k}`" for k in attributes.EMPLOYEE_COUNT_KEYS)
        + "). Numbers or text such as `51-200`, `1,001-5,000` or `10k+` (the first number counts): "
        + ", ".join(f">= {t} `{s}`" for t, s in profile.SIZE_THRESHOLDS)
        + ". Text without a number may name the class (enterprise/large, mid-market/medium, smb/small,"
        " startup).",
        "2. The company name has a large-group legal form (holdings, group, plc, ag, se, kgaa, "
        "corporation): `enterprise`.",
        "3. A corporate email domain on a startup ending (.io, .ai, .app, .dev, .tech, .xyz, bare .co): "
        "`startup`. It is checked before the next rule because most startups are incorporated.",
        "4. An incorporated-company form (inc, incorporated, corp, co, company, gmbh, sa, spa, sas, nv, bv, "
        "ab, oy, kk): `mid_market`.",
        "5. A small-company form (llc, llp, pllc, lp, ltd, limited, pty, sarl, srl, sprl, ug, bvba, eurl): "
        "`smb`.",
        "6. A company name with a free webmail address: `smb`. Otherwise `unknown`.",
        "",
        "Legal forms are matched as whole words, case-insensitive, ignoring dots: `Acme Inc.`, `Acme Corp.`",
        "and `Acme S.A.` are recognised.",
        "",
        "## Free webmail providers",
        "",
        "A domain is `free` when it is one of these names followed by a generic or country ending",
        "(`.com`, `.de`, `.co.uk`, `.com.br`, ...):",
        "",
        ", ".join(f"`{p}`" for p in profile.FREE_EMAIL_PROVIDERS) + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    paths = [a for a in argv if not a.startswith("--")]
    path = Path(paths[0]) if paths else DOC_PATH
    text = render_markdown()
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{path} is out of date: run python -m leadml.features.catalogue", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
