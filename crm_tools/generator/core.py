"""``generate``: write the landing files of a date range and their ground truth."""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.lib.contracts import load_contracts
from pipelines.lib.landing import DELIVERY_MARKER

from . import activity as act
from . import render as rd
from .population import SCALES, build_catalogue, build_population
from .reference import SHOPIFY_EXPORT_HEADER
from .timeline import (
    Delivery,
    fx_rate_micro,
    guaranteed_malformed,
    loyalty_is_gbk,
    plan_deliveries,
    pos_is_gzip,
    redelivers_previous_pos_file,
    rng_for,
    tmall_is_gbk,
)
from .truth import (
    History,
    call_stem,
    finish_orders,
    load_history,
    persons_table,
    save_manifest,
    write_table,
)
from .writers import Encoded, encode_csv, encode_jsonl

# Digits of the per-day sequence in Shopify order names (#1<yyyymmdd><seq>).
ORDER_SEQ_WIDTH = {"XS": 3, "S": 4, "M": 4, "L": 5}
# Malformed rows per data row, on top of the one planted in every file of some deliveries.
MALFORMED_RATE = 2e-5

SOURCE_ORDER = (
    "products",
    "stores",
    "fx_rates",
    "campaign_spend",
    "shopify_orders",
    "tmall_orders",
    "tmall_order_items",
    "pos_transactions",
    "loyalty_members",
    "social_events",
    "service_interactions",
)


class _Rates(dict):
    """fx rate (millionths of a CNY) per (day, currency), computed on first use."""

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def __missing__(self, key: tuple[date, str]) -> int:
        value = fx_rate_micro(self.seed, key[0], key[1])
        self[key] = value
        return value


class _Run:
    """Writes one call's files and collects its truth."""

    def __init__(self, landing: Path, ctx: rd.Context, history: History):
        self.landing = landing
        self.ctx = ctx
        self.history = history
        self.files: list[dict] = []
        self.records: list[pl.DataFrame] = []
        self.orders: list[pl.DataFrame] = []
        self.lines: list[pl.DataFrame] = []
        self.interactions: list[pl.DataFrame] = []

    # -- files --

    def write(
        self,
        source: str,
        delivery: Delivery,
        name: str,
        enc: Encoded,
        *,
        encoding: str,
        duplicate_rows: int = 0,
        near_duplicate_rows: int = 0,
        redelivery_of: str | None = None,
    ) -> str:
        rel = f"{source}/{delivery.folder}/{name}"
        path = self.landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(enc.data)
        tmp.replace(path)
        self.files.append(
            {
                "source": source,
                "file": rel,
                "delivery_date": delivery.date,
                "data_rows": enc.data_rows,
                "malformed_rows": enc.malformed_rows,
                "duplicate_rows": duplicate_rows,
                "near_duplicate_rows": near_duplicate_rows,
                "encoding": encoding,
                "identical_redelivery_of": redelivery_of,
            }
        )
        return rel

    def previous_file(self, source: str) -> dict | None:
        """The latest file of ``source`` delivered so far (this call or the ones before)."""
        mine = [
            f for f in self.files if f["source"] == source and f["identical_redelivery_of"] is None
        ]
        return mine[-1] if mine else self.history.last_file(source)

    def malformed(self, source: str, delivery: Delivery, n_rows: int) -> tuple[int, int, object]:
        """How many malformed rows to plant in a file, the kind to start with, and its rng."""
        idx = SOURCE_ORDER.index(source)
        rng = rng_for(self.ctx.seed, "file", delivery.date.toordinal(), idx)
        count = int(rng.poisson(n_rows * MALFORMED_RATE)) if n_rows else 0
        if n_rows and guaranteed_malformed(delivery):
            count += 1
        return count, (delivery.date.toordinal() + idx) % 3, rng

    def csv(
        self,
        source: str,
        delivery: Delivery,
        name: str,
        rows: pl.DataFrame,
        *,
        encoding: str = "utf-8",
        crlf: bool = False,
        compress: bool = False,
        with_malformed: bool = True,
        duplicate_rows: int = 0,
        near_duplicate_rows: int = 0,
    ) -> str:
        count, offset, rng = self.malformed(source, delivery, rows.height)
        enc = encode_csv(
            rows,
            contract=self.ctx.contracts[source],
            encoding=encoding,
            line_terminator="\r\n" if crlf else "\n",
            compress=compress,
            malformed=count if with_malformed else 0,
            kind_offset=offset,
            rng=rng,
        )
        return self.write(
            source,
            delivery,
            name,
            enc,
            encoding=encoding,
            duplicate_rows=duplicate_rows,
            near_duplicate_rows=near_duplicate_rows,
        )

    # -- truth --

    def add(self, kind: str, df: pl.DataFrame, delivery: Delivery, rel: str) -> None:
        if kind in ("records",):
            df = df.with_columns(delivery_date=pl.lit(delivery.date), file=pl.lit(rel))
        getattr(self, kind).append(df)


def _check_layout(contracts) -> None:
    shopify = contracts["shopify_orders"]
    missing = [
        c.canonical_header
        for c in shopify.columns
        if c.canonical_header not in SHOPIFY_EXPORT_HEADER
    ]
    if missing:
        raise ValueError(f"shopify_orders contract headers not in the export layout: {missing}")


def _late_refund_pool(ctx: rd.Context, history: History, start: date) -> act.Batch | None:
    """Tmall orders delivered by earlier calls whose refund shows up only from ``start`` on."""
    if history.fresh:
        return None
    delivered = history.delivery_dates("tmall_orders")
    first_day = max(history.start, start - timedelta(days=act.LATE_REFUND_MAX_DAYS))
    parts = []
    day = first_day
    while day < start:
        pos = bisect.bisect_left(delivered, day)
        if pos < len(delivered):
            batch = act.tmall_day(ctx.pop, ctx.cat, ctx.seed, day)
            refund_day = batch["orders"]["refund_day"]
            late = (refund_day > delivered[pos].toordinal()) & (refund_day >= start.toordinal())
            if late.any():
                parts.append(act.subset_batch(batch, late))
        day += timedelta(days=1)
    return act.concat_batches(parts) if parts else None


def generate(
    landing_dir: Path,
    truth_dir: Path,
    *,
    scale: str,
    seed: int,
    start_date: date,
    days: int,
    cadence: str = "monthly",
) -> dict:
    """Write merchant exports for ``days`` days from ``start_date`` and their ground truth.

    Landing: ``<landing_dir>/<source>/<delivery date>/<file>``; truth: Parquet tables under
    ``truth_dir`` (see :mod:`crm_tools.generator.truth`). The population depends only on
    (scale, seed) and each day's activity only on (seed, day), so the same arguments give
    byte-identical files, and a call for the next day(s) into the same dirs continues the
    earlier call (it reads ``truth_dir/manifest.json``) without touching its files.

    Returns a summary: files and data rows per source, persons, deliveries.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}, not {scale!r}")
    landing_dir, truth_dir = Path(landing_dir).resolve(), Path(truth_dir).resolve()
    if truth_dir == landing_dir or landing_dir in truth_dir.parents:
        raise ValueError("truth_dir must not be inside landing_dir: ingest would read it")
    deliveries = plan_deliveries(start_date, days, cadence)
    last_date = start_date + timedelta(days=days - 1)
    truth_dir.mkdir(parents=True, exist_ok=True)
    history, calls = load_history(
        truth_dir, scale=scale, seed=seed, first=start_date, last=last_date, cadence=cadence
    )
    contracts = load_contracts()
    _check_layout(contracts)
    # planted churners stop relative to the end of the chain's first call (manifest.json)
    pop = build_population(scale, seed).with_churn_anchor(history.churn_anchor)
    cat = build_catalogue(scale, seed)
    ctx = rd.Context(
        pop=pop,
        cat=cat,
        seed=seed,
        scale=scale,
        contracts=contracts,
        order_seq_width=ORDER_SEQ_WIDTH[scale],
    )
    rates = _Rates(seed)
    run = _Run(landing_dir, ctx, history)
    pool = _late_refund_pool(ctx, history, start_date)

    members_by_join = np.argsort(pop.join_day, kind="stable")
    join_sorted = pop.join_day[members_by_join]

    for i, dlv in enumerate(deliveries):
        d_first, d_last = dlv.days[0].toordinal(), dlv.date.toordinal()
        tag = dlv.folder
        if i == 0 and history.fresh:
            run.csv("products", dlv, "products.csv", rd.render_products(ctx), with_malformed=False)
            run.csv("stores", dlv, "stores.csv", rd.render_stores(ctx), with_malformed=False)
        for d in dlv.days:
            for cur in ("USD", "EUR"):
                rates[(d, cur)]
        run.csv(
            "fx_rates",
            dlv,
            f"fx_rates_{tag}.csv",
            rd.render_fx(ctx, list(dlv.days), rates),
            with_malformed=False,
        )
        spend = act.concat_arrays([act.campaign_day(pop.n, seed, d) for d in dlv.days])
        run.csv("campaign_spend", dlv, f"campaign_spend_{tag}.csv", rd.render_campaigns(ctx, spend))

        # Shopify
        batch = act.concat_batches([act.shopify_day(pop, cat, seed, d) for d in dlv.days])
        rows, orders, records, lines = rd.render_shopify(ctx, batch, SHOPIFY_EXPORT_HEADER)
        rel = run.csv("shopify_orders", dlv, "orders_export_1.csv", rows)
        run.add("orders", orders, dlv, rel)
        run.add("lines", lines, dlv, rel)
        run.add("records", records, dlv, rel)

        # Tmall: new orders, plus earlier orders whose refund happened in this delivery
        batch = act.concat_batches([act.tmall_day(pop, cat, seed, d) for d in dlv.days])
        o_rows, i_rows, orders, records, near, lines = rd.render_tmall(ctx, batch, dlv.date)
        if pool is not None:
            due = (pool["orders"]["refund_day"] >= d_first) & (
                pool["orders"]["refund_day"] <= d_last
            )
            if due.any():
                fixed = act.subset_batch(pool, due)
                co_rows, ci_rows, c_orders, _c_records, c_near, c_lines = rd.render_tmall(
                    ctx, fixed, dlv.date
                )
                o_rows, i_rows = pl.concat([o_rows, co_rows]), pl.concat([i_rows, ci_rows])
                orders = pl.concat([orders, c_orders])
                lines = pl.concat([lines, c_lines])
                near += c_near
            pool = act.subset_batch(pool, ~due)
        late = batch["orders"]["refund_day"] > d_last
        if late.any():
            fresh_late = act.subset_batch(batch, late)
            pool = fresh_late if pool is None else act.concat_batches([pool, fresh_late])
        gbk = tmall_is_gbk(dlv)
        encoding = "gbk" if gbk else "utf-8-sig"
        rel = run.csv(
            "tmall_orders",
            dlv,
            f"订单报表-{tag}.csv",
            o_rows,
            encoding=encoding,
            crlf=gbk,
            near_duplicate_rows=near,
        )
        run.add("orders", orders, dlv, rel)
        run.add("lines", lines, dlv, rel)
        run.add("records", records, dlv, rel)
        run.csv(
            "tmall_order_items", dlv, f"宝贝报表-{tag}.csv", i_rows, encoding=encoding, crlf=gbk
        )

        # POS, and now and then the previous POS export sent again
        batch = act.concat_batches([act.pos_day(pop, cat, seed, d) for d in dlv.days])
        rows, orders, records, dups, lines = rd.render_pos(ctx, batch)
        gz = pos_is_gzip(dlv)
        name = f"pos_{tag}.csv" + (".gz" if gz else "")
        if redelivers_previous_pos_file(dlv) and (prev := run.previous_file("pos_transactions")):
            data = (landing_dir / prev["file"]).read_bytes()
            run.write(
                "pos_transactions",
                dlv,
                prev["file"].rsplit("/", 1)[1],
                Encoded(data, prev["data_rows"], prev["malformed_rows"]),
                encoding=prev["encoding"],
                duplicate_rows=prev["duplicate_rows"],
                near_duplicate_rows=prev["near_duplicate_rows"],
                redelivery_of=prev["file"],
            )
        rel = run.csv("pos_transactions", dlv, name, rows, compress=gz, duplicate_rows=dups)
        run.add("orders", orders, dlv, rel)
        run.add("lines", lines, dlv, rel)
        run.add("records", records, dlv, rel)

        # loyalty members who joined in this delivery's days (and, first of all, the old ones)
        lo = np.searchsorted(join_sorted, d_first, side="left")
        hi = np.searchsorted(join_sorted, d_last, side="right")
        members = members_by_join[lo:hi]
        if i == 0 and history.fresh:
            old_lo = np.searchsorted(join_sorted, 0, side="left")  # non-members have -1
            old_hi = np.searchsorted(join_sorted, history.start.toordinal(), side="left")
            members = np.concatenate([members_by_join[old_lo:old_hi], members])
        gbk = loyalty_is_gbk(dlv)
        rows, records, near = rd.render_loyalty(ctx, members, slash_dates=gbk)
        rel = run.csv(
            "loyalty_members",
            dlv,
            f"会员列表-{tag}.csv",
            rows,
            encoding="gbk" if gbk else "utf-8-sig",
            crlf=gbk,
            near_duplicate_rows=near,
        )
        run.add("records", records, dlv, rel)

        # social (JSON Lines)
        events = act.concat_arrays([act.social_day(pop, cat, seed, d) for d in dlv.days])
        rows, interactions, records, dups = rd.render_social(ctx, events)
        count, _offset, rng = run.malformed("social_events", dlv, rows.height)
        rel = run.write(
            "social_events",
            dlv,
            f"social_{tag}.jsonl",
            encode_jsonl(rows, malformed=count, rng=rng),
            encoding="utf-8",
            duplicate_rows=dups,
        )
        run.add("interactions", interactions, dlv, rel)
        run.add("records", records, dlv, rel)

        # customer service
        contacts = act.concat_arrays([act.service_day(pop, seed, d) for d in dlv.days])
        rows, interactions, records, dups, near = rd.render_service(ctx, contacts)
        rel = run.csv(
            "service_interactions",
            dlv,
            f"service_{tag}.csv",
            rows,
            duplicate_rows=dups,
            near_duplicate_rows=near,
        )
        run.add("interactions", interactions, dlv, rel)
        run.add("records", records, dlv, rel)

    # truth
    stem = call_stem(start_date, last_date)
    records = pl.concat(run.records).unique(
        ["source", "record_key"], keep="first", maintain_order=True
    )
    orders = pl.concat(run.orders).unique(["source", "order_key"], keep="last", maintain_order=True)
    orders = finish_orders(orders, rates)
    lines = pl.concat(run.lines).unique(
        ["source", "order_key", "line_no"], keep="last", maintain_order=True
    )
    interactions = pl.concat(run.interactions).unique(
        ["source", "interaction_key"], keep="first", maintain_order=True
    )
    files = pl.DataFrame(
        run.files,
        schema={
            "source": pl.String,
            "file": pl.String,
            "delivery_date": pl.Date,
            "data_rows": pl.Int64,
            "malformed_rows": pl.Int64,
            "duplicate_rows": pl.Int64,
            "near_duplicate_rows": pl.Int64,
            "encoding": pl.String,
            "identical_redelivery_of": pl.String,
        },
    )
    # Like a delivering system: the marker last, once every file of the folder is in place.
    for folder in sorted({f.rsplit("/", 1)[0] for f in files["file"].to_list()}):
        (landing_dir / folder / DELIVERY_MARKER).touch()
    write_table(persons_table(pop), truth_dir / "persons.parquet")
    write_table(records, truth_dir / "records" / f"{stem}.parquet")
    write_table(orders, truth_dir / "orders" / f"{stem}.parquet")
    write_table(lines, truth_dir / "order_lines" / f"{stem}.parquet")
    write_table(interactions, truth_dir / "interactions" / f"{stem}.parquet")
    write_table(files, truth_dir / "files" / f"{stem}.parquet")
    save_manifest(
        truth_dir,
        calls,
        scale=scale,
        seed=seed,
        first=start_date,
        last=last_date,
        cadence=cadence,
        churn_anchor=history.churn_anchor,
    )

    per_source = files.group_by("source").agg(
        files=pl.len(), rows=pl.col("data_rows").sum(), malformed=pl.col("malformed_rows").sum()
    )
    by = {r["source"]: r for r in per_source.iter_rows(named=True)}
    return {
        "scale": scale,
        "seed": seed,
        "start_date": start_date.isoformat(),
        "end_date": last_date.isoformat(),
        "cadence": cadence,
        "deliveries": len(deliveries),
        "persons": pop.n,
        "files": {s: by[s]["files"] for s in SOURCE_ORDER if s in by},
        "rows": {s: by[s]["rows"] for s in SOURCE_ORDER if s in by},
        "malformed_rows": {s: by[s]["malformed"] for s in SOURCE_ORDER if s in by},
        "truth": {
            "records": records.height,
            "orders": orders.height,
            "order_lines": lines.height,
            "interactions": interactions.height,
        },
    }
