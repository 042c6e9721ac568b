"""Who the synthetic leads are: domain, seniority, company size, names, contact details, attributes.

Each property is a numpy array of small integer codes (one entry per lead), drawn with probabilities
that depend on the codes drawn before (e.g. students mostly write from university addresses). The
strings the import format shows (names, emails, titles, companies) are assembled from the codes with
polars in a handful of column operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from leadml.synth import names as vocab

CORPORATE, FREE, EDU, GOV = 0, 1, 2, 3
C_LEVEL, VP, DIRECTOR, MANAGER, INDIVIDUAL, NO_TITLE = 0, 1, 2, 3, 4, 5
ENTERPRISE, MID_MARKET, SMB, STARTUP = 0, 1, 2, 3

DOMAIN_TYPE_SHARES = [0.56, 0.34, 0.05, 0.05]
# Rows: domain type; columns: seniority band (c_level ... no title).
SENIORITY_BY_DOMAIN = np.array([
    [0.10, 0.08, 0.15, 0.25, 0.34, 0.08],
    [0.10, 0.02, 0.04, 0.12, 0.50, 0.22],
    [0.02, 0.01, 0.08, 0.10, 0.64, 0.15],
    [0.03, 0.03, 0.15, 0.25, 0.44, 0.10],
])
# Rows: domain type; columns: enterprise, mid_market, smb, startup.
SIZE_BY_DOMAIN = np.array([
    [0.20, 0.25, 0.35, 0.20],
    [0.03, 0.07, 0.40, 0.50],
    [0.45, 0.35, 0.15, 0.05],
    [0.50, 0.30, 0.15, 0.05],
])


def choose(rng: np.random.Generator, weights, n: int) -> np.ndarray:
    """n draws of an index into `weights` (any non-negative numbers)."""
    cdf = np.cumsum(np.asarray(weights, dtype=float))
    return np.minimum(np.searchsorted(cdf / cdf[-1], rng.random(n), side="right"), len(cdf) - 1)


def choose_by_row(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One draw per lead from the probability row `table[row[i]]`."""
    cdf = np.cumsum(table, axis=1)
    cdf = cdf / cdf[:, -1:]
    return np.minimum((rng.random(len(row))[:, None] >= cdf[row]).sum(axis=1), table.shape[1] - 1)


def pick(values: list, index: np.ndarray) -> pl.Series:
    """values[index] as a polars string column (None entries give nulls)."""
    return pl.Series(values, dtype=pl.String).gather(pl.Series(index, dtype=pl.UInt32))


@dataclass
class Profiles:
    domain_type: np.ndarray  # CORPORATE / FREE / EDU / GOV
    seniority: np.ndarray  # C_LEVEL ... NO_TITLE
    size: np.ndarray  # ENTERPRISE ... STARTUP (the truth, whether or not the data shows it)
    country: np.ndarray
    industry: np.ndarray
    lead_source: np.ndarray
    has_company: np.ndarray  # bool
    has_phone: np.ndarray  # bool
    columns: dict[str, pl.Series]  # import-format string/number columns


def draw_profiles(rng: np.random.Generator, n: int) -> Profiles:
    domain_type = choose(rng, DOMAIN_TYPE_SHARES, n)
    seniority = choose_by_row(rng, SENIORITY_BY_DOMAIN, domain_type)
    size = choose_by_row(rng, SIZE_BY_DOMAIN, domain_type)
    country = choose(rng, vocab.COUNTRY_WEIGHTS, n)
    industry = choose(rng, vocab.INDUSTRY_WEIGHTS, n)
    industry[domain_type == EDU] = vocab.INDUSTRIES.index("Education")
    industry[domain_type == GOV] = vocab.INDUSTRIES.index("Government")
    lead_source = choose(rng, vocab.LEAD_SOURCE_WEIGHTS, n)

    # Personal addresses often come without a company; everyone else names one.
    has_company = np.where(domain_type == FREE, rng.random(n) < 0.45, rng.random(n) < 0.97)
    senior = seniority <= DIRECTOR
    phone_share = 0.30 + 0.20 * (domain_type == CORPORATE) + 0.20 * senior
    has_phone = rng.random(n) < phone_share

    first = rng.integers(0, len(vocab.FIRST_NAMES), n)
    last = rng.integers(0, len(vocab.LAST_NAMES), n)
    columns: dict[str, pl.Series] = {}
    columns["name"] = _join(" ", pick(vocab.FIRST_NAMES, first), pick(vocab.LAST_NAMES, last))
    company, domain = _companies_and_domains(rng, n, domain_type, size, country, last, has_company)
    local = _join(
        "",
        pick([vocab.slug(x) for x in vocab.FIRST_NAMES], first),
        pl.repeat(".", n, eager=True),
        pick([vocab.slug(x) for x in vocab.LAST_NAMES], last),
        # The lead number makes every address unique (names repeat); digits never end a surname.
        pl.int_range(1, n + 1, eager=True).cast(pl.String),
    )
    columns["email"] = _join("@", local, domain)
    columns["company"] = company
    columns["title"] = _titles(rng, n, seniority, domain_type)
    columns["phone"] = _phones(rng, n, country, has_phone)
    columns["industry"] = pick(vocab.INDUSTRIES, industry)
    columns["leadSource"] = pick(vocab.LEAD_SOURCES, lead_source)
    columns["country"] = pick(vocab.COUNTRIES, country)
    columns["employees"] = _employees(rng, n, size, has_company)
    return Profiles(domain_type, seniority, size, country, industry, lead_source, has_company, has_phone, columns)


def _join(separator: str, *parts: pl.Series) -> pl.Series:
    return pl.select(pl.concat_str([pl.lit(p) for p in parts], separator=separator)).to_series()


def _companies_and_domains(rng, n, domain_type, size, country, last, has_company):
    first_word = rng.integers(0, len(vocab.COMPANY_FIRST), n)
    second_word = rng.integers(0, len(vocab.COMPANY_SECOND), n)
    # Legal form per size band; one in eight companies goes without one.
    forms = sorted({f for fs in vocab.LEGAL_FORMS_BY_SIZE.values() for f in fs})
    form_index = np.empty(n, dtype=np.int64)
    for band, name in enumerate(vocab.SIZE_NAMES):
        rows = np.flatnonzero(size == band)
        options = [forms.index(f) for f in vocab.LEGAL_FORMS_BY_SIZE[name]]
        form_index[rows] = np.asarray(options)[rng.integers(0, len(options), len(rows))]
    form = pick(forms + [None], np.where(rng.random(n) < 0.125, len(forms), form_index))
    corporate_name = pl.select(
        pl.concat_str(
            [pl.lit(pick(vocab.COMPANY_FIRST, first_word)), pl.lit(pick(vocab.COMPANY_SECOND, second_word)),
             pl.lit(form)],
            separator=" ", ignore_nulls=True,
        )
    ).to_series()
    corporate_domain = _join(
        "",
        pick([vocab.slug(w) for w in vocab.COMPANY_FIRST], first_word),
        pick([vocab.slug(w) for w in vocab.COMPANY_SECOND], second_word),
        pick(vocab.COUNTRY_TLDS, np.where(rng.random(n) < 0.5, 0, country)),
    )
    city = rng.integers(0, len(vocab.CITIES), n)
    edu_kind = rng.integers(0, 3, n)
    edu_name = pick(["University of {}", "{} State University", "{} Institute of Technology"], edu_kind)
    city_name = pick(vocab.CITIES, city)
    edu_name = pl.select(pl.lit(edu_name).str.replace("{}", pl.lit(city_name), literal=True)).to_series()
    city_slug = pick([vocab.slug(c) for c in vocab.CITIES], city)
    edu_domain = _join("", city_slug, pick(vocab.COUNTRY_EDU_SUFFIX, country))
    gov_name = pl.select(
        pl.when(pl.lit(pl.Series(rng.random(n) < 0.5)))
        .then(pl.concat_str([pl.lit("City of "), pl.lit(city_name)]))
        .otherwise(pl.concat_str([pl.lit("Department of "),
                                  pl.lit(pick(vocab.GOV_DEPARTMENTS, rng.integers(0, len(vocab.GOV_DEPARTMENTS), n)))]))
    ).to_series()
    gov_domain = _join("", city_slug, pick(vocab.COUNTRY_GOV_SUFFIX, country))
    # Freelancers and founders writing from a personal address.
    freelance = _join(" ", pick(vocab.LAST_NAMES, last),
                      pick(["Consulting", "& Partners", "Studio", "Labs LLC", "Design"], rng.integers(0, 5, n)))
    free_domain = pick(vocab.FREE_DOMAINS, choose(rng, vocab.FREE_DOMAIN_WEIGHTS, n))

    kind = pl.Series(domain_type.astype(np.int8))
    frame = pl.DataFrame({
        "kind": kind, "has": has_company, "corp": corporate_name, "corp_d": corporate_domain,
        "edu": edu_name, "edu_d": edu_domain, "gov": gov_name, "gov_d": gov_domain,
        "free": freelance, "free_d": free_domain,
    })
    by_kind = [("corp", "corp_d"), ("free", "free_d"), ("edu", "edu_d"), ("gov", "gov_d")]
    company = pl.when(pl.col("kind") == 0).then(pl.col("corp"))
    domain = pl.when(pl.col("kind") == 0).then(pl.col("corp_d"))
    for code, (name_col, domain_col) in enumerate(by_kind[1:], start=1):
        company = company.when(pl.col("kind") == code).then(pl.col(name_col))
        domain = domain.when(pl.col("kind") == code).then(pl.col(domain_col))
    out = frame.select(
        company=pl.when(pl.col("has")).then(company.otherwise(None)).otherwise(None),
        domain=domain.otherwise(None),
    )
    return out["company"], out["domain"]


def _titles(rng, n, seniority, domain_type) -> pl.Series:
    titles: list[str | None] = []
    index = np.full(n, -1, dtype=np.int64)
    for band, name in enumerate(vocab.SENIORITY_NAMES[:-1]):
        rows = np.flatnonzero(seniority == band)
        options = vocab.TITLES_BY_SENIORITY[name]
        index[rows] = len(titles) + rng.integers(0, len(options), len(rows))
        titles.extend(options)
    # Most individual contributors at universities are students.
    students = np.flatnonzero((seniority == INDIVIDUAL) & (domain_type == EDU) & (rng.random(n) < 0.7))
    index[students] = len(titles) + rng.integers(0, len(vocab.STUDENT_TITLES), len(students))
    titles.extend(vocab.STUDENT_TITLES)
    # Some personal-address individuals are students too.
    more = np.flatnonzero((seniority == INDIVIDUAL) & (domain_type == FREE) & (rng.random(n) < 0.2))
    index[more] = len(titles) - len(vocab.STUDENT_TITLES)
    titles.append(None)
    index[index < 0] = len(titles) - 1
    return pick(titles, index)


def _phones(rng, n, country, has_phone) -> pl.Series:
    code = pick(vocab.COUNTRY_CALLING_CODES, country)
    area = pl.Series(rng.integers(200, 1000, n)).cast(pl.String)
    number = pl.Series(rng.integers(1_000_000, 10_000_000, n)).cast(pl.String)
    phone = _join(" ", code, area, number)
    return pl.select(pl.when(pl.lit(pl.Series(has_phone))).then(pl.lit(phone))).to_series()


def _employees(rng, n, size, has_company) -> pl.Series:
    low = np.array([vocab.EMPLOYEE_RANGES[s][0] for s in vocab.SIZE_NAMES], dtype=float)[size]
    high = np.array([vocab.EMPLOYEE_RANGES[s][1] for s in vocab.SIZE_NAMES], dtype=float)[size]
    employees = np.floor(np.exp(np.log(low) + rng.random(n) * (np.log(high) - np.log(low)))).astype(np.int64)
    # A CRM knows the head count for about two thirds of the companies it has.
    known = has_company & (rng.random(n) < 0.65)
    return pl.select(pl.when(pl.lit(pl.Series(known))).then(pl.lit(pl.Series(employees)))).to_series()
