"""One day of activity per source, as numeric arrays (codes, indexes, integer cents).

Every draw comes from ``day_rng(seed, day, source)``, so a day's activity is the same in every
generate call that covers it. Rendering to text (formats, identifier variants) happens later,
per delivery, in :mod:`.render`.

A *batch* is ``{"orders": {field: array}, "lines": {field: array}}``: order-level arrays, and
line-level arrays grouped by order in the same order (``orders["n_lines"]`` says how many).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from . import reference as ref
from .population import (
    BASE_DISCOUNT_SHARE,
    ORDERS_PER_PERSON_YEAR,
    PROMO_DISCOUNT_SHARE,
    Catalogue,
    Population,
    weights,
)
from .timeline import date_range, day_rng, seasonality

Arrays = dict[str, np.ndarray]
Batch = dict[str, Arrays]

# Yearly rates per person of the whole population (prospects included); social events come
# from the accounts' own rates (population.acc_cum).
SHOPIFY_ORDERS_PER_PERSON_YEAR = ORDERS_PER_PERSON_YEAR["shopify"]
TMALL_ORDERS_PER_PERSON_YEAR = ORDERS_PER_PERSON_YEAR["tmall"]
POS_RECEIPTS_PER_PERSON_YEAR = ORDERS_PER_PERSON_YEAR["pos"]
SERVICE_CONTACTS_PER_PERSON_YEAR = 0.3
MEMBER_DAY = 8  # 会员日: card holders get 5 % off in store on this day of every month

LATE_REFUND_MAX_DAYS = 45

_ONLINE_HOURS = np.array(
    [2, 1, 0.5, 0.3, 0.2, 0.3, 0.6, 1.2, 2, 2.5, 3, 3.5, 4, 3.5, 3, 3, 3.2, 3.5, 4, 5, 6, 7, 6, 4]
)
_STORE_HOURS = np.array([0] * 10 + [3, 5, 6, 5, 6, 7, 8, 8, 9, 8, 5, 2] + [0, 0], dtype=float)


def _mean_season(channel: str) -> float:
    year = date_range(date(2025, 1, 1), 365)
    return float(np.mean([seasonality(d, channel) for d in year]))


_SEASON_NORM = {c: _mean_season(c) for c in ("shopify", "tmall", "pos", "social", "service")}


def expected_per_day(n_persons: int, per_year: float, day: date, channel: str) -> float:
    return n_persons * per_year / 365 * seasonality(day, channel) / _SEASON_NORM[channel]


def seconds_of_day(rng: np.random.Generator, n: int, hours: np.ndarray) -> np.ndarray:
    hour = rng.choice(24, size=n, p=hours / hours.sum())
    return np.sort(hour * 3600 + rng.integers(0, 3600, n))


def pick_buyers(
    pop: Population, channel: str, day: date, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` persons drawn in proportion to their channel propensity, among those alive."""
    cum = pop.channel_cum[channel]
    t = day.toordinal()
    chosen: list[np.ndarray] = []
    have = 0
    for attempt in range(30):
        draw = cum[-1] * rng.random(int(n * 1.6) + 16)
        idx = np.minimum(np.searchsorted(cum, draw, side="right"), pop.n - 1)
        if attempt < 29:
            idx = idx[(pop.acq_day[idx] <= t) & (t < pop.churn_day[idx])]
        chosen.append(idx)
        have += len(idx)
        if have >= n:
            break
    return np.concatenate(chosen)[:n]


def _choice(rng: np.random.Generator, pairs, n: int) -> np.ndarray:
    _, p = weights(pairs)
    return rng.choice(len(p), size=n, p=p)


def _lines(rng: np.random.Generator, n_orders: int, extra_mean: float, cap: int) -> np.ndarray:
    return 1 + np.minimum(rng.poisson(extra_mean, n_orders), cap - 1)


def _products(rng: np.random.Generator, cat: Catalogue, n: int) -> np.ndarray:
    return rng.choice(len(cat), size=n, p=cat.popularity)


def basket_of_line(
    rng: np.random.Generator, pop: Population, person_of_line: np.ndarray
) -> np.ndarray:
    """The basket (row of ``Catalogue.basket_cum``) each line's product is drawn from: the
    price-sensitive buy cheap products only, the brand-loyal their brand (most of the time)."""
    n_brands = len(ref.BRANDS)
    cheap = pop.planted_price_sensitive[person_of_line]
    brand = pop.loyal_brand[person_of_line]
    loyal = (brand >= 0) & (rng.random(len(person_of_line)) < pop.loyalty[person_of_line])
    basket = np.where(cheap, 1, 0)
    return np.where(loyal, np.where(cheap, 2 + n_brands + brand, 2 + brand), basket)


def _from_baskets(rng: np.random.Generator, cat: Catalogue, basket: np.ndarray) -> np.ndarray:
    u = rng.random(len(basket))
    prod = np.zeros(len(basket), dtype=np.int64)
    for b in np.unique(basket):
        at = basket == b
        prod[at] = np.searchsorted(cat.basket_cum[b], u[at], side="right")
    return np.minimum(prod, len(cat) - 1)


def _distinct_products(
    rng: np.random.Generator, cat: Catalogue, pop: Population, person: np.ndarray, n_lines
) -> np.ndarray:
    """Products for lines grouped by order (of ``person``), each from the buyer's basket and
    never the same SKU twice in one order."""
    order = np.repeat(np.arange(len(n_lines)), n_lines)
    basket = basket_of_line(rng, pop, person[order])
    prod = _from_baskets(rng, cat, basket)
    for attempt in range(30):
        key = order * len(cat) + prod
        _, first = np.unique(key, return_index=True)
        dup = np.ones(len(prod), dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        # redraw from the same basket; after 10 tries (a small basket) from the catalogue
        if attempt < 10:
            prod[dup] = _from_baskets(rng, cat, basket[dup])
        else:
            prod[dup] = rng.integers(0, len(cat), int(dup.sum()))
    return prod


def _sizes(rng: np.random.Generator, prod: np.ndarray) -> np.ndarray:
    """Size index for each line (meaningful only for sized products)."""
    return rng.integers(0, 5, len(prod))


def _group_sum(values: np.ndarray, n_lines: np.ndarray) -> np.ndarray:
    order = np.repeat(np.arange(len(n_lines)), n_lines)
    return np.bincount(order, weights=values, minlength=len(n_lines)).round().astype(np.int64)


def _first_line_value(values: np.ndarray, n_lines: np.ndarray) -> np.ndarray:
    starts = np.concatenate([[0], np.cumsum(n_lines)[:-1]]).astype(np.int64)
    return values[starts] if len(values) else np.zeros(0, dtype=np.int64)


# --- Shopify ------------------------------------------------------------------------------


def shopify_day(pop: Population, cat: Catalogue, seed: int, day: date) -> Batch:
    rng = day_rng(seed, day, "shopify_orders")
    lam = expected_per_day(pop.n, SHOPIFY_ORDERS_PER_PERSON_YEAR, day, "shopify")
    n = int(rng.poisson(lam))
    person = pick_buyers(pop, "shopify", day, n, rng)
    n = len(person)
    secs = seconds_of_day(rng, n, _ONLINE_HOURS)
    n_lines = _lines(rng, n, 0.9, 8)
    prod = _distinct_products(rng, cat, pop, person, n_lines)
    qty = 1 + (rng.random(len(prod)) < 0.12) + (rng.random(len(prod)) < 0.03)
    currency = pop.currency[person]
    line_cur = np.repeat(currency, n_lines)
    price = np.where(line_cur == 0, cat.price_usd[prod], cat.price_eur[prod])
    gross = _group_sum(price * qty, n_lines)
    p_code = np.where(
        pop.planted_promotion_driven[person], PROMO_DISCOUNT_SHARE, BASE_DISCOUNT_SHARE
    )
    has_code = rng.random(n) < p_code
    codes, code_p = discount_codes_on(day)
    code = np.where(has_code, codes[rng.choice(len(codes), size=n, p=code_p)], -1)
    pct = np.array([c[1] for c in ref.DISCOUNT_CODES])[np.maximum(code, 0)]
    discount = np.where(has_code, (gross * pct + 50) // 100, 0)
    subtotal = gross - discount
    free_ship = subtotal >= 15_000
    shipping = np.where(free_ship, 0, np.where(currency == 0, 1_500, 1_200))
    total = subtotal + shipping
    taxes = np.where(currency == 1, (total * 19 + 59) // 119, 0)  # EUR prices include VAT
    # paid, partially_refunded, refunded, voided, pending
    status = rng.choice(5, size=n, p=[0.82, 0.06, 0.06, 0.02, 0.04])
    cancelled = (status == 3) | ((status == 2) & (rng.random(n) < 0.7))
    refund_frac = rng.uniform(0.15, 0.6, n)
    refunded = np.select(
        [status == 2, status == 1],
        [total, np.maximum((total * refund_frac).astype(np.int64), 100)],
        default=0,
    )
    refunded = np.minimum(refunded, total)
    has_email = ~pop.email.is_null().to_numpy()[person]
    has_phone = ~pop.phone.is_null().to_numpy()[person]
    # 0 canonical, 1 upper, 2 capitalised, 3 padded, 4 padded+capitalised, 5 placeholder,
    # 6 second address, 7 blank
    email_kind = rng.choice(8, size=n, p=[0.795, 0.04, 0.05, 0.05, 0.03, 0.02, 0.0, 0.015])
    # a second address, used now and then by occasional buyers (rarely by regulars)
    p_alt = 0.03 / (1 + 4 * pop.channel_weight["shopify"][person])
    email_kind = np.where(rng.random(n) < p_alt, 6, email_kind)
    email_kind = np.where(has_email, email_kind, np.where(rng.random(n) < 0.1, 5, 7))
    billing_phone = rng.random(n) < 0.8
    phone_col = rng.random(n) < 0.3
    no_contact = (email_kind == 5) | (email_kind == 7)
    rescue = no_contact & (rng.random(n) < (np.where(has_email, 0.5, 1.0)))
    billing_phone |= rescue
    billing_phone &= has_phone & (email_kind != 6)
    phone_col &= has_phone & (email_kind != 6)
    return {
        "orders": {
            "day": np.full(n, day.toordinal()),
            "seq": np.arange(1, n + 1),
            "person": person,
            "secs": secs,
            "n_lines": n_lines,
            "currency": currency,
            "subtotal": subtotal,
            "shipping": shipping,
            "taxes": taxes,
            "total": total,
            "discount_code": code,
            "discount": discount,
            "status": status,
            "cancelled": cancelled,
            "refunded": refunded,
            "paid_delay": rng.integers(1, 90, n),
            "cancel_delay": rng.integers(600, 30 * 3600, n),
            "fulfil_delay": rng.integers(5 * 3600, 3 * 86400, n),
            "fulfilment": rng.choice(3, size=n, p=[0.86, 0.11, 0.03]),
            "email_kind": email_kind,
            "placeholder": rng.integers(0, len(ref.PLACEHOLDER_EMAILS), n),
            "billing_phone_style": np.where(billing_phone, rng.integers(0, 6, n), -1),
            "phone_col_style": np.where(phone_col, 5, -1),
            "note": np.where(rng.random(n) < 0.012, rng.integers(0, len(ref.SHOPIFY_NOTES), n), -1),
            "quoted": rng.random(n) < 0.7,  # this export wrote some blanks as ""
            "payment": _choice(rng, ref.SHOPIFY_PAYMENT_METHODS, n),
            "source": _choice(rng, ref.SHOPIFY_SOURCES, n),
            "vip_tag": rng.random(n) < 0.04,
            "pay_ref": rng.integers(10**13, 10**14, n),
        },
        "lines": {
            "product": prod,
            "qty": qty,
            "price": price,
            "size": _sizes(rng, prod),
        },
    }


# --- Tmall --------------------------------------------------------------------------------


def tmall_day(pop: Population, cat: Catalogue, seed: int, day: date) -> Batch:
    rng = day_rng(seed, day, "tmall_orders")
    lam = expected_per_day(pop.n, TMALL_ORDERS_PER_PERSON_YEAR, day, "tmall")
    n = int(rng.poisson(lam))
    person = pick_buyers(pop, "tmall", day, n, rng)
    n = len(person)
    secs = seconds_of_day(rng, n, _ONLINE_HOURS)
    n_lines = _lines(rng, n, 0.7, 6)
    prod = _distinct_products(rng, cat, pop, person, n_lines)
    qty = 1 + (rng.random(len(prod)) < 0.15) + (rng.random(len(prod)) < 0.04)
    promo = seasonality(day, "tmall") > 1.4
    factor = np.where(
        promo, rng.choice([0.8, 0.85, 0.9], len(prod)), rng.choice([1.0, 0.95, 0.9], len(prod))
    )
    price = (np.round(cat.price_cny[prod] * factor / 100) * 100).astype(np.int64)
    goods = _group_sum(price * qty, n_lines)
    postage = np.where(rng.random(n) < 0.9, 0, rng.choice([800, 1000, 1200], n))
    total = goods + postage
    unpaid = rng.random(n) < 0.08
    paid = np.where(unpaid, 0, total)
    # refunds: 0 none, 1 partial, 2 full; known at once or only weeks later (late)
    kind = rng.choice(5, size=n, p=[0.91, 0.03, 0.02, 0.02, 0.02])
    kind = np.where(unpaid, 0, kind)
    first_line = _first_line_value(price * qty, n_lines)
    partial = np.where(n_lines > 1, first_line, (paid * rng.uniform(0.2, 0.5, n)).astype(np.int64))
    partial = np.clip(partial, 100, np.maximum(paid - 100, 100))
    refund = np.select([(kind == 1) | (kind == 3), (kind == 2) | (kind == 4)], [partial, paid], 0)
    refund = np.minimum(refund, paid)
    late = kind >= 3
    refund_day = np.where(
        kind == 0,
        0,
        day.toordinal() + np.where(late, rng.integers(3, LATE_REFUND_MAX_DAYS + 1, n), 0),
    )
    has_phone = ~pop.phone.is_null().to_numpy()[person]
    mobile_style = rng.choice([0, 6, 7, 3], size=n, p=[0.85, 0.05, 0.05, 0.05])
    mobile_placeholder = (rng.random(n) < 0.015) | ~has_phone
    alipay_style = rng.choice(4, size=n, p=[0.4, 0.2, 0.25, 0.15])
    return {
        "orders": {
            "day": np.full(n, day.toordinal()),
            "seq": np.arange(1, n + 1),
            "person": person,
            "secs": secs,
            "n_lines": n_lines,
            "goods": goods,
            "postage": postage,
            "total": total,
            "paid": paid,
            "unpaid": unpaid,
            "pay_delay": rng.integers(5, 900, n),
            "refund": refund,
            "refund_day": refund_day,
            "id_tail": rng.integers(0, 10**7, n),
            "id_extra": rng.choice([0, 1, 2], size=n, p=[0.5, 0.3, 0.2]),
            "message": np.where(rng.random(n) < 0.06, rng.integers(0, 4, n), -1),
            "mobile_style": mobile_style,
            "mobile_placeholder": mobile_placeholder,
            "placeholder": rng.integers(0, len(ref.PLACEHOLDER_PHONES), n),
            "alipay_style": alipay_style,
            "mobile_order": rng.random(n) < 0.8,
            "district": rng.integers(0, len(ref.DISTRICTS), n),
            "street": rng.integers(0, len(ref.STREETS), n),
            "house": rng.integers(1, 999, n),
            "near_dup": rng.random(n) < 0.004,
        },
        "lines": {
            "product": prod,
            "qty": qty,
            "price": price,
            "size": _sizes(rng, prod),
            "ext_code": rng.random(len(prod)) < 0.7,
        },
    }


# --- POS ----------------------------------------------------------------------------------


def pos_day(pop: Population, cat: Catalogue, seed: int, day: date) -> Batch:
    rng = day_rng(seed, day, "pos_transactions")
    lam = expected_per_day(pop.n, POS_RECEIPTS_PER_PERSON_YEAR, day, "pos")
    n = int(rng.poisson(lam))
    person = pick_buyers(pop, "pos", day, n, rng)
    n = len(person)
    store = np.where(
        rng.random(n) < 0.9, pop.home_store[person], rng.integers(0, len(ref.STORES), n)
    )
    secs = seconds_of_day(rng, n, _STORE_HOURS)
    order = np.lexsort((secs, store))  # receipts numbered per store through the day
    person, store, secs = person[order], store[order], secs[order]
    first_of_store = np.concatenate([[True], store[1:] != store[:-1]]) if n else np.zeros(0, bool)
    starts = (
        np.maximum.accumulate(np.where(first_of_store, np.arange(n), 0)) if n else first_of_store
    )
    receipt_seq = np.arange(n) - starts + 1
    n_lines = _lines(rng, n, 1.3, 10)
    prod = _distinct_products(rng, cat, pop, person, n_lines)
    qty = 1 + (rng.random(len(prod)) < 0.12) + (rng.random(len(prod)) < 0.03)
    price = cat.price_cny[prod]
    t = day.toordinal()
    member_now = pop.is_member[person] & (pop.join_day[person] <= t)
    has_phone = ~pop.phone.is_null().to_numpy()[person]
    # 0 anonymous, 1 member card, 2 phone, 3 placeholder phone typed by the cashier
    ident = np.where(
        member_now,
        rng.choice(3, size=n, p=[0.2, 0.65, 0.15]),
        rng.choice([0, 2], size=n, p=[0.8, 0.2]),
    )
    ident = np.where((ident == 2) & ~has_phone, 0, ident)
    ident = np.where((ident == 2) & (rng.random(n) < 0.05), 3, ident)
    line_ident = np.repeat(ident, n_lines)
    # member day: 5 % off every line for a shown card; promotions: 10 or 20 % off some lines
    # (the first one at least) of a receipt, for the promotion-driven nearly always
    member_day = day.day == MEMBER_DAY
    member_disc = np.where((line_ident == 1) & member_day, (price * qty * 5 + 50) // 100, 0)
    p_promo = np.where(
        pop.planted_promotion_driven[person], PROMO_DISCOUNT_SHARE, BASE_DISCOUNT_SHARE
    )
    promo_receipt = np.repeat(rng.random(n) < p_promo, n_lines)
    first_line = np.zeros(len(prod), dtype=bool)
    first_line[np.concatenate([[0], np.cumsum(n_lines)[:-1]]).astype(np.int64)[:n]] = True
    promo = promo_receipt & (first_line | (rng.random(len(prod)) < 0.5))
    promo_disc = np.where(promo, (price * qty * rng.choice([10, 20], len(prod)) + 50) // 100, 0)
    discount = np.maximum(member_disc, promo_disc)
    return {
        "orders": {
            "day": np.full(n, t),
            "store": store,
            "receipt_seq": receipt_seq,
            "person": person,
            "secs": secs,
            "n_lines": n_lines,
            "ident": ident,
            "phone_style": rng.choice([0, 6], size=n, p=[0.9, 0.1]),
            "placeholder": rng.integers(0, len(ref.PLACEHOLDER_PHONES), n),
            "payment": _choice(rng, ref.POS_PAYMENTS, n),
        },
        "lines": {
            "product": prod,
            "qty": qty,
            "price": price,
            "discount": discount,
            "amount": price * qty - discount,
            "dup": rng.random(len(prod)) < 0.004,
        },
    }


# --- social and service -------------------------------------------------------------------


def social_day(pop: Population, cat: Catalogue, seed: int, day: date) -> Arrays:
    rng = day_rng(seed, day, "social_events")
    per_year = float(pop.acc_cum[-1]) if len(pop.acc_cum) else 0.0
    lam = per_year / 365 * seasonality(day, "social") / _SEASON_NORM["social"]
    n = int(rng.poisson(lam)) if len(pop.acc_person) else 0
    draw = pop.acc_cum[-1] * rng.random(n) if n else np.zeros(0)
    account = np.minimum(np.searchsorted(pop.acc_cum, draw, side="right"), len(pop.acc_cum) - 1)
    secs = seconds_of_day(rng, n, _ONLINE_HOURS)
    etype = _choice(rng, [(e[0], e[1]) for e in ref.SOCIAL_EVENT_TYPES], n)
    link = pop.acc_link[account]
    show = rng.random(n) < 0.6
    has_text = np.array([e[2] for e in ref.SOCIAL_EVENT_TYPES])[etype]
    return {
        "day": np.full(n, day.toordinal()),
        "seq": np.arange(1, n + 1),
        "account": account,
        "secs": secs,
        "etype": etype,
        "text": np.where(has_text, rng.integers(0, 1000, n), -1),
        "link_email": show & ((link & 1) > 0),
        "link_phone": show & ((link & 2) > 0),
        "email_style": rng.choice([0, 1, 3], size=n, p=[0.8, 0.1, 0.1]),
        "phone_style": rng.choice([0, 5, 2], size=n, p=[0.6, 0.2, 0.2]),
        "sku": np.where(has_text & (rng.random(n) < 0.2), _products(rng, cat, n), -1),
        "dup": rng.random(n) < 0.01,
    }


def service_day(pop: Population, seed: int, day: date) -> Arrays:
    rng = day_rng(seed, day, "service_interactions")
    lam = expected_per_day(pop.n, SERVICE_CONTACTS_PER_PERSON_YEAR, day, "service")
    n = int(rng.poisson(lam))
    draw = pop.service_cum[-1] * rng.random(n)
    person = np.minimum(np.searchsorted(pop.service_cum, draw, side="right"), pop.n - 1)
    secs = seconds_of_day(rng, n, _STORE_HOURS + 0.5)
    channel = rng.choice(3, size=n, p=[0.4, 0.35, 0.25])  # call, email, chat
    has_email = ~pop.email.is_null().to_numpy()[person]
    has_phone = ~pop.phone.is_null().to_numpy()[person]
    p_email = np.array([0.15, 1.0, 0.5])[channel]
    p_phone = np.array([1.0, 0.1, 0.6])[channel]
    show_email = (rng.random(n) < p_email) & has_email
    show_phone = (rng.random(n) < p_phone) & has_phone
    neither = ~show_email & ~show_phone
    show_email |= neither & has_email
    show_phone |= neither & ~has_email
    return {
        "day": np.full(n, day.toordinal()),
        "seq": np.arange(1, n + 1),
        "person": person,
        "secs": secs,
        "channel": channel,
        # email: -1 hidden, 0 canonical, 1 upper, 3 padded, 9 placeholder
        "email_style": np.where(
            show_email,
            np.where(rng.random(n) < 0.03, 9, rng.choice([0, 1, 3], size=n, p=[0.85, 0.1, 0.05])),
            -1,
        ),
        # phone: -1 hidden, 0 plain, 5 +86..., 9 placeholder
        "phone_style": np.where(
            show_phone,
            np.where(rng.random(n) < 0.02, 9, rng.choice([0, 5, 3], size=n, p=[0.8, 0.1, 0.1])),
            -1,
        ),
        "placeholder": rng.integers(0, 2, n),
        "topic": rng.integers(0, len(ref.SERVICE_TOPICS), n),
        "outcome": _choice(rng, ref.SERVICE_OUTCOMES, n),
        "csat": np.where(
            rng.random(n) < 0.6, rng.choice(5, size=n, p=[0.06, 0.08, 0.16, 0.35, 0.35]) + 1, -1
        ),
        "nps": np.where(
            rng.random(n) < 0.4,
            rng.choice(
                11, size=n, p=[0.02, 0.02, 0.02, 0.03, 0.04, 0.07, 0.08, 0.14, 0.2, 0.18, 0.2]
            ),
            -1,
        ),
        "agent": rng.integers(1, 25, n),
        "dup": rng.random(n) < 0.005,
        "near_dup": rng.random(n) < 0.003,
    }


# --- reference data per day ---------------------------------------------------------------


def campaign_runs(i: int, day: date) -> bool:
    window = ref.CAMPAIGNS[i][2]
    if window is None:
        return True
    (m1, d1), (m2, d2) = window
    return date(day.year, m1, d1) <= day <= date(day.year, m2, d2)


def discount_codes_on(day: date) -> tuple[np.ndarray, np.ndarray]:
    """Indexes into DISCOUNT_CODES of the codes whose campaign runs on ``day``, and the odds
    that an order with a code uses each (in proportion to the campaign's spend)."""
    live = [k for k, (_code, _pct, i) in enumerate(ref.DISCOUNT_CODES) if campaign_runs(i, day)]
    w = np.array([ref.CAMPAIGNS[ref.DISCOUNT_CODES[k][2]][3] for k in live])
    return np.array(live, dtype=np.int64), w / w.sum()


def campaign_day(n_persons: int, seed: int, day: date) -> Arrays:
    rng = day_rng(seed, day, "campaign_spend")
    active = [i for i in range(len(ref.CAMPAIGNS)) if campaign_runs(i, day)]
    idx = np.array(active, dtype=np.int64)
    rate = np.array([ref.CAMPAIGNS[i][3] for i in active])
    spend = np.round(rate * n_persons / 1000 * rng.uniform(0.7, 1.3, len(idx)) * 100)
    return {
        "day": np.full(len(idx), day.toordinal()),
        "campaign": idx,
        "spend": np.maximum(spend.astype(np.int64), 1),
    }


# --- batch helpers ------------------------------------------------------------------------


def concat_arrays(parts: list[Arrays]) -> Arrays:
    keys = parts[0].keys()
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def concat_batches(parts: list[Batch]) -> Batch:
    return {
        "orders": concat_arrays([p["orders"] for p in parts]),
        "lines": concat_arrays([p["lines"] for p in parts]),
    }


def subset_arrays(arrays: Arrays, mask: np.ndarray) -> Arrays:
    return {k: v[mask] for k, v in arrays.items()}


def subset_batch(batch: Batch, order_mask: np.ndarray) -> Batch:
    line_mask = np.repeat(order_mask, batch["orders"]["n_lines"])
    return {
        "orders": subset_arrays(batch["orders"], order_mask),
        "lines": subset_arrays(batch["lines"], line_mask),
    }
