"""Calendar of a generate call: random streams, deliveries, seasonality, exchange rates.

Everything here is a pure function of the seed and a date, which is what makes generate calls
composable: a day looks the same whichever call produces it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

CADENCES = ("monthly", "daily")

# Random streams: each day's activity of a source is drawn from rng(seed, date, stream).
STREAMS = {
    "population": 1,
    "catalogue": 2,
    "behaviours": 3,
    "shopify_orders": 10,
    "tmall_orders": 11,
    "pos_transactions": 12,
    "social_events": 13,
    "service_interactions": 14,
    "campaign_spend": 15,
    "fx_rates": 16,
    "file": 20,
}


def rng_for(seed: int, stream: str, *parts: int) -> np.random.Generator:
    return np.random.default_rng([seed, STREAMS[stream], *parts])


def day_rng(seed: int, day: date, stream: str) -> np.random.Generator:
    return rng_for(seed, stream, day.toordinal())


def date_range(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]


@dataclass(frozen=True)
class Delivery:
    """One delivery: the files of every source for the activity days ``days``."""

    date: date  # the delivery folder date: the last activity day it covers
    days: tuple[date, ...]
    cadence: str

    @property
    def folder(self) -> str:
        return self.date.isoformat()


def plan_deliveries(start: date, days: int, cadence: str) -> list[Delivery]:
    if cadence not in CADENCES:
        raise ValueError(f"cadence must be one of {CADENCES}, not {cadence!r}")
    if days < 1:
        raise ValueError("days must be at least 1")
    all_days = date_range(start, days)
    if cadence == "daily":
        return [Delivery(d, (d,), cadence) for d in all_days]
    groups: dict[tuple[int, int], list[date]] = {}
    for d in all_days:
        groups.setdefault((d.year, d.month), []).append(d)
    return [Delivery(g[-1], tuple(g), cadence) for g in groups.values()]


# --- delivery-level quirks, each a pure function of the delivery date and cadence ---------


def tmall_is_gbk(delivery: Delivery) -> bool:
    if delivery.cadence == "monthly":
        return delivery.date.month in (2, 6, 10)
    return delivery.date.toordinal() % 9 == 4


def loyalty_is_gbk(delivery: Delivery) -> bool:
    if delivery.cadence == "monthly":
        return delivery.date.month in (3, 7, 11)
    return delivery.date.toordinal() % 11 == 5


def pos_is_gzip(delivery: Delivery) -> bool:
    if delivery.cadence == "monthly":
        return delivery.date.month % 2 == 0
    return delivery.date.toordinal() % 2 == 0


def redelivers_previous_pos_file(delivery: Delivery) -> bool:
    """The merchant re-sends the previous POS export, byte for byte, with this delivery."""
    if delivery.cadence == "monthly":
        return delivery.date.month in (3, 8, 12)
    return delivery.date.day == 15


def guaranteed_malformed(delivery: Delivery) -> bool:
    """Deliveries whose transactional files always carry at least one malformed row."""
    return delivery.cadence == "monthly" or delivery.date.day % 10 == 1


# --- seasonality ------------------------------------------------------------------------

_WEEKDAY_ONLINE = (0.92, 0.90, 0.92, 0.95, 1.02, 1.15, 1.14)
_WEEKDAY_STORE = (0.80, 0.78, 0.80, 0.85, 1.00, 1.45, 1.32)


def _near(day: date, month: int, dom: int, width: float) -> float:
    """A bump of height 1 on (month, dom) of the day's year, falling off over ``width`` days."""
    centre = date(day.year, month, dom)
    dist = abs((day - centre).days)
    return math.exp(-((dist / width) ** 2)) if dist < 4 * width else 0.0


def seasonality(day: date, channel: str) -> float:
    """Relative daily volume of a channel (about 1 on an ordinary day)."""
    if channel == "pos":
        base = _WEEKDAY_STORE[day.weekday()]
        base *= 1 + 0.5 * _near(day, 10, 3, 3) + 0.4 * _near(day, 12, 24, 2)
        base *= 1 - 0.5 * _near(day, 2, 10, 5)
        return base
    base = _WEEKDAY_ONLINE[day.weekday()]
    if channel == "tmall":
        bump = 4.0 * _near(day, 11, 11, 1.2) + 1.2 * _near(day, 11, 4, 4)
        bump += 2.0 * _near(day, 6, 18, 1.2) + 0.8 * _near(day, 6, 10, 5)
        bump += 1.0 * _near(day, 12, 12, 1.0) + 0.4 * _near(day, 5, 20, 1.0)
    elif channel == "shopify":
        bump = 1.5 * _near(day, 11, 28, 2.5) + 0.8 * _near(day, 12, 10, 6)
        bump += 0.6 * _near(day, 11, 11, 1.2)
    else:  # social, service
        bump = 0.8 * _near(day, 11, 11, 3) + 0.5 * _near(day, 6, 18, 3)
    return base * (1 + bump) * (1 - 0.3 * _near(day, 2, 10, 5))


# --- exchange rates ---------------------------------------------------------------------

FX_PAIRS = (("USD", 7_150_000), ("EUR", 7_800_000))  # base rate in millionths of a CNY


def fx_rate_micro(seed: int, day: date, currency: str) -> int:
    """Rate of ``currency`` into CNY on ``day`` in millionths (6 decimals); 1 for CNY.

    A smooth curve plus day noise, so a day's rate never depends on the days before it.
    """
    if currency == "CNY":
        return 1_000_000
    base = dict(FX_PAIRS)[currency]
    t = day.toordinal()
    rng = rng_for(seed, "fx_rates", t, 1 if currency == "USD" else 2)
    phase = (seed % 97) / 97 * 2 * math.pi
    wave = 0.012 * math.sin(2 * math.pi * t / 365.25 + phase)
    wave += 0.006 * math.sin(2 * math.pi * t / 47.0 + 2 * phase)
    noise = 0.0015 * float(rng.normal())
    return round(base * (1 + wave + noise))
