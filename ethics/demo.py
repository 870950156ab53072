"""A deterministic demo portfolio: six sales models, eight weeks of data, consent and incidents.

Everything is drawn from seeded NumPy generators and every timestamp is derived from a
fixed "today", so two builds give byte-identical Parquet files and identical snapshot
hashes.  The data carries the stories the dashboard is meant to show:

* ``lead-scoring`` learned a historic bias through a proxy: ``postcode_region`` is
  strongly associated with the age band and the training labels penalise some regions,
  so leads aged 55+ are selected far less often (the four-fifths rule fails).
* ``lead-call-list`` (ranking) is how those scores are used: each team calls the day's
  inbound leads from the top of its list, as many as its representatives reach that day.
  The lists are daily lists per team (``lists = ["team", "scored_on"]``) and every row
  carries its team's daily k in ``capacity`` (north 250, south 200, west 120 calls a day;
  a tenth in the small demo): a per-team table in the manifest would need one list per
  team and week, which is not how a call list is worked.  Its rows are the lead model's
  leads with the scores its artifact gave, so the same proxy bias calls leads aged 55+
  far less often (the selection at capacity fails the four-fifths rule).  The week of
  "today" holds only the lists up to today.
* ``discount-size`` (continuous) is a vendor model (scores only) that proposes a discount in
  percentage points, in half-point steps; the deal size band (small, medium, large) is the
  legitimate factor, as bigger deals get more discount.  At equal deal size customers aged
  55+ got about 2 points less discount than 25-34 in the deals it learned from, and so they
  still do; the realised discount of the evaluation sets is what the deal desk finally
  granted.  The demo's ``ethics.toml`` sets the model's thresholds in its unit, so the gap
  fails; a customer contests her smaller discount.
* ``next-best-offer`` (multiclass) picks one of four offers (premium bundle, plan upgrade,
  add-on module, free training session, each with its expected value in EUR); it offers
  women the premium bundle less often than men, so its offer-rate verdict fails.
* every population drifts a little week by week, so trends look real.
* consent has gaps (never granted), withdrawals and objections during the eight weeks.
  Every model needs the ``ai_scoring`` purpose.

The binary models are trained once on a separate training sample; the weekly evaluation
sets and scoring batches are then scored by the registered artifacts on import, exactly as
real data would be.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from ethics import consent, datasets, incidents, privacy, registry, snapshots, store
from ethics.config import DB_FILE, SETTINGS_FILE, load_policy
from ethics.errors import ValidationError
from ethics.manifest import manifest_toml
from ethics.weeks import monday, week_of, weeks_before

DemoSize = Literal["full", "small"]

DEMO_TODAY = date(2026, 11, 25)
DEMO_ACTOR = "demo"
DEMO_SEED = 20261125
# Public by construction: only `python -m ethics demo --reproducible` uses it (see build_demo).
REPRODUCIBLE_PRIVACY_KEY = hashlib.sha256(f"ethics demo privacy key {DEMO_SEED}".encode()).digest()
DEMO_TEAMS: tuple[str, ...] = ("north", "south", "west")
DEMO_MODEL_IDS: tuple[str, ...] = (
    "lead-scoring", "churn-risk", "upsell-propensity", "discount-size", "next-best-offer", "lead-call-list",
)
AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55+")

_HOME_NOT_EMPTY = (
    "{db}: the data home already holds {count} registered model(s); the demo portfolio is "
    "only built into an empty data home."
)
_HOME_HINT = "Point ETHICS_HOME at an empty folder, or move the existing ethics.db away first."
# The demo's ethics.toml, written into the data home only when it has none: the discount model's
# differences are judged in its own unit, so its thresholds are set for it alone.
DEMO_SETTINGS = """\
# Written by `python -m ethics demo`; the shipped defaults (ethics/default.toml) apply to every other key.

# The discount model's differences are in percentage points of discount.
[policy.models."discount-size".continuous]
mean_difference = { warn_above = 0.5, fail_above = 1.0 }
"""
_BAD_WEEKS = "The demo needs at least one week of data, got weeks={weeks}."
_BAD_SIZE = "Demo size {size!r} is unknown; use 'full' or 'small'."

# Prospects (leads) and existing customers are separate parts of one customer pool.
_POOL = {
    "full": {"prospects": 50_000, "customers": 20_000},
    "small": {"prospects": 5_000, "customers": 2_000},
}
# Leads each team's representatives call per working day (the call list's k per daily list).
_CALL_CAPACITY = {
    "full": {"north": 250, "south": 200, "west": 120},
    "small": {"north": 25, "south": 20, "west": 12},
}
_TRAIN_FACTOR = 1.5
# One thread: on a busy two-core machine OpenMP's second thread makes training 10-30x slower.
_TRAIN_THREADS = 1
_AGE_SHARES = np.array([0.12, 0.25, 0.25, 0.20, 0.18])
# Where each age band lives: the centre of its postcode regions (1..9).
_REGION_CENTRE = np.array([2.0, 3.0, 4.5, 6.0, 8.0])
_REGION_SPREAD = 1.1
# Historic conversion penalty per postcode region: the injected bias the lead model learns.
_REGION_EFFECT = np.array([0.3, 0.25, 0.2, 0.1, 0.0, -0.15, -0.35, -0.5, -0.6])
# Labelled outcomes exist less often for the oldest leads (sampling bias of evaluation sets).
_EVAL_AGE_WEIGHT = np.array([1.0, 1.0, 1.0, 1.0, 0.75])
_SOURCES = np.array(["web_form", "crm", "call"], dtype=object)
_SOURCE_SHARES = np.array([0.55, 0.30, 0.15])


# -- people -------------------------------------------------------------------------------


def _customer_pool(rng: np.random.Generator, *, prospects: int, customers: int) -> pd.DataFrame:
    """Every person the demo knows: id, segment, team, sex, age band and postcode region."""
    n = prospects + customers
    age = rng.choice(len(AGE_BANDS), size=n, p=_AGE_SHARES)
    regions = np.arange(1, 10)
    weights = np.exp(-((regions[None, :] - _REGION_CENTRE[age][:, None]) ** 2) / (2 * _REGION_SPREAD**2))
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    region = 1 + (rng.random(n)[:, None] > cumulative).sum(axis=1)
    region = np.minimum(region, 9)
    # Sales territories follow regions (1-3 north, 4-6 south, 7-9 west); key accounts do not.
    team_index = np.where(rng.random(n) < 0.15, rng.integers(0, 3, n), (region - 1) // 3)
    sex = np.where(rng.random(n) < 0.48, "female", "male").astype(object)
    sex[rng.random(n) < 0.04] = None
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(1, n + 1)],
            "segment": np.where(np.arange(n) < prospects, "prospect", "customer"),
            "team": np.array(DEMO_TEAMS, dtype=object)[team_index],
            "sex": sex,
            "age_index": age,
            "age_band": np.array(AGE_BANDS, dtype=object)[age],
            "region": region,
        }
    )


def _draw_people(
    rng: np.random.Generator, pool: pd.DataFrame, *, segment: str, rows: int, drift: float, kind: str
) -> pd.DataFrame:
    """Sample one dataset's people; the share of older people grows with ``drift``."""
    members = pool[pool["segment"] == segment]
    age = members["age_index"].to_numpy()
    weights = 1.0 + 0.35 * drift * (age == 4) + 0.15 * drift * (age == 3)
    if kind == "eval":
        weights = weights * _EVAL_AGE_WEIGHT[age]
    chosen = rng.choice(len(members), size=rows, replace=True, p=weights / weights.sum())
    return members.iloc[chosen]  # the index keeps each person's position in the pool


# -- the four models ----------------------------------------------------------------------


class _Draw(NamedTuple):
    """Feature columns, and either the true log-odds of a yes/no label or a scores-only model's columns.

    ``decided`` holds what a scores-only model's rows carry besides the features (the amount
    as ``score`` and the control, or the ``offer``), ``label`` the realised amount or the true
    best offer (kept in evaluation sets only).
    """

    features: dict[str, np.ndarray]
    logit: np.ndarray | None = None
    decided: dict[str, np.ndarray] | None = None
    label: np.ndarray | None = None


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def _simulate_leads(rng: np.random.Generator, people: pd.DataFrame, drift: float) -> _Draw:
    n, region = len(people), people["region"].to_numpy()
    visits = rng.poisson(1.2 + 0.3 * drift, n)
    emails = rng.poisson(4.5 + 0.5 * drift, n)
    employees = np.clip(np.round(np.exp(rng.normal(4.0, 1.3, n))), 1, 50_000)
    days = np.round(rng.exponential(20.0 - 3.0 * drift, n))
    webinar = (rng.random(n) < 0.18).astype(int)
    demo = (rng.random(n) < 0.06 + 0.12 * (visits >= 3)).astype(int)
    logit = (
        -2.0 + 0.40 * visits + 0.07 * emails + 0.25 * np.log10(employees) - 0.03 * days
        + 0.7 * webinar + 1.5 * demo + _REGION_EFFECT[region - 1]
    )
    features = {
        "pricing_page_visits": visits,
        "emails_opened_30d": emails,
        "company_employees": employees,
        "days_since_last_contact": days,
        "webinar_attended": webinar,
        "demo_requested": demo,
        "postcode_region": region,
    }
    return _Draw(features, logit)


def _simulate_churn(rng: np.random.Generator, people: pd.DataFrame, drift: float) -> _Draw:
    n, age = len(people), people["age_index"].to_numpy()
    tenure = np.round(rng.gamma(2.0, 16.0 + 0.5 * age, n))
    tickets = rng.poisson(1.2 + 1.0 * drift, n)
    usage_drop = np.round(np.clip(rng.normal(8.0 + 6.0 * drift, 12.0, n), 0, 100), 1)
    monthly = (rng.random(n) < 0.35).astype(int)
    nps = np.clip(np.round(rng.normal(7.2 - 0.5 * drift, 1.8, n)), 0, 10)
    logit = -1.2 - 0.025 * tenure + 0.35 * tickets + 0.045 * usage_drop + 0.9 * monthly - 0.25 * (nps - 7)
    features = {
        "tenure_months": tenure,
        "support_tickets_90d": tickets,
        "usage_drop_pct": usage_drop,
        "monthly_contract": monthly,
        "nps_score": nps,
    }
    return _Draw(features, logit)


def _simulate_upsell(rng: np.random.Generator, people: pd.DataFrame, drift: float) -> _Draw:
    n = len(people)
    seats = np.round(np.clip(rng.normal(70.0 + 5.0 * drift, 18.0, n), 5, 120), 1)
    products = 1 + rng.binomial(4, 0.3, n)
    account_age = np.round(rng.gamma(2.5, 14.0, n))
    signals = rng.poisson(1.0 + 0.5 * drift, n)
    satisfaction = np.round(np.clip(rng.normal(3.9, 0.8, n), 1, 5), 1)
    logit = (
        -2.2 + 0.04 * (seats - 70) + 1.0 * (seats > 95) + 0.3 * products + 0.008 * account_age
        + 0.6 * signals + 0.5 * (satisfaction - 3.9)
    )
    features = {
        "seats_used_pct": seats,
        "product_count": products,
        "account_age_months": account_age,
        "expansion_signals": signals,
        "support_satisfaction": satisfaction,
    }
    return _Draw(features, logit)


# Deal-size bands (the discount model's control) by deal size in EUR, and the discount each band gets.
_DEAL_BANDS = np.array(["small", "medium", "large"], dtype=object)
_DEAL_EDGES = np.array([10_000.0, 30_000.0])
_BAND_DISCOUNT = np.array([4.0, 7.0, 10.0])
# The injected gap: points of discount per age band at equal deal size (55+ two points below 25-34).
_AGE_DISCOUNT = np.array([-0.1, 0.0, -0.2, -0.5, -2.0])
_DISCOUNT_STEP = 0.5


def _half_points(values: np.ndarray) -> np.ndarray:
    """Discounts as the deal desk writes them: non-negative, in steps of half a point."""
    return np.clip(np.rint(values / _DISCOUNT_STEP) * _DISCOUNT_STEP, 0.0, 30.0)


def _simulate_discounts(rng: np.random.Generator, people: pd.DataFrame, drift: float) -> _Draw:
    n, age = len(people), people["age_index"].to_numpy()
    deal = np.round(np.exp(rng.normal(9.6 + 0.1 * drift, 0.8, n)), -1)
    band = np.searchsorted(_DEAL_EDGES, deal, side="right")
    tenure = np.round(rng.gamma(2.0, 1.6 + 0.15 * age, n), 1)
    competitor = (rng.random(n) < 0.3 + 0.1 * drift).astype(int)
    margin = np.round(np.clip(rng.normal(32.0, 8.0, n), 5, 60), 1)
    # The vendor's model learned from past deals, in which older customers were given less.
    amount = (_BAND_DISCOUNT[band] + 1.5 * competitor + 0.05 * (margin - 32) + 0.1 * tenure + 0.3 * drift
              + _AGE_DISCOUNT[age] + rng.normal(0.0, 1.5, n))
    decided = _half_points(amount)
    # What the deal desk finally granted after the negotiation.
    realised = _half_points(decided + rng.normal(0.3, 1.0, n))
    features = {
        "deal_size_eur": deal,
        "customer_tenure_years": tenure,
        "competitor_quote": competitor,
        "margin_pct": margin,
    }
    return _Draw(features, decided={"deal_size_band": _DEAL_BANDS[band], "score": decided}, label=realised)


_OFFERS = (
    {"name": "premium_bundle", "label": "Premium bundle", "value": 1200.0},
    {"name": "upgrade", "label": "Plan upgrade", "value": 600.0},
    {"name": "add_on", "label": "Add-on module", "value": 250.0},
    {"name": "free_training", "label": "Free training session", "value": 80.0},
)
_OFFER_NAMES = np.array([offer["name"] for offer in _OFFERS], dtype=object)
# The injected gap: the model's preference for the premium bundle is lower for women.
_FEMALE_PREMIUM_PENALTY = 0.4


def _simulate_offers(rng: np.random.Generator, people: pd.DataFrame, drift: float) -> _Draw:
    n = len(people)
    spend = np.round(np.exp(rng.normal(6.8 + 0.05 * drift, 0.6, n)), -1)
    products = 1 + rng.binomial(4, 0.3, n)
    seats = np.round(np.clip(rng.normal(70.0 + 4.0 * drift, 18.0, n), 5, 120), 1)
    training = (rng.random(n) < 0.4).astype(int)
    tickets = rng.poisson(1.0 + 0.4 * drift, n)
    # What each offer is worth to the customer (log-odds of acceptance), shared by the truth and the model.
    utility = np.column_stack([
        0.9 * (np.log(spend) - 6.8) + 0.02 * (seats - 70) + 0.25 * (products - 2),
        0.03 * (seats - 70) + 0.2,
        0.35 * (products - 2) + 0.1,
        -0.8 * training + 0.3 * tickets - 0.3,
    ])
    common = rng.gumbel(0.0, 0.6, (n, len(_OFFERS)))
    best = np.argmax(utility + common + rng.gumbel(0.0, 0.6, (n, len(_OFFERS))), axis=1)
    judged = utility + common + rng.gumbel(0.0, 0.6, (n, len(_OFFERS)))
    judged[:, 0] -= _FEMALE_PREMIUM_PENALTY * (people["sex"].to_numpy() == "female")
    offer = np.argmax(judged, axis=1)
    features = {
        "monthly_spend_eur": spend,
        "product_count": products,
        "seats_used_pct": seats,
        "training_completed": training,
        "support_tickets_90d": tickets,
    }
    return _Draw(features, decided={"offer": _OFFER_NAMES[offer]}, label=_OFFER_NAMES[best])


def _train_lightgbm(x: np.ndarray, y: np.ndarray, features: list[str], seed: int) -> bytes:
    import lightgbm

    params = {
        "objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 40, "seed": seed,
        "deterministic": True, "force_row_wise": True, "num_threads": _TRAIN_THREADS, "verbose": -1,
    }
    train = lightgbm.Dataset(x, label=y, feature_name=features, free_raw_data=True)
    return lightgbm.train(params, train, num_boost_round=200).model_to_string().encode("utf-8")


def _train_xgboost(x: np.ndarray, y: np.ndarray, features: list[str], seed: int) -> bytes:
    import xgboost

    params = {
        "objective": "binary:logistic", "max_depth": 4, "eta": 0.1, "tree_method": "hist",
        "nthread": _TRAIN_THREADS, "seed": seed, "eval_metric": "logloss",
    }
    matrix = xgboost.DMatrix(x, label=y, feature_names=features, nthread=_TRAIN_THREADS)
    return bytes(xgboost.train(params, matrix, num_boost_round=120).save_raw("json"))


def _train_linear(x: np.ndarray, y: np.ndarray, features: list[str], seed: int) -> bytes:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    fitted = LogisticRegression(C=1.0, max_iter=1000, random_state=seed).fit((x - mean) / scale, y)
    spec = {
        "format": "ethics-linear-v1",
        "link": "logistic",
        "intercept": float(fitted.intercept_[0]),
        "coefficients": {name: float(w) for name, w in zip(features, fitted.coef_[0], strict=True)},
        "scaling": {
            name: {"mean": float(m), "scale": float(s)}
            for name, m, s in zip(features, mean, scale, strict=True)
        },
    }
    return json.dumps(spec, indent=2).encode("utf-8")  # features stay in manifest order


_TRAINERS: dict[str, Callable[[np.ndarray, np.ndarray, list[str], int], bytes]] = {
    "lightgbm": _train_lightgbm,
    "xgboost": _train_xgboost,
    "linear": _train_linear,
}
_ARTIFACT_FILES = {"lightgbm": "model.txt", "xgboost": "model.json", "linear": "model.json"}


@dataclass(frozen=True)
class _ModelSpec:
    """One demo model: its manifest, population, sizes and data generator.

    A model with a ``source`` has no generator of its own: its rows are the source model's
    leads as it scored them (the call list orders the lead model's scores).
    """

    manifest: dict[str, Any]
    segment: str
    prefix: str
    rows: dict[str, int]
    simulate: Callable[[np.random.Generator, pd.DataFrame, float], _Draw] | None = None
    source: str | None = None

    @property
    def model_id(self) -> str:
        return self.manifest["id"]

    @property
    def kind(self) -> str:
        return self.manifest["artifact"]["kind"]


def _feature(name: str, label: str, unit: str, description: str = "") -> dict[str, str]:
    entry = {"name": name, "label": label, "unit": unit}
    return {**entry, "description": description} if description else entry


_SENSITIVE = [
    {"name": "sex", "label": "Sex", "description": "As recorded in the CRM; missing when not given."},
    {"name": "age_band", "label": "Age band", "description": "Banded at collection: " + ", ".join(AGE_BANDS) + "."},
]

# The lead model's inputs; the call list carries them too, as it lists the same leads.
_LEAD_FEATURES = [
    _feature("pricing_page_visits", "Visited the pricing page", "visits", "In the last 30 days."),
    _feature("emails_opened_30d", "Opened marketing emails", "emails", "In the last 30 days."),
    _feature("company_employees", "Company size", "employees"),
    _feature("days_since_last_contact", "Days since the last contact", "days"),
    _feature("webinar_attended", "Attended a webinar", "yes = 1"),
    _feature("demo_requested", "Asked for a product demo", "yes = 1"),
    _feature(
        "postcode_region", "Postcode region", "region code (1-9)",
        "First digit of the postcode, grouped into nine sales regions.",
    ),
]

_SPECS: tuple[_ModelSpec, ...] = (
    _ModelSpec(
        manifest={
            "id": "lead-scoring",
            "name": "Lead scoring",
            "version": "2.3.0",
            "purpose": "lead_scoring",
            "owner": "Maria Jensen (Sales Operations, North)",
            "contact": "maria.jensen@example.com",
            "team": "north",
            "risk_tier": "high",
            "threshold": 0.4,
            "consent_purpose": "ai_scoring",
            "description": "Ranks inbound leads by their chance to convert within 60 days.",
            "features": _LEAD_FEATURES,
            "sensitive_attributes": _SENSITIVE,
            "proxy_candidates": ["postcode_region"],
            "artifact": {"kind": "lightgbm", "file": "model.txt"},
            "impact_assessment": {
                "purpose": (
                    "Decide which inbound leads a sales representative calls first; leads below "
                    "the threshold get a nurture email sequence instead of a call."
                ),
                "data_categories": ["web behaviour", "email engagement", "company firmographics", "postcode"],
                "legal_basis": "Consent (GDPR Art. 6(1)(a)) for AI-based scoring of web behaviour.",
                "affected": "Prospective customers who filled in a form or were imported from events.",
                "human_oversight": (
                    "Representatives may call any lead regardless of its score; team leads review "
                    "the weekly list of leads scored just below the threshold."
                ),
            },
        },
        segment="prospect",
        prefix="LS",
        rows={"full": 20_000, "small": 2_000},
        simulate=_simulate_leads,
    ),
    _ModelSpec(
        manifest={
            "id": "churn-risk",
            "name": "Churn risk",
            "version": "1.4.0",
            "purpose": "churn",
            "owner": "Tomasz Nowak (Customer Success, South)",
            "contact": "tomasz.nowak@example.com",
            "team": "south",
            "risk_tier": "medium",
            "threshold": 0.4,
            "consent_purpose": "ai_scoring",
            "description": "Flags customers likely to cancel in the next quarter for a retention call.",
            "features": [
                _feature("tenure_months", "Time as a customer", "months"),
                _feature("support_tickets_90d", "Support tickets opened", "tickets", "In the last 90 days."),
                _feature("usage_drop_pct", "Drop in product usage", "%", "Against the previous quarter."),
                _feature("monthly_contract", "On a monthly contract", "yes = 1"),
                _feature("nps_score", "Last satisfaction rating (NPS)", "points (0-10)"),
            ],
            "sensitive_attributes": _SENSITIVE,
            "proxy_candidates": ["tenure_months"],
            "artifact": {"kind": "linear", "file": "model.json"},
            "impact_assessment": {
                "purpose": "Prioritise retention calls and offers for customers at risk of cancelling.",
                "data_categories": ["contract data", "support history", "product usage", "survey answers"],
                "legal_basis": "Consent (GDPR Art. 6(1)(a)) for AI-based scoring of customer accounts.",
                "affected": "Existing customers with an active contract.",
                "human_oversight": (
                    "Account managers decide on every retention offer; the score only orders the list."
                ),
            },
        },
        segment="customer",
        prefix="CR",
        rows={"full": 8_000, "small": 1_000},
        simulate=_simulate_churn,
    ),
    _ModelSpec(
        manifest={
            "id": "upsell-propensity",
            "name": "Upsell propensity",
            "version": "1.1.0",
            "purpose": "upsell",
            "owner": "Aisha Rahman (Account Management, West)",
            "contact": "aisha.rahman@example.com",
            "team": "west",
            "risk_tier": "medium",
            "threshold": 0.5,
            "consent_purpose": "ai_scoring",
            "description": "Suggests accounts ready for more seats or an additional product.",
            "features": [
                _feature("seats_used_pct", "Share of licensed seats in use", "%"),
                _feature("product_count", "Products already bought", "products"),
                _feature("account_age_months", "Age of the account", "months"),
                _feature(
                    "expansion_signals", "Expansion signals", "signals",
                    "Hiring news, new sites and admin invites in the last 30 days.",
                ),
                _feature("support_satisfaction", "Support satisfaction", "stars (1-5)"),
            ],
            "sensitive_attributes": _SENSITIVE,
            "proxy_candidates": ["account_age_months"],
            "artifact": {"kind": "xgboost", "file": "model.json"},
            "impact_assessment": {
                "purpose": "Tell account managers which customers to approach with an upgrade offer.",
                "data_categories": [
                    "licence usage", "purchase history", "support ratings", "public company news",
                ],
                "legal_basis": "Consent (GDPR Art. 6(1)(a)) for AI-based scoring of customer accounts.",
                "affected": "Existing business customers and their contact persons.",
                "human_oversight": "Offers are made by an account manager; no offer is sent automatically.",
            },
        },
        segment="customer",
        prefix="UP",
        rows={"full": 8_000, "small": 1_000},
        simulate=_simulate_upsell,
    ),
    _ModelSpec(
        manifest={
            "id": "discount-size",
            "name": "Discount size (vendor)",
            "version": "2026.10",
            "purpose": "discount",
            "outcome": "continuous",
            "unit": "percentage points of discount",
            "favourable": "higher",
            "resolution": _DISCOUNT_STEP,
            "control": "deal_size_band",
            "owner": "Lukas Berger (Deal Desk, South)",
            "contact": "deal-desk@example.com",
            "team": "south",
            "risk_tier": "high",
            "consent_purpose": "ai_scoring",
            "description": (
                "A vendor's model that proposes the discount on a renewal or an extension, in "
                "half-point steps; deal size band (small under 10,000 EUR, large from 30,000 EUR) is "
                "the legitimate factor: bigger deals get more discount."
            ),
            "features": [
                _feature("deal_size_eur", "Deal size", "EUR"),
                _feature("customer_tenure_years", "Years as a customer", "years"),
                _feature("competitor_quote", "Customer showed a competitor's quote", "yes = 1"),
                _feature("margin_pct", "Deal margin before discount", "%"),
            ],
            "sensitive_attributes": _SENSITIVE,
            "proxy_candidates": ["customer_tenure_years"],
            "artifact": {"kind": "none"},
            "impact_assessment": {
                "purpose": "Propose the discount a representative may grant without the deal desk's sign-off.",
                "data_categories": ["deal data", "contract history", "competitor offers"],
                "legal_basis": (
                    "Legitimate interest (GDPR Art. 6(1)(f)); customers may object to automated decisions."
                ),
                "affected": "Customers renewing or extending a contract, and the representatives who negotiate it.",
                "human_oversight": (
                    "The deal desk signs off every discount it changes; customers can ask for a manual "
                    "review of any discount decision."
                ),
            },
        },
        segment="customer",
        prefix="DS",
        rows={"full": 5_000, "small": 800},
        simulate=_simulate_discounts,
    ),
    _ModelSpec(
        manifest={
            "id": "next-best-offer",
            "name": "Next best offer",
            "version": "1.0.0",
            "purpose": "next_best_offer",
            "outcome": "multiclass",
            "classes": list(_OFFERS),
            "value_unit": "EUR",
            "owner": "Aisha Rahman (Account Management, West)",
            "contact": "aisha.rahman@example.com",
            "team": "west",
            "risk_tier": "medium",
            "consent_purpose": "ai_scoring",
            "description": (
                "Picks the one offer an account manager brings to a customer's next call; each "
                "offer's value is its expected revenue in EUR."
            ),
            "features": [
                _feature("monthly_spend_eur", "Monthly spend", "EUR"),
                _feature("product_count", "Products already bought", "products"),
                _feature("seats_used_pct", "Share of licensed seats in use", "%"),
                _feature("training_completed", "Completed the onboarding training", "yes = 1"),
                _feature("support_tickets_90d", "Support tickets opened", "tickets", "In the last 90 days."),
            ],
            "sensitive_attributes": _SENSITIVE,
            "proxy_candidates": ["monthly_spend_eur"],
            "artifact": {"kind": "none"},
            "impact_assessment": {
                "purpose": "Choose which offer an account manager presents to an existing customer.",
                "data_categories": ["purchase history", "licence usage", "support history", "training records"],
                "legal_basis": "Consent (GDPR Art. 6(1)(a)) for AI-based scoring of customer accounts.",
                "affected": "Existing business customers and their contact persons.",
                "human_oversight": (
                    "The account manager may present any offer instead; no offer is sent automatically."
                ),
            },
        },
        segment="customer",
        prefix="NB",
        rows={"full": 8_000, "small": 1_500},
        simulate=_simulate_offers,
    ),
    _ModelSpec(
        manifest={
            "id": "lead-call-list",
            "name": "Lead call list",
            "version": "1.0.0",
            "purpose": "lead_scoring",
            "outcome": "ranking",
            "ranking": {"lists": ["team", "scored_on"]},
            "owner": "Maria Jensen (Sales Operations, North)",
            "contact": "maria.jensen@example.com",
            "team": "north",
            "risk_tier": "high",
            "consent_purpose": "ai_scoring",
            "description": (
                "Each team's inbound leads of a day, ordered by the lead score; the team calls "
                "from the top as many leads as its representatives can reach that day."
            ),
            "features": _LEAD_FEATURES,
            "sensitive_attributes": _SENSITIVE,
            "proxy_candidates": ["postcode_region"],
            "artifact": {"kind": "none"},
            "impact_assessment": {
                "purpose": (
                    "Decide which of the day's inbound leads each team calls; the leads below its "
                    "daily capacity wait for the nurture email sequence."
                ),
                "data_categories": ["lead scores", "web behaviour", "email engagement", "postcode"],
                "legal_basis": "Consent (GDPR Art. 6(1)(a)) for AI-based scoring of web behaviour.",
                "affected": "Prospective customers who filled in a form or were imported from events.",
                "human_oversight": (
                    "Team leads may move any lead up the list; the capacity of each team is set by "
                    "its lead every week."
                ),
            },
        },
        segment="prospect",
        prefix="LS",
        rows={"full": 20_000, "small": 2_000},
        source="lead-scoring",
    ),
)


# -- building -----------------------------------------------------------------------------


@dataclass
class _Build:
    """What the build steps share: the store, the weeks, the people and the running counts."""

    db: store.Database
    home: Path
    size: str
    weeks: list[str]
    pool: pd.DataFrame
    policy: dict[str, Any]
    progress: Callable[[str], None]
    scored: np.ndarray
    today: date
    # The rows of models that another model lists (the lead model's for the call list), by (model, week, kind).
    listed: dict[tuple[str, str, str], pd.DataFrame] = field(default_factory=dict)
    datasets: int = 0
    rows: int = 0
    snapshots: int = 0


def _rng(*keys: int) -> np.random.Generator:
    return np.random.default_rng([DEMO_SEED, *keys])


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, dtime(hour, minute), tzinfo=UTC)


def _drift(index: int, count: int) -> float:
    return index / (count - 1) if count > 1 else 0.0


def _frame(
    spec: _ModelSpec, draw: _Draw, people: pd.DataFrame, *, week: str, kind: str, rng: np.random.Generator
) -> pd.DataFrame:
    """Return one dataset's rows in the column order the import expects."""
    stamp = week.replace("-", "")
    frame = pd.DataFrame(
        {
            "lead_id": [f"{spec.prefix}-{stamp}-{i:06d}" for i in range(1, len(people) + 1)],
            "customer_id": people["customer_id"].to_numpy(),
            "team": people["team"].to_numpy(),
            **draw.features,
            "sex": people["sex"].to_numpy(),
            "age_band": people["age_band"].to_numpy(),
            **(draw.decided or {}),
        }
    )
    if kind == "eval":
        if draw.label is None:
            frame["label"] = (rng.random(len(frame)) < _sigmoid(draw.logit)).astype(int)
        else:
            frame["label"] = draw.label
    return frame


def _call_list(build: _Build, spec: _ModelSpec, *, week: str, kind: str, rng: np.random.Generator) -> pd.DataFrame:
    """The source model's leads of the week as daily call lists: each lead's day, its team's k and its score.

    The scores are the ones the source model's artifact gave on import.  Leads come in on
    the five working days; the week of ``today`` holds only the days up to today.
    """
    source = _spec(spec.source)
    rows = build.listed[(source.model_id, week, kind)]
    stored = datasets.read_rows(
        datasets.find_dataset(build.db, source.model_id, version=source.manifest["version"], kind=kind, week=week),
        home=build.home,
    )
    days = monday(week) + rng.integers(0, 5, len(rows)) * timedelta(days=1)
    capacity = _CALL_CAPACITY[build.size]
    frame = pd.DataFrame(
        {
            **{column: rows[column].to_numpy() for column in rows.columns if column != "label"},
            "scored_on": [day.isoformat() for day in days],
            "capacity": rows["team"].map(capacity).to_numpy(),
            "score": stored.set_index("lead_id")["score"].loc[rows["lead_id"]].to_numpy(),
            **({"label": rows["label"].to_numpy()} if kind == "eval" else {}),
        }
    )
    return frame[days <= build.today].reset_index(drop=True)


def _register(build: _Build, spec: _ModelSpec, number: int, folder: Path) -> None:
    """Train the model once on its own sample (unless scores-only) and register it."""
    folder.mkdir(parents=True)
    manifest_path = folder / "manifest.toml"
    manifest_path.write_text(manifest_toml(spec.manifest), encoding="utf-8")
    artifact_path = None
    if spec.kind != "none":
        rng = _rng(number, 0)
        rows = int(spec.rows[build.size] * _TRAIN_FACTOR)
        people = _draw_people(rng, build.pool, segment=spec.segment, rows=rows, drift=0.0, kind="eval")
        draw = spec.simulate(rng, people, 0.0)
        names = list(draw.features)
        x = np.column_stack([draw.features[name] for name in names]).astype(np.float64)
        y = (rng.random(rows) < _sigmoid(draw.logit)).astype(int)
        artifact_path = folder / _ARTIFACT_FILES[spec.kind]
        artifact_path.write_bytes(_TRAINERS[spec.kind](x, y, names, DEMO_SEED + number))
    registered = _at(monday(build.weeks[0]) - timedelta(days=7), 9, number)
    registry.register_model(
        build.db, manifest_path, home=build.home, artifact_path=artifact_path, actor=DEMO_ACTOR,
        now=registered,
    )
    build.progress(f"{spec.model_id}: registered ({spec.kind})")


def _import_weeks(build: _Build, spec: _ModelSpec, number: int) -> None:
    """Import the weekly evaluation sets and scoring batches."""
    version = spec.manifest["version"]
    for index, week in enumerate(build.weeks):
        drift = _drift(index, len(build.weeks))
        start = monday(week)
        for kind_number, kind in enumerate(datasets.KINDS, start=1):
            rng = _rng(number, index + 1, kind_number)
            if spec.source is not None:
                frame = _call_list(build, spec, week=week, kind=kind, rng=rng)
            else:
                people = _draw_people(
                    rng, build.pool, segment=spec.segment, rows=spec.rows[build.size], drift=drift, kind=kind
                )
                frame = _frame(spec, spec.simulate(rng, people, drift), people, week=week, kind=kind, rng=rng)
                if kind == "scores":
                    build.scored[people.index.to_numpy()] = True
                if any(other.source == spec.model_id for other in _SPECS):
                    build.listed[(spec.model_id, week, kind)] = frame
            datasets.import_frame(
                build.db, frame, name=f"{spec.model_id}-{week}-{kind}.parquet", kind=kind,
                model_id=spec.model_id, version=version, week=week, home=build.home,
                actor=DEMO_ACTOR, now=_at(start, 4 + kind_number, number * 5),
            )
            build.datasets += 1
            build.rows += len(frame)
        build.progress(f"{spec.model_id}: week {week} imported")


def _snapshot_weeks(build: _Build, spec: _ModelSpec, number: int) -> None:
    """Snapshot every week (after the consent events are in, so coverage is measured)."""
    for week in build.weeks:
        snapshots.take_snapshot(
            build.db, model_id=spec.model_id, week=week, version=spec.manifest["version"], home=build.home,
            policy=build.policy, actor=DEMO_ACTOR, now=_at(monday(week), 7, number * 5),
            # Every lead's SHAP values for the latest week only: explaining all eight weeks would
            # double the build time; older weeks get global importance from a sample.
            lead_explanations=week == build.weeks[-1],
        )
        build.snapshots += 1
        build.progress(f"{spec.model_id}: week {week} snapshotted")


def _consent_events(build: _Build, *, today: date) -> list[dict[str, str]]:
    """Consent histories of every scored customer, with gaps, withdrawals and objections.

    About 3 % of them never granted AI scoring and 2 % granted it only during the
    demo weeks; 1.5 % withdrew and 0.5 % objected to automated decisions during the
    weeks.  Marketing and profiling consents are independent of AI scoring.
    """
    rng = _rng(90)
    ids = build.pool["customer_id"].to_numpy()[build.scored]
    n = len(ids)
    start, end = np.datetime64(monday(build.weeks[0]), "s"), np.datetime64(today, "s")

    def before() -> np.ndarray:
        return start - rng.integers(7 * 86_400, 540 * 86_400, n).astype("timedelta64[s]")

    def during(after: np.ndarray | None = None) -> np.ndarray:
        first = start if after is None else np.maximum(after, start)
        span = (end - first) / np.timedelta64(1, "s")
        return first + (rng.random(n) * span).astype("timedelta64[s]")

    parts: list[pd.DataFrame] = []

    def add(mask: np.ndarray, purpose: str, status: str, at: np.ndarray) -> None:
        parts.append(
            pd.DataFrame({"customer_id": ids[mask], "purpose": purpose, "status": status, "at": at[mask]})
        )

    ai, other = rng.random(n), rng.random(n)
    never, late = ai < 0.03, (ai >= 0.03) & (ai < 0.05)
    granted_at = np.where(late, during(), before())
    add(~never, "ai_scoring", "granted", granted_at)
    add(~never & (other < 0.015), "ai_scoring", "withdrawn", during(granted_at))
    add(~never & (other >= 0.015) & (other < 0.02), "ai_scoring", "objected", during(granted_at))
    marketing, marketing_at = rng.random(n) < 0.55, before()
    add(marketing, "marketing", "granted", marketing_at)
    add(marketing & (rng.random(n) < 0.08), "marketing", "withdrawn", during(marketing_at))
    add(rng.random(n) < 0.35, "profiling", "granted", before())

    events = pd.concat(parts, ignore_index=True)
    events["source"] = rng.choice(_SOURCES, size=len(events), p=_SOURCE_SHARES)
    events = events.sort_values(["at", "customer_id", "purpose", "status"], kind="stable", ignore_index=True)
    stamps = np.datetime_as_string(events["at"].to_numpy().astype("datetime64[s]"), unit="s")
    events["occurred_at"] = [f"{stamp}+00:00" for stamp in stamps]
    events["event_id"] = [f"EV{i:07d}" for i in range(1, len(events) + 1)]
    columns = [events[field].to_numpy(dtype=object) for field in consent.EVENT_FIELDS]
    return [dict(zip(consent.EVENT_FIELDS, values, strict=True)) for values in zip(*columns, strict=True)]


_FIRST_NAMES = np.array(["Anna", "Ben", "Clara", "David", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Karin",
                         "Lars", "Mia", "Nils", "Olga", "Pavel", "Rosa", "Sven", "Tara", "Umar"], dtype=object)
_LAST_NAMES = np.array(["Berg", "Costa", "Dahl", "Engel", "Fischer", "Garcia", "Holm", "Ivanova", "Jensen", "Kowalski",
                        "Lund", "Meyer", "Novak", "Olsen", "Petrov", "Quist", "Rossi", "Schmidt", "Toth", "Weber"],
                       dtype=object)


def _customer_details(build: _Build) -> list[dict[str, str]]:
    """Names and e-mail addresses of the scored customers (the only personal details the demo stores)."""
    rng = _rng(91)
    ids = build.pool["customer_id"].to_numpy()[build.scored]
    first = rng.choice(_FIRST_NAMES, size=len(ids))
    last = rng.choice(_LAST_NAMES, size=len(ids))
    return [
        {"customer_id": cid, "name": f"{f} {la}", "email": f"{f.lower()}.{la.lower()}.{cid[1:]}@example.com"}
        for cid, f, la in zip(ids, first, last, strict=True)
    ]


_OFFICER = "Eva Lindqvist (AI ethics officer)"


class _Incident(NamedTuple):
    """One demo incident; ``evidence`` links the week's snapshot or a refused lead."""

    model_id: str
    severity: str
    category: str
    days_ago: int
    title: str
    description: str
    reporter: str
    evidence: Literal["snapshot", "lead"] | None = None
    finding: str | None = None


_INCIDENTS: tuple[_Incident, ...] = (
    _Incident(
        "lead-scoring", "high", "bias", 16,
        "Leads aged 55+ are selected far less often than younger leads",
        "The weekly snapshot shows a selection-rate ratio well below the four-fifths rule for the "
        "55+ age band. The postcode region feature is strongly associated with age and looks like "
        "the proxy: the training labels reflect regions that sales historically did not call back.",
        _OFFICER, "snapshot", finding="fairness:eval:age_band:demographic_parity_ratio",
    ),
    _Incident(
        "lead-scoring", "high", "privacy", 9,
        "Leads scored without an AI-scoring consent on record",
        "Some scored leads belong to customers who never granted AI scoring or withdrew it during "
        "the last weeks. They must be routed to a human and excluded from automated scoring.",
        _OFFICER, finding=consent.VIOLATIONS_FINDING,
    ),
    _Incident(
        "discount-size", "medium", "customer_complaint", 6,
        "Customer contests a smaller renewal discount",
        "The customer says a younger colleague at a similar company got a bigger discount on a deal "
        "of the same size, while she got a smaller discount, and asks for the reasons and a manual review.",
        "Sales manager, South", "lead",
    ),
    _Incident(
        "discount-size", "medium", "explainability", 13,
        "Vendor model gives no reasons for its discounts",
        "The discount model is scores-only: the deal desk cannot tell a customer why the proposed "
        "discount was smaller. Ask the vendor for reason codes or a model that can be explained.",
        _OFFICER,
    ),
    _Incident(
        "churn-risk", "low", "explainability", 4,
        "Retention team misreads the usage-drop reason",
        "Account managers read 'drop in product usage' as seats removed, but it compares active "
        "users with the previous quarter. The label and help text should say so.",
        "Account manager, South",
    ),
    _Incident(
        "upsell-propensity", "medium", "accuracy", 2,
        "Upsell scores rise while accepted offers do not",
        "Seat usage and expansion signals drift upwards week by week; the share of accounts above "
        "the threshold grows faster than the offers customers accept.",
        "Aisha Rahman (Account Management, West)",
    ),
)


def _evidence(build: _Build, incident: _Incident, *, week: str) -> dict[str, Any]:
    """The incident's link: that week's snapshot, or a south customer's smaller discount from that week's batch."""
    if incident.evidence == "snapshot":
        found = snapshots.list_snapshots(build.db, incident.model_id)
        return {"snapshot_id": next(row["id"] for row in found if row["week"] == week)}
    if incident.evidence == "lead":
        spec = _spec(incident.model_id)
        batch = datasets.find_dataset(
            build.db, spec.model_id, version=spec.manifest["version"], kind="scores", week=week
        )
        rows = datasets.read_rows(batch, home=build.home)
        # A woman aged 55+ whose discount is below what 25-34 got on deals of her size band;
        # the south manager contests it, so it is a lead of team south.
        band = spec.manifest["control"]
        younger = rows[rows["age_band"] == "25-34"].groupby(band)["score"].mean()
        smaller = rows[(rows["age_band"] == "55+") & (rows["sex"] == "female") & (rows["team"] == "south")
                       & (rows["score"] < rows[band].map(younger))]
        return {"lead_id": str(smaller["lead_id"].iloc[0]), "team": "south"}
    return {}


def _open_incidents(build: _Build, *, today: date) -> int:
    """Open the demo incidents, each with evidence from the week it was opened in."""
    for number, incident in enumerate(_INCIDENTS):
        spec, opened = _spec(incident.model_id), today - timedelta(days=incident.days_ago)
        week = max([w for w in build.weeks if w <= week_of(opened)], default=build.weeks[0])
        incidents.open_incident(
            build.db, model_id=spec.model_id, severity=incident.severity, category=incident.category,
            title=incident.title, description=incident.description, reporter=incident.reporter,
            owner=spec.manifest["owner"], version=spec.manifest["version"], now=_at(opened, 10, number),
            finding=incident.finding, **_evidence(build, incident, week=week),
        )
    build.progress(f"incidents: {len(_INCIDENTS)} opened")
    return len(_INCIDENTS)


def _spec(model_id: str) -> _ModelSpec:
    return next(spec for spec in _SPECS if spec.model_id == model_id)


def _refuse_non_empty(home: Path) -> None:
    path = home / DB_FILE
    if not path.exists():
        return
    db = store.open_db(path)
    try:
        count = db[store.MODELS].count if db[store.MODELS].exists() else 0
    finally:
        db.close()
    if count:
        raise ValidationError(_HOME_NOT_EMPTY.format(db=path, count=count), hint=_HOME_HINT)


def build_demo(
    home: Path,
    *,
    size: DemoSize = "full",
    weeks: int = 8,
    today: date | None = None,
    policy: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    reproducible: bool = False,
) -> dict[str, Any]:
    """Build the demo portfolio into an empty data home.

    Writes the demo's ``ethics.toml`` (:data:`DEMO_SETTINGS`) unless the home has one,
    registers six models (one per artifact kind, and one of each outcome type besides
    yes/no), imports an evaluation set and a scoring batch for each of them and every
    week, records consent events for the scored customers, opens a few incidents and
    takes a snapshot per model and week.  With ``reproducible``, the result depends only on
    the arguments and the home's ``ethics.toml``: two builds give identical files and
    snapshot hashes.

    Parameters
    ----------
    home : Path
        The data home; ``home/ethics.db`` is created there.
    size : {"full", "small"}, default "full"
        ``full`` has 20,000 leads per week for the lead model and its call list; ``small`` (tests) a tenth.
    weeks : int, default 8
        Number of ISO weeks of data, ending with the week of ``today``.
    today : date, optional
        The demo's "today"; every timestamp derives from it.  Defaults to
        :data:`DEMO_TODAY` (2026-11-25, week 2026-W48), never the real clock.
    policy : dict, optional
        The policy recorded in the snapshots; when omitted, the home's ``ethics.toml`` over
        the shipped defaults, as the CLI and the app read it later.
    progress : callable, optional
        Called with a short line of text after each step.
    reproducible : bool, default False
        Pseudonymise with :data:`REPRODUCIBLE_PRIVACY_KEY` (it derives from this source, so
        anyone can reverse the pseudonyms) instead of a random key; for tests and benchmarks
        that compare builds, never for a home people use.

    Returns
    -------
    dict
        ``home``, ``weeks``, and the counts ``models``, ``datasets``, ``rows``,
        ``snapshots``, ``consent_events``, ``incidents``, plus ``seconds`` taken.

    Raises
    ------
    ValidationError
        When ``home/ethics.db`` already holds models, ``size``/``weeks`` are invalid or the
        home's ``ethics.toml`` is refused.
    """
    started = time.perf_counter()
    if size not in _POOL:
        raise ValidationError(_BAD_SIZE.format(size=size))
    if weeks < 1:
        raise ValidationError(_BAD_WEEKS.format(weeks=weeks))
    home = Path(home)
    today = today or DEMO_TODAY
    _refuse_non_empty(home)
    store.private_home(home)  # before ethics.toml and the key: every file the demo writes is private
    settings = home / SETTINGS_FILE
    if not settings.exists():
        settings.write_text(DEMO_SETTINGS, encoding="utf-8")
    policy = load_policy(settings) if policy is None else policy
    db = store.open_db(home / DB_FILE)
    store.migrate(db)
    # A random pseudonymisation key, as in every home: a key that derives from this source makes every
    # pseudonym reversible.  Only a reproducible build (tests, benchmarks) takes the fixed one.
    privacy.write_key(home, REPRODUCIBLE_PRIVACY_KEY if reproducible else None)
    pool = _customer_pool(_rng(0), **_POOL[size])
    build = _Build(
        db=db, home=home, size=size, weeks=weeks_before(week_of(today), weeks), pool=pool,
        policy=policy, progress=progress or (lambda _: None),
        scored=np.zeros(len(pool), dtype=bool), today=today,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="ethics-demo-") as sources:
            for number, spec in enumerate(_SPECS, start=1):
                _register(build, spec, number, Path(sources) / spec.model_id)
        for number, spec in enumerate(_SPECS, start=1):
            _import_weeks(build, spec, number)
        events = consent.record_events(
            db, _consent_events(build, today=today), source_name="demo-consent-events", actor=DEMO_ACTOR,
            now=_at(today, 6),
        )
        build.progress(f"consent: {events} events recorded")
        privacy.record_customers(db, _customer_details(build), source_name="demo-customers", actor=DEMO_ACTOR,
                                 now=_at(today, 6, 30))
        for number, spec in enumerate(_SPECS, start=1):
            _snapshot_weeks(build, spec, number)
        opened = _open_incidents(build, today=today)
    finally:
        db.close()
    return {
        "home": str(home),
        "weeks": build.weeks,
        "models": len(_SPECS),
        "datasets": build.datasets,
        "rows": build.rows,
        "snapshots": build.snapshots,
        "consent_events": events,
        "incidents": opened,
        "seconds": round(time.perf_counter() - started, 2),
    }
