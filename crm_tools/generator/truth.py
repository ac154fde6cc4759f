"""Ground truth of a generate call, and the history of earlier calls into the same truth dir.

Tables (Parquet) under ``truth_dir``; each generate call writes ``<table>/<first>_<last>.parquet``
and rewrites ``persons.parquet``. A key can appear in several calls' files (an account active in
both, an order corrected by a later call's re-delivery): the file of the later call wins.
``manifest.json`` lists the calls, so a later call can continue where an earlier one stopped,
and the churn anchor of the chain (see :meth:`Population.with_churn_anchor`).

* ``persons``: one row per person, with the planted behaviour cohorts (``planted_*``).
* ``orders``: one row per order (``is_paid``: counts as a paid order; ``has_discount``: a
  Shopify discount code or a POS line discount).
* ``order_lines``: one row per order line (source, order_key, line_no): sku, brand, category,
  quantity, unit_price (order currency), has_discount (the line is discounted). Key
  (source, order_key, line_no); like orders, the later call's file wins.
* ``records``, ``interactions``, ``files``: identity records, social/service events, files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from . import reference as ref
from .population import Population, age_band
from .render import dates, money, take

TRUTH_TABLES = ("records", "orders", "order_lines", "interactions", "files")
MANIFEST = "manifest.json"


def decimal(cents: np.ndarray | pl.Series, scale: int = 2) -> pl.Series:
    """Exact DECIMAL(18, scale) from integer minor units (never through floats)."""
    values = cents.to_numpy() if isinstance(cents, pl.Series) else np.asarray(cents)
    if scale != 2:
        raise ValueError("only cents are supported")
    return money(values.astype(np.int64)).cast(pl.Decimal(18, 2))


def to_reporting(net_cents: np.ndarray, rate_micro: np.ndarray) -> np.ndarray:
    """round_half_up(net x rate, 2) in cents, with the rate in millionths."""
    prod = np.asarray(net_cents, dtype=np.int64) * np.asarray(rate_micro, dtype=np.int64)
    sign = np.sign(prod)
    return sign * ((np.abs(prod) + 500_000) // 1_000_000)


def persons_table(pop: Population) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "person_id": pl.Series(pop.person_id, dtype=pl.Int64),
            "name": pop.name,
            "gender": pl.Series(np.where(pop.gender == 0, "F", "M")),
            "birthday": dates(pop.birthday),
            "age_band": pl.Series(age_band(pop.birthday)),
            "occupation": take(np.array([o[0] for o in ref.OCCUPATIONS]), pop.occupation),
            "city": take(np.array([c[0] for c in ref.CITIES]), pop.city),
            "email": pop.email,
            "phone": pop.phone,
            "is_member": pl.Series(pop.is_member),
            "card_no": pop.card_no,
            "first_channel": pl.Series(pop.first_channel),
            "marketing_consent": pl.Series(pop.consent),
            "is_prospect": pl.Series(pop.is_prospect),
            "planted_price_sensitive": pl.Series(pop.planted_price_sensitive),
            "planted_brand_loyal": pl.Series(pop.planted_brand_loyal),
            "planted_promotion_driven": pl.Series(pop.planted_promotion_driven),
            "planted_churned": pl.Series(pop.planted_churned),
            "planted_socially_engaged": pl.Series(pop.planted_socially_engaged),
        }
    )


def finish_orders(orders: pl.DataFrame, rates: dict[tuple[date, str], int]) -> pl.DataFrame:
    """Money columns as decimals and the reporting (CNY) amount, from integer cents."""
    if orders.height == 0:
        rate = np.zeros(0, dtype=np.int64)
    else:
        pairs = orders.select("order_date", "currency").unique()
        lookup = pairs.with_columns(
            rate=pl.Series(
                [rates[(d, c)] for d, c in pairs.iter_rows()], dtype=pl.Int64
            )  # one per distinct (day, currency)
        )
        rate = orders.join(
            lookup, on=["order_date", "currency"], how="left", maintain_order="left"
        )["rate"].to_numpy()
    reporting = to_reporting(orders["net_cents"].to_numpy(), rate)
    return orders.select(
        "source",
        "order_key",
        "person_id",
        "order_date",
        "currency",
        "line_count",
        gross_amount=decimal(orders["gross_cents"]),
        refunded_amount=decimal(orders["refunded_cents"]),
        net_amount=decimal(orders["net_cents"]),
        net_amount_reporting=decimal(reporting),
        is_paid=orders["is_paid"],
        has_discount=orders["has_discount"],
    )


def write_table(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    df.write_parquet(tmp, compression="zstd", statistics=True)
    tmp.replace(path)


# --- history of earlier calls -------------------------------------------------------------


@dataclass
class History:
    """What earlier generate calls, ending the day before this one starts, delivered."""

    start: date  # first activity day of the chain of calls this one continues
    fresh: bool  # no earlier call: reference data and old members go in the first delivery
    churn_anchor: date  # last day of the chain's first call: planted churners stop before it
    files: pl.DataFrame = field(default_factory=pl.DataFrame)  # their truth ``files`` rows

    def delivery_dates(self, source: str) -> list[date]:
        if self.files.height == 0:
            return []
        rows = self.files.filter(
            (pl.col("source") == source) & pl.col("identical_redelivery_of").is_null()
        )
        return sorted(set(rows["delivery_date"].to_list()))

    def last_file(self, source: str) -> dict | None:
        """The truth ``files`` row of the latest original file of ``source``."""
        if self.files.height == 0:
            return None
        rows = self.files.filter(
            (pl.col("source") == source) & pl.col("identical_redelivery_of").is_null()
        ).sort("delivery_date", "file")
        return rows.row(rows.height - 1, named=True) if rows.height else None


def _call_stem(first: date, last: date) -> str:
    return f"{first.isoformat()}_{last.isoformat()}"


def load_history(
    truth_dir: Path, *, scale: str, seed: int, first: date, last: date, cadence: str
) -> tuple[History, list[dict]]:
    """The chain of earlier calls this one continues, and the manifest's call list.

    Raises if the truth dir belongs to another scale or seed, or if the range overlaps an
    earlier call that is not this very call.
    """
    path = truth_dir / MANIFEST
    calls: list[dict] = []
    if path.exists():
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("scale") != scale or doc.get("seed") != seed:
            raise ValueError(
                f"{truth_dir} holds truth for scale {doc.get('scale')} seed {doc.get('seed')}, "
                f"not scale {scale} seed {seed}: use another truth dir (and landing dir)"
            )
        calls = doc.get("calls", [])
    kept = []
    for call in calls:
        c_first, c_last = (
            date.fromisoformat(call["first_date"]),
            date.fromisoformat(call["last_date"]),
        )
        same = c_first == first and c_last == last and call["cadence"] == cadence
        if same:
            continue  # a re-run of this call replaces it
        if c_first <= last and first <= c_last:
            raise ValueError(
                f"{first}..{last} ({cadence}) overlaps the earlier call {c_first}..{c_last} "
                f"({call['cadence']}) in {truth_dir}; use fresh landing and truth dirs"
            )
        kept.append(call)
    by_last = {date.fromisoformat(c["last_date"]): c for c in kept}
    chain, cursor = [], first.toordinal() - 1
    while date.fromordinal(cursor) in by_last:
        call = by_last[date.fromordinal(cursor)]
        chain.append(call)
        cursor = date.fromisoformat(call["first_date"]).toordinal() - 1
    if not chain:
        return History(start=first, fresh=True, churn_anchor=last), kept
    frames = []
    for call in chain:
        stem = _call_stem(
            date.fromisoformat(call["first_date"]), date.fromisoformat(call["last_date"])
        )
        f = truth_dir / "files" / f"{stem}.parquet"
        if not f.exists():
            raise FileNotFoundError(f"{f} is listed in {path} but missing")
        frames.append(pl.read_parquet(f))
    start = date.fromisoformat(chain[-1]["first_date"])
    anchor = date.fromisoformat(chain[-1].get("churn_anchor", chain[-1]["last_date"]))
    return History(start=start, fresh=False, churn_anchor=anchor, files=pl.concat(frames)), kept


def save_manifest(
    truth_dir: Path,
    calls: list[dict],
    *,
    scale: str,
    seed: int,
    first: date,
    last: date,
    cadence: str,
    churn_anchor: date,
) -> None:
    calls = [
        *calls,
        {
            "first_date": first.isoformat(),
            "last_date": last.isoformat(),
            "cadence": cadence,
            "churn_anchor": churn_anchor.isoformat(),
        },
    ]
    calls.sort(key=lambda c: c["first_date"])
    doc = {"generator": "crm_tools.generator", "scale": scale, "seed": seed, "calls": calls}
    (truth_dir / MANIFEST).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def call_stem(first: date, last: date) -> str:
    return _call_stem(first, last)
