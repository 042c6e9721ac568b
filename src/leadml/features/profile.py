"""Demographic rules: who the lead is (email domain, title seniority, company size).

Each rule is written once as a regular expression or a small table and applied two ways: a
scalar function for one lead and a polars expression for the whole table. Both use the same
patterns (Python `re` and polars' regex engine agree on the constructs used here), which is what
keeps the two feature paths giving identical answers.
"""

from __future__ import annotations

import re

import polars as pl

# --- email domain -------------------------------------------------------------------------------

# Webmail providers. A domain is "free" when its first label is one of these and the rest is a
# plain country or generic ending: gmail.com, yahoo.co.uk, hotmail.fr, gmx.de, yandex.com.tr ...
FREE_EMAIL_PROVIDERS = (
    "gmail",
    "googlemail",
    "yahoo",
    "ymail",
    "rocketmail",
    "hotmail",
    "outlook",
    "live",
    "msn",
    "aol",
    "aim",
    "icloud",
    "me",
    "mac",
    "mail",
    "email",
    "protonmail",
    "proton",
    "pm",
    "tutanota",
    "zoho",
    "zohomail",
    "yandex",
    "ya",
    "gmx",
    "web",
    "t-online",
    "freenet",
    "laposte",
    "orange",
    "wanadoo",
    "free",
    "libero",
    "virgilio",
    "rediffmail",
    "qq",
    "163",
    "126",
    "naver",
    "daum",
    "hanmail",
    "rambler",
    "seznam",
    "wp",
    "o2",
    "interia",
    "bol",
    "uol",
    "terra",
    "fastmail",
    "hushmail",
    "inbox",
    "att",
    "comcast",
    "verizon",
    "sbcglobal",
    "btinternet",
    "sky",
)
_ENDING = r"(?:[a-z]{2,}|(?:co|com|net|org|ne|or)\.[a-z]{2})"
# The address part after the last "@": must contain a dot and no whitespace.
EMAIL_DOMAIN_PATTERN = r"@([^@\s]+\.[^@\s.]+)$"
FREE_DOMAIN_PATTERN = r"^(?:" + "|".join(re.escape(p) for p in FREE_EMAIL_PROVIDERS) + r")\." + _ENDING + "$"
EDU_DOMAIN_PATTERN = r"(?:^|\.)(?:edu|edu\.[a-z]{2}|ac\.[a-z]{2})$"
GOVERNMENT_DOMAIN_PATTERN = r"(?:^|\.)(?:gov|mil|gov\.[a-z]{2}|gouv\.[a-z]{2}|gob\.[a-z]{2}|go\.[a-z]{2})$"

_EMAIL_DOMAIN_RE = re.compile(EMAIL_DOMAIN_PATTERN)
_FREE_RE = re.compile(FREE_DOMAIN_PATTERN)
_EDU_RE = re.compile(EDU_DOMAIN_PATTERN)
_GOV_RE = re.compile(GOVERNMENT_DOMAIN_PATTERN)


def email_domain(email: str | None) -> str | None:
    if email is None:
        return None
    match = _EMAIL_DOMAIN_RE.search(email.strip().lower())
    return match.group(1) if match else None


def email_domain_type(email: str | None) -> str:
    domain = email_domain(email)
    if domain is None:
        return "unknown"
    if _FREE_RE.search(domain):
        return "free"
    if _EDU_RE.search(domain):
        return "edu"
    if _GOV_RE.search(domain):
        return "government"
    return "corporate"


def email_domain_expr(email: pl.Expr) -> pl.Expr:
    return email.str.strip_chars().str.to_lowercase().str.extract(EMAIL_DOMAIN_PATTERN, 1)


def email_domain_type_expr(domain: pl.Expr) -> pl.Expr:
    return (
        pl.when(domain.is_null())
        .then(pl.lit("unknown"))
        .when(domain.str.contains(FREE_DOMAIN_PATTERN))
        .then(pl.lit("free"))
        .when(domain.str.contains(EDU_DOMAIN_PATTERN))
        .then(pl.lit("edu"))
        .when(domain.str.contains(GOVERNMENT_DOMAIN_PATTERN))
        .then(pl.lit("government"))
        .otherwise(pl.lit("corporate"))
    )


# --- title seniority ----------------------------------------------------------------------------

# "Vice President" is rewritten to "vp" first so that the bare word "president" (c_level) cannot
# match inside it: "Vice President of Sales" is vp, "President & CEO" is c_level.
VICE_PRESIDENT_PATTERN = r"\bvice[\s-]*president\b"
SENIORITY_PATTERNS = (
    ("c_level", r"\b(?:ceo|cto|cfo|cio|coo|cmo|cro|cpo|chief|founder|cofounder|president)\b"),
    ("vp", r"\b(?:vp|svp|evp|avp)\b"),
    ("director", r"\b(?:director|head\s+of)\b"),
    ("manager", r"\b(?:manager|supervisor|team[\s-]*lead|team[\s-]*leader)\b"),
)
_VICE_PRESIDENT_RE = re.compile(VICE_PRESIDENT_PATTERN)
_SENIORITY_RES = tuple((level, re.compile(pattern)) for level, pattern in SENIORITY_PATTERNS)


def title_seniority(title: str | None) -> str:
    if title is None or not title.strip():
        return "unknown"
    text = _VICE_PRESIDENT_RE.sub("vp", title.strip().lower())
    for level, pattern in _SENIORITY_RES:
        if pattern.search(text):
            return level
    return "individual"


def title_seniority_expr(title: pl.Expr) -> pl.Expr:
    trimmed = title.str.strip_chars()
    text = trimmed.str.to_lowercase().str.replace_all(VICE_PRESIDENT_PATTERN, "vp")
    expr = pl.when(trimmed.is_null() | (trimmed == "")).then(pl.lit("unknown"))
    for level, pattern in SENIORITY_PATTERNS:
        expr = expr.when(text.str.contains(pattern)).then(pl.lit(level))
    return expr.otherwise(pl.lit("individual"))


# --- company size -------------------------------------------------------------------------------

# The heuristic, in order (documented in the feature catalogue):
#  1. an explicit employee-count attribute: >= 1000 enterprise, >= 200 mid_market, >= 11 smb,
#     >= 1 startup (a range such as "51-200" counts by its first number);
#  2. legal-form words of large groups (holdings, group, plc, ag, se, corporation) -> enterprise;
#  3. a corporate email domain on a startup ending (.io, .ai, .app, .dev, .tech, .xyz, bare .co)
#     -> startup (checked before the next rule because most startups are "Inc.");
#  4. incorporated-company words (inc, corp, gmbh, sa, nv, bv, ...) -> mid_market;
#  5. small-company words (llc, ltd, limited, pty, sarl, ...) -> smb;
#  6. a company name with a free webmail address -> smb; otherwise unknown.
SIZE_THRESHOLDS = ((1000, "enterprise"), (200, "mid_market"), (11, "smb"), (1, "startup"))
ENTERPRISE_FORM_PATTERN = r"\b(?:holdings?|group|plc|ag|se|kgaa|corporation)\b"
MID_MARKET_FORM_PATTERN = r"\b(?:inc|incorporated|corp|co|company|gmbh|sa|spa|sas|nv|bv|ab|oy|kk)\b"
SMB_FORM_PATTERN = r"\b(?:llc|llp|pllc|lp|ltd|limited|pty|sarl|srl|sprl|ug|bvba|eurl)\b"
STARTUP_DOMAIN_PATTERN = r"\.(?:io|ai|app|dev|tech|xyz|co)$"
# Employee-count values: first number, optionally "k" for thousands ("10k+", "1,001-5,000").
EMPLOYEE_COUNT_PATTERN = r"([0-9]+(?:\.[0-9]+)?)\s*(k\b)?"
SIZE_WORDS = (
    ("enterprise", r"\b(?:enterprise|large)\b"),
    ("mid_market", r"\b(?:mid[\s_-]*market|mid[\s_-]*size[d]?|medium)\b"),
    ("smb", r"\b(?:smb|sme|small)\b"),
    ("startup", r"\b(?:startup|start[\s-]up)\b"),
)

_ENTERPRISE_RE = re.compile(ENTERPRISE_FORM_PATTERN)
_MID_RE = re.compile(MID_MARKET_FORM_PATTERN)
_SMB_RE = re.compile(SMB_FORM_PATTERN)
_STARTUP_DOMAIN_RE = re.compile(STARTUP_DOMAIN_PATTERN)
_COUNT_RE = re.compile(EMPLOYEE_COUNT_PATTERN)
_SIZE_WORD_RES = tuple((size, re.compile(pattern)) for size, pattern in SIZE_WORDS)


def size_from_count(count: float | None) -> str | None:
    if count is None:
        return None
    for threshold, size in SIZE_THRESHOLDS:
        if count >= threshold:
            return size
    return None


def size_from_employee_value(value: object) -> str | None:
    """An employee-count attribute value (number or text such as "51-200") as a size class."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return size_from_count(None if value != value else float(value))  # NaN is missing
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace(",", "")
    match = _COUNT_RE.search(text)
    if match:
        count = float(match.group(1)) * (1000.0 if match.group(2) else 1.0)
        return size_from_count(count)
    for size, pattern in _SIZE_WORD_RES:
        if pattern.search(text):
            return size
    return None


def _company_words(company: str) -> str:
    # "Acme Inc." -> "acme inc", "S.A." -> "sa": legal forms are matched without their dots.
    return company.strip().lower().replace(".", "")


def company_form(company: str | None) -> str | None:
    """The size class its legal-form words suggest (enterprise / mid_market / smb), else None."""
    if company is None or not company.strip():
        return None
    words = _company_words(company)
    for size, pattern in (("enterprise", _ENTERPRISE_RE), ("mid_market", _MID_RE), ("smb", _SMB_RE)):
        if pattern.search(words):
            return size
    return None


def is_startup_domain(email: str | None) -> bool:
    return email_domain_type(email) == "corporate" and bool(_STARTUP_DOMAIN_RE.search(email_domain(email) or ""))


def combine_company_size(
    explicit: str | None, form: str | None, startup_domain: bool, has_company: bool, domain_type: str
) -> str:
    """Rules 1-6 of the heuristic above, from their parts."""
    if explicit is not None:
        return explicit
    if form == "enterprise":
        return form
    if startup_domain:
        return "startup"
    if form is not None:
        return form
    return "smb" if has_company and domain_type == "free" else "unknown"


def company_size_estimate(company: str | None, email: str | None, employee_value: object = None) -> str:
    has_company = company is not None and company.strip() != ""
    return combine_company_size(
        size_from_employee_value(employee_value),
        company_form(company),
        is_startup_domain(email),
        has_company,
        email_domain_type(email),
    )


def size_from_employee_expr(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """The polars twin of `size_from_employee_value` for one attribute column of `dtype`."""
    if dtype.is_numeric():
        count = value.cast(pl.Float64).fill_nan(None)
        return _size_from_count_expr(count)
    if dtype != pl.String:
        return pl.lit(None, dtype=pl.String)
    text = value.str.strip_chars().str.to_lowercase().str.replace_all(",", "", literal=True)
    number = text.str.extract(EMPLOYEE_COUNT_PATTERN, 1).cast(pl.Float64)
    thousands = text.str.extract(EMPLOYEE_COUNT_PATTERN, 2).is_not_null()
    count = pl.when(thousands).then(number * 1000.0).otherwise(number)
    words = pl.lit(None, dtype=pl.String)
    for size, pattern in reversed(SIZE_WORDS):
        words = pl.when(text.str.contains(pattern)).then(pl.lit(size)).otherwise(words)
    return pl.when(number.is_not_null()).then(_size_from_count_expr(count)).otherwise(words)


def _size_from_count_expr(count: pl.Expr) -> pl.Expr:
    expr = pl.when(count.is_null()).then(pl.lit(None, dtype=pl.String))
    for threshold, size in SIZE_THRESHOLDS:
        expr = expr.when(count >= threshold).then(pl.lit(size))
    return expr.otherwise(pl.lit(None, dtype=pl.String))


def company_form_expr(company: pl.Expr) -> pl.Expr:
    words = company.str.strip_chars().str.to_lowercase().str.replace_all(".", "", literal=True)
    return (
        pl.when(words.str.contains(ENTERPRISE_FORM_PATTERN))
        .then(pl.lit("enterprise"))
        .when(words.str.contains(MID_MARKET_FORM_PATTERN))
        .then(pl.lit("mid_market"))
        .when(words.str.contains(SMB_FORM_PATTERN))
        .then(pl.lit("smb"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def startup_domain_expr(domain: pl.Expr, domain_type: pl.Expr) -> pl.Expr:
    return ((domain_type == "corporate") & domain.str.contains(STARTUP_DOMAIN_PATTERN)).fill_null(False)


def combine_company_size_expr(
    explicit: pl.Expr, form: pl.Expr, startup_domain: pl.Expr, has_company: pl.Expr, domain_type: pl.Expr
) -> pl.Expr:
    return (
        pl.when(explicit.is_not_null())
        .then(explicit)
        .when(form == "enterprise")
        .then(form)
        .when(startup_domain)
        .then(pl.lit("startup"))
        .when(form.is_not_null())
        .then(form)
        .when(has_company & (domain_type == "free"))
        .then(pl.lit("smb"))
        .otherwise(pl.lit("unknown"))
    )
