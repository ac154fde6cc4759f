"""Turn a delivery's activity arrays into the text columns of each source, and into truth rows.

Column headers come from the contracts (``Column.canonical_header``, contract order); this
module only fills values by contract column *name*. Identifier variants, placeholders and the
other quirks of real exports are applied here, from codes drawn in :mod:`.activity`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from pipelines.lib.contracts import Contract

from . import reference as ref
from .activity import Arrays, Batch
from .population import Catalogue, Population

_UNIX_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass
class Context:
    pop: Population
    cat: Catalogue
    seed: int
    scale: str
    contracts: dict[str, Contract]
    order_seq_width: int


# --- small vectorised formatters ----------------------------------------------------------


def money(cents: np.ndarray) -> pl.Series:
    """Integer cents as ``1234.50`` (two decimals, no sign for positives)."""
    c = pl.Series(np.asarray(cents, dtype=np.int64))
    a = c.abs()
    text = (a // 100).cast(pl.String) + "." + (a % 100).cast(pl.String).str.zfill(2)
    return pl.select(pl.when(c < 0).then("-" + text).otherwise(text)).to_series()


def money_compact(cents: np.ndarray) -> pl.Series:
    """Amounts as Taobao reports write them: ``58.51``, ``15.7``, ``0``."""
    return money(cents).str.replace(r"\.?0+$", "")


def timestamps(day: np.ndarray, secs: np.ndarray, fmt: str) -> pl.Series:
    ts_ms = ((np.asarray(day, dtype=np.int64) - _UNIX_ORDINAL) * 86_400 + secs) * 1000
    return pl.Series(ts_ms.astype(np.int64)).cast(pl.Datetime("ms")).dt.strftime(fmt)


def datetimes(day: np.ndarray, secs: np.ndarray) -> pl.Series:
    """Local wall time in Asia/Shanghai as a zone-aware timestamp."""
    ts_ms = ((np.asarray(day, dtype=np.int64) - _UNIX_ORDINAL) * 86_400 + secs) * 1000
    naive = pl.Series(ts_ms.astype(np.int64)).cast(pl.Datetime("ms")).cast(pl.Datetime("us"))
    return naive.dt.replace_time_zone("Asia/Shanghai")


def dates(day: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(day, dtype=np.int64) - _UNIX_ORDINAL).cast(pl.Date)


def date_text(day: np.ndarray, fmt: str = "%Y-%m-%d") -> pl.Series:
    return dates(day).dt.strftime(fmt)


def take(values, idx: np.ndarray) -> pl.Series:
    if isinstance(values, pl.Series):
        return values.gather(np.asarray(idx, dtype=np.int64))
    return pl.Series(np.asarray(values)[idx])


def where(mask: np.ndarray, then, otherwise=None) -> pl.Series:
    """Elementwise choice between two Series/scalars; None gives null."""
    then_e = pl.lit(then)
    other_e = pl.lit(otherwise) if otherwise is not None else pl.lit(None, dtype=pl.String)
    return (
        pl.select(
            pl.when(pl.lit(pl.Series(np.asarray(mask, dtype=bool)))).then(then_e).otherwise(other_e)
        )
        .to_series()
        .cast(pl.String)
    )


def email_variant(email: pl.Series, style: np.ndarray) -> pl.Series:
    """0 canonical, 1 upper-case, 2 ``Foo@EXAMPLE.COM``, 3 padded, 4 padded + 2; else null."""
    df = pl.DataFrame({"e": email, "s": pl.Series(np.asarray(style, dtype=np.int64))})
    e, s = pl.col("e"), pl.col("s")
    parts = e.str.split_exact("@", 1)
    local, domain = parts.struct.field("field_0"), parts.struct.field("field_1")
    cap = local.str.slice(0, 1).str.to_uppercase() + local.str.slice(1) + "@"
    cap = cap + domain.str.to_uppercase()
    expr = (
        pl.when(s == 0)
        .then(e)
        .when(s == 1)
        .then(e.str.to_uppercase())
        .when(s == 2)
        .then(cap)
        .when(s == 3)
        .then("  " + e + " ")
        .when(s == 4)
        .then("  " + cap + " ")
        .otherwise(None)
    )
    return df.select(expr.alias("v")).to_series()


def phone_variant(phone: pl.Series, style: np.ndarray) -> pl.Series:
    """Ways a CN mobile ``13800138000`` gets written; a negative style gives null.

    0 ``13800138000``, 1 ``+86 138-0013-8000``, 2 ``8613800138000``, 3 ``138 0013 8000``,
    4 ``'+86 138-0013-8000`` (Shopify's guard against Excel), 5 ``+8613800138000``,
    6 ``138-0013-8000``, 7 ``+86-13800138000``.
    """
    df = pl.DataFrame({"p": phone, "s": pl.Series(np.asarray(style, dtype=np.int64))})
    p, s = pl.col("p"), pl.col("s")
    a, b, c = p.str.slice(0, 3), p.str.slice(3, 4), p.str.slice(7, 4)
    dashed = "+86 " + a + "-" + b + "-" + c
    expr = (
        pl.when(s == 0)
        .then(p)
        .when(s == 1)
        .then(dashed)
        .when(s == 2)
        .then("86" + p)
        .when(s == 3)
        .then(a + " " + b + " " + c)
        .when(s == 4)
        .then("'" + dashed)
        .when(s == 5)
        .then("+86" + p)
        .when(s == 6)
        .then(a + "-" + b + "-" + c)
        .when(s == 7)
        .then("+86-" + p)
        .otherwise(None)
    )
    return df.select(expr.alias("v")).to_series()


def frame(contract: Contract, values: dict[str, pl.Series], n: int) -> pl.DataFrame:
    """A DataFrame with the contract's canonical headers, in contract order."""
    unknown = set(values) - set(contract.column_names)
    if unknown:
        raise KeyError(f"{contract.source}: not contract columns: {sorted(unknown)}")
    cols = []
    for col in contract.columns:
        v = values.get(col.name)
        if v is None:
            v = pl.Series([None] * n, dtype=pl.String)
        if len(v) != n:
            raise ValueError(f"{contract.source}.{col.name}: {len(v)} values for {n} rows")
        cols.append(v.cast(pl.String).alias(col.canonical_header))
    return pl.DataFrame(cols) if cols else pl.DataFrame()


def _phones_of(pop: Population, person: np.ndarray) -> pl.Series:
    return take(pop.phone, person).fill_null("")


def _placeholder_phone(idx: np.ndarray) -> pl.Series:
    return take(np.array(ref.PLACEHOLDER_PHONES), idx)


def _identity_truth(source: str, keys: pl.Series, person: np.ndarray, identifiable) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": pl.Series([source] * len(keys), dtype=pl.String),
            "record_key": keys,
            "person_id": pl.Series(np.asarray(person, dtype=np.int64) + 1),
            "identifiable": pl.Series(np.asarray(identifiable, dtype=bool)),
        }
    )


def _order_truth(
    source: str,
    keys: pl.Series,
    person: np.ndarray,
    day: np.ndarray,
    currency: pl.Series,
    line_count: np.ndarray,
    gross: np.ndarray,
    refunded: np.ndarray,
    net: np.ndarray,
    is_paid: np.ndarray,
    has_discount: np.ndarray,
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": pl.Series([source] * len(keys), dtype=pl.String),
            "order_key": keys,
            "person_id": pl.Series(np.asarray(person, dtype=np.int64) + 1),
            "order_date": dates(day),
            "currency": currency,
            "line_count": pl.Series(np.asarray(line_count, dtype=np.int64)),
            "gross_cents": pl.Series(np.asarray(gross, dtype=np.int64)),
            "refunded_cents": pl.Series(np.asarray(refunded, dtype=np.int64)),
            "net_cents": pl.Series(np.asarray(net, dtype=np.int64)),
            "is_paid": pl.Series(np.asarray(is_paid, dtype=bool)),
            "has_discount": pl.Series(np.asarray(has_discount, dtype=bool)),
        }
    )


def _line_truth(
    cat: Catalogue,
    source: str,
    order_keys: pl.Series,
    n_lines: np.ndarray,
    prod: np.ndarray,
    qty: np.ndarray,
    unit_price: np.ndarray,
    has_discount: np.ndarray,
) -> pl.DataFrame:
    """One row per order line: the product bought, its unit price in the order's currency."""
    order_of_line = np.repeat(np.arange(len(n_lines)), n_lines)
    starts = np.concatenate([[0], np.cumsum(n_lines)[:-1]]).astype(np.int64)
    line_no = np.arange(len(order_of_line)) - starts[order_of_line] + 1
    return pl.DataFrame(
        {
            "source": pl.Series([source] * len(prod), dtype=pl.String),
            "order_key": take(order_keys, order_of_line),
            "line_no": pl.Series(np.asarray(line_no, dtype=np.int64)),
            "sku": pl.Series(cat.sku[prod], dtype=pl.String),
            "brand": pl.Series(cat.brand[prod], dtype=pl.String),
            "category": pl.Series(cat.category[prod], dtype=pl.String),
            "quantity": pl.Series(np.asarray(qty, dtype=np.int64)),
            "unit_price": money(np.asarray(unit_price, dtype=np.int64)).cast(pl.Decimal(18, 2)),
            "has_discount": pl.Series(np.asarray(has_discount, dtype=bool)),
        }
    )


# --- Shopify ------------------------------------------------------------------------------

_FIN_STATUS = np.array(["paid", "partially_refunded", "refunded", "voided", "pending"])


def shopify_order_names(day: np.ndarray, seq: np.ndarray, width: int) -> pl.Series:
    if len(seq) and int(seq.max()) >= 10**width:
        raise ValueError(f"more than {10**width - 1} Shopify orders on one day")
    return "#1" + date_text(day, "%Y%m%d") + pl.Series(seq).cast(pl.String).str.zfill(width)


def render_shopify(ctx: Context, batch: Batch, extra_headers: tuple[str, ...]):
    """Rows of a Shopify 'Export orders' CSV (newest order first) and the truth frames.

    Returns (rows, orders truth, identity records) where rows has one column per header of
    the full export layout.
    """
    pop, cat = ctx.pop, ctx.cat
    contract = ctx.contracts["shopify_orders"]
    o, ln = batch["orders"], batch["lines"]
    # newest first: reverse the (day, seq) order, keeping line order inside each order
    n = len(o["seq"])
    rev = np.lexsort((-o["seq"], -o["day"]))
    starts = np.concatenate([[0], np.cumsum(o["n_lines"])[:-1]]).astype(np.int64)
    counts = o["n_lines"][rev]
    new_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    line_idx = np.repeat(starts[rev] - new_starts, counts) + np.arange(int(counts.sum()))
    o = {k: v[rev] for k, v in o.items()}
    ln = {k: v[line_idx] for k, v in ln.items()}
    m = len(ln["product"])
    order_of_line = np.repeat(np.arange(n), o["n_lines"])
    first = np.zeros(m, dtype=bool)
    first[np.concatenate([[0], np.cumsum(o["n_lines"])[:-1]]).astype(np.int64)[:n]] = True

    person = o["person"]
    names = shopify_order_names(o["day"], o["seq"], ctx.order_seq_width)
    created = timestamps(o["day"], o["secs"], "%Y-%m-%d %H:%M:%S +0800")
    status = o["status"]
    paid = status <= 2
    fulfilled = (o["fulfilment"] == 0) & paid & ~o["cancelled"]
    fulfil_text = np.where(
        o["cancelled"] | ~paid,
        "unfulfilled",
        np.array(["fulfilled", "unfulfilled", "partial"])[o["fulfilment"]],
    )
    currency = np.where(o["currency"] == 0, "USD", "EUR")

    email_real = take(pop.email, person).fill_null("")
    kind = o["email_kind"]
    style = np.where(kind <= 4, kind, -1)
    email = email_variant(email_real, style)
    email = pl.select(
        pl.when(pl.lit(pl.Series(kind == 5)))
        .then(pl.lit(take(np.array(ref.PLACEHOLDER_EMAILS), o["placeholder"])))
        .when(pl.lit(pl.Series(kind == 6)))
        .then(pl.lit(take(pop.alt_email, person)))
        .otherwise(pl.lit(email))
    ).to_series()
    phones = _phones_of(pop, person)
    billing_phone = phone_variant(phones, o["billing_phone_style"])
    phone_col = phone_variant(phones, o["phone_col_style"])
    quoted = o["quoted"]
    billing_phone = pl.select(
        pl.when(pl.lit(billing_phone).is_null() & pl.lit(pl.Series(quoted)))
        .then(pl.lit(""))
        .otherwise(pl.lit(billing_phone))
    ).to_series()

    city = pop.city[person]
    city_en = take(np.array([c[1] for c in ref.CITIES]), city)
    prov = take(np.array([c[3] for c in ref.CITIES]), city)
    zipc = take(np.array([c[5] for c in ref.CITIES]), city)
    street = (
        pl.Series(np.asarray(o["pay_ref"] % 1000 + 1)).cast(pl.String)
        + " "
        + take(np.array(["Renmin Rd", "Jiefang Rd", "Zhongshan Rd", "Nanjing Rd"]), o["seq"] % 4)
    )
    code = o["discount_code"]
    codes = np.array([c[0] for c in ref.DISCOUNT_CODES])
    disc_code = where(code >= 0, take(codes, np.maximum(code, 0)), "")
    note_texts = np.array(ref.SHOPIFY_NOTES)
    notes = where(o["note"] >= 0, take(note_texts, np.maximum(o["note"], 0)), "")
    notes = pl.select(
        pl.when((pl.lit(notes) == "") & pl.lit(pl.Series(~quoted)))
        .then(None)
        .otherwise(pl.lit(notes))
    ).to_series()
    ship_method = np.where(o["shipping"] == 0, "Free Shipping", "Standard Shipping")
    tax_name = np.where(o["currency"] == 1, "DE MwSt 19%", "")
    order_id = (
        4_000_000_000_000 + (o["day"] - 730_000) * 100_000 + o["seq"]
    )  # 13 digits like real ids
    pay_ref = "c" + pl.Series(o["pay_ref"]).cast(pl.String) + ".1"
    refunded = o["refunded"]

    order_level: dict[str, pl.Series] = {
        "financial_status": take(_FIN_STATUS, status),
        "paid_at": where(
            paid, timestamps(o["day"], o["secs"] + o["paid_delay"], "%Y-%m-%d %H:%M:%S +0800")
        ),
        "fulfillment_status": pl.Series(fulfil_text),
        "accepts_marketing": pl.Series(np.where(pop.consent[person], "yes", "no")),
        "currency": pl.Series(currency),
        "subtotal": money(o["subtotal"]),
        "shipping": money(o["shipping"]),
        "taxes": money(o["taxes"]),
        "total": money(o["total"]),
        "discount_code": disc_code,
        "discount_amount": money(o["discount"]),
        "billing_name": take(pop.name, person),
        "billing_city": city_en,
        "billing_province": prov,
        "billing_country": pl.Series(["CN"] * n, dtype=pl.String),
        "billing_zip": zipc,
        "billing_phone": billing_phone,
        "shipping_city": city_en,
        "phone": phone_col,
        "cancelled_at": where(
            o["cancelled"],
            timestamps(o["day"], o["secs"] + o["cancel_delay"], "%Y-%m-%d %H:%M:%S +0800"),
        ),
        "payment_method": take(np.array([p[0] for p in ref.SHOPIFY_PAYMENT_METHODS]), o["payment"]),
        "refunded_amount": money(refunded),
        "shopify_order_id": pl.Series(order_id).cast(pl.String),
        "tags": where(o["vip_tag"], "VIP", ""),
        "source_name": take(np.array([s[0] for s in ref.SHOPIFY_SOURCES]), o["source"]),
    }
    extra_order: dict[str, pl.Series] = {
        "Fulfilled at": where(
            fulfilled,
            timestamps(o["day"], o["secs"] + o["fulfil_delay"], "%Y-%m-%d %H:%M:%S +0800"),
        ),
        "Shipping Method": pl.Series(ship_method),
        "Billing Street": street,
        "Billing Address1": street,
        "Billing Address2": where(quoted, "", None),
        "Shipping Name": take(pop.name, person),
        "Shipping Street": street,
        "Shipping Address1": street,
        "Shipping Address2": where(quoted, "", None),
        "Shipping Zip": zipc,
        "Shipping Province": prov,
        "Shipping Country": pl.Series(["CN"] * n, dtype=pl.String),
        "Shipping Phone": billing_phone,
        "Notes": notes,
        "Note Attributes": pl.Series([""] * n, dtype=pl.String),
        "Payment Reference": pay_ref,
        "Risk Level": pl.Series(["Low"] * n, dtype=pl.String),
        "Tax 1 Name": where(o["currency"] == 1, pl.Series(tax_name)),
        "Tax 1 Value": where(o["currency"] == 1, money(o["taxes"])),
    }
    prod = ln["product"]
    sized = cat.size_kind[prod]
    size_label = np.where(
        sized == "SML",
        np.array(["S", "M", "L", "M", "S"])[ln["size"]],
        np.where(sized == "SHOE", np.array(["35", "36", "37", "38", "39"])[ln["size"]], ""),
    )
    line_name = pl.Series(cat.name_en[prod]) + where(sized != "", " / " + pl.Series(size_label), "")
    line_name = line_name.fill_null(pl.Series(cat.name_en[prod]))
    compare_at = money((ln["price"] * 5 + 2) // 4)
    line_level: dict[str, pl.Series] = {
        "order_name": take(names, order_of_line),
        "email": take(email, order_of_line),
        "created_at": take(created, order_of_line),
        "lineitem_quantity": pl.Series(ln["qty"]).cast(pl.String),
        "lineitem_name": line_name,
        "lineitem_price": money(ln["price"]),
        "lineitem_sku": pl.Series(cat.sku[prod]),
        "lineitem_discount": money(np.zeros(m, dtype=np.int64)),
        "vendor": pl.Series(cat.brand[prod]),
    }
    extra_line: dict[str, pl.Series] = {
        "Lineitem compare at price": compare_at,
        "Lineitem requires shipping": pl.Series(["true"] * m, dtype=pl.String),
        "Lineitem taxable": pl.Series(["true"] * m, dtype=pl.String),
        "Lineitem fulfillment status": take(
            np.where(fulfilled, "fulfilled", "pending"), order_of_line
        ),
    }
    first_s = pl.Series(first)

    def spread(values: pl.Series) -> pl.Series:
        """Order-level value on the first row of the order, blank on continuation rows."""
        full = take(values, order_of_line)
        return pl.select(pl.when(pl.lit(first_s)).then(pl.lit(full)).otherwise(None)).to_series()

    by_header: dict[str, pl.Series] = {}
    for col in contract.columns:
        if col.name in line_level:
            by_header[col.canonical_header] = line_level[col.name]
        elif col.name in order_level:
            by_header[col.canonical_header] = spread(order_level[col.name])
        else:
            raise KeyError(f"shopify_orders.{col.name}: no generator for this contract column")
    for header, values in extra_order.items():
        by_header.setdefault(header, spread(values))
    for header, values in extra_line.items():
        by_header.setdefault(header, values)
    missing = [h for h in by_header if h not in extra_headers]
    if missing:
        raise KeyError(f"shopify_orders: headers not in the export layout: {missing}")
    rows = pl.DataFrame(
        [
            (by_header[h] if h in by_header else pl.Series([None] * m, dtype=pl.String))
            .cast(pl.String)
            .alias(h)
            for h in extra_headers
        ]
    )

    net = np.where(paid, o["total"] - refunded, 0)
    orders = _order_truth(
        "shopify_orders",
        names,
        person,
        o["day"],
        pl.Series(currency),
        o["n_lines"],
        o["total"],
        refunded,
        net,
        paid,
        code >= 0,
    )
    identifiable = (
        ((kind <= 4) | (kind == 6)) & (email_real.to_numpy() != "")
        | (o["billing_phone_style"] >= 0)
        | (o["phone_col_style"] >= 0)
    )
    records = _identity_truth("shopify_orders", names, person, identifiable)
    lines = _line_truth(
        cat,
        "shopify_orders",
        names,
        o["n_lines"],
        prod,
        ln["qty"],
        ln["price"],
        (code >= 0)[order_of_line],
    )
    return rows, orders, records, lines


# --- Tmall --------------------------------------------------------------------------------


def tmall_order_ids(day: np.ndarray, seq: np.ndarray, tail: np.ndarray, extra: np.ndarray):
    """17-19 digit order numbers, unique per (day, seq)."""
    if len(seq) and int(seq.max()) >= 10**6:
        raise ValueError("more than 999,999 Tmall orders on one day")
    base = (
        "2"
        + pl.Series(np.asarray(day) - 700_000).cast(pl.String).str.zfill(5)
        + pl.Series(seq).cast(pl.String).str.zfill(6)
        + pl.Series(tail % 100_000).cast(pl.String).str.zfill(5)
    )
    more = pl.Series(tail // 100_000 % 100).cast(pl.String).str.zfill(2)
    return pl.select(
        pl.when(pl.lit(pl.Series(extra == 0)))
        .then(pl.lit(base))
        .when(pl.lit(pl.Series(extra == 1)))
        .then(pl.lit(base) + pl.lit(more).str.slice(0, 1))
        .otherwise(pl.lit(base) + pl.lit(more))
    ).to_series()


def render_tmall(ctx: Context, batch: Batch, visible_on: date):
    """订单报表 rows, 宝贝报表 rows, orders truth and identity records.

    Refunds are shown as of ``visible_on`` (the delivery date): a refund made later is not
    in this delivery and comes as a corrected re-delivery of the order.
    """
    pop, cat = ctx.pop, ctx.cat
    o, ln = batch["orders"], batch["lines"]
    n, m = len(o["seq"]), len(ln["product"])
    person = o["person"]
    ids = tmall_order_ids(o["day"], o["seq"], o["id_tail"], o["id_extra"])
    shown = (o["refund_day"] > 0) & (o["refund_day"] <= visible_on.toordinal())
    refund = np.where(shown, o["refund"], 0)
    unpaid = o["unpaid"]
    closed = unpaid | (shown & (refund == o["paid"]) & (o["paid"] > 0))
    status = np.where(closed, "交易关闭", "交易成功")
    reason = np.where(unpaid, "买家未付款", np.where(closed, "退款", "订单未关闭"))
    created = timestamps(o["day"], o["secs"], "%Y/%-m/%-d %-H:%M")
    paid_at = where(~unpaid, timestamps(o["day"], o["secs"] + o["pay_delay"], "%Y/%-m/%-d %-H:%M"))

    phones = _phones_of(pop, person)
    mobile = phone_variant(phones, o["mobile_style"])
    mobile = pl.select(
        pl.when(pl.lit(pl.Series(o["mobile_placeholder"])))
        .then(pl.lit(_placeholder_phone(o["placeholder"])))
        .otherwise(pl.lit(mobile))
    ).to_series()
    emails = take(pop.email, person)
    has_email = ~emails.is_null().to_numpy()
    has_phone = phones.to_numpy() != ""
    style = o["alipay_style"]
    style = np.where((style <= 0) & ~has_phone, 1, style)
    style = np.where((style == 1) | (style == 2), np.where(has_email, style, 0), style)
    style = np.where(style == 3, np.where(has_phone, 3, 2), style)
    style = np.where(~has_email & ~has_phone, 4, style)
    masked_phone = phones.str.slice(0, 3) + "****" + phones.str.slice(7, 4)
    e_parts = emails.fill_null("x@x").str.split_exact("@", 1).struct.unnest()
    masked_email = e_parts["field_0"].str.slice(0, 3) + "***@" + e_parts["field_1"]
    alipay = pl.select(
        pl.when(pl.lit(pl.Series(style == 0)))
        .then(pl.lit(masked_phone))
        .when(pl.lit(pl.Series(style == 1)))
        .then(pl.lit(masked_email))
        .when(pl.lit(pl.Series(style == 2)))
        .then(pl.lit(emails))
        .when(pl.lit(pl.Series(style == 3)))
        .then(pl.lit(phones))
        .otherwise(None)
    ).to_series()
    city = pop.city[person]
    address = (
        take(np.array([c[2] for c in ref.CITIES]), city)
        + "省 "
        + take(np.array([c[0] for c in ref.CITIES]), city)
        + "市 "
        + take(np.array(ref.DISTRICTS), o["district"])
        + " "
        + take(np.array(ref.STREETS), o["street"])
        + pl.Series(o["house"]).cast(pl.String)
        + "号("
        + take(np.array([c[5] for c in ref.CITIES]), city)
        + ")"
    ).str.replace(r"^(北京|上海|天津|重庆)省 ", "$1 ")
    order_of_line = np.repeat(np.arange(n), o["n_lines"])
    prod = ln["product"]
    titles = pl.DataFrame({"o": order_of_line, "t": cat.title[prod]})
    joined = titles.group_by("o", maintain_order=True).agg(pl.col("t").str.join("，"))["t"]
    qty_total = np.bincount(order_of_line, weights=ln["qty"], minlength=n).astype(np.int64)
    messages = np.array(ref.TMALL_MESSAGES)
    values = {
        "order_id": ids + " ",  # the real report pads every order number with a space
        "buyer_nick": take(pop.tmall_nick, person),
        "alipay_account": alipay,
        "goods_amount": money_compact(o["goods"]),
        "postage": money_compact(o["postage"]),
        "total_amount": money_compact(o["total"]),
        # 买家实际支付金额 is what the buyer paid net of the refunds shown: in both real
        # reports (../shared/real-exports) paid + refund = total on every refunded order.
        "paid_amount": money_compact(o["paid"] - refund),
        "order_status": pl.Series(status),
        "buyer_message": where(o["message"] >= 0, take(messages, np.maximum(o["message"], 0))),
        "receiver_name": take(pop.name, person),
        "receiver_address": address,
        "contact_mobile": mobile,
        "created_at": created,
        "paid_at": paid_at,
        "item_titles": joined if n else pl.Series([], dtype=pl.String),
        "item_kinds": pl.Series(o["n_lines"]).cast(pl.String),
        "item_quantity": pl.Series(qty_total).cast(pl.String),
        "shop_name": pl.Series([ref.TMALL_SHOP] * n, dtype=pl.String),
        "close_reason": pl.Series(reason),
        "buyer_service_fee": pl.Series(["0元"] * n, dtype=pl.String),
        "is_mobile_order": where(o["mobile_order"], "手机订单"),
        "refund_amount": money_compact(refund),
    }
    orders_rows = frame(ctx.contracts["tmall_orders"], values, n)
    # near duplicates: the same order listed again, its number without the trailing space
    rep = np.where(o["near_dup"], 2, 1)
    idx = np.repeat(np.arange(n), rep)
    second = np.arange(len(idx)) - np.repeat(np.cumsum(rep) - rep, rep) > 0
    id_h = ctx.contracts["tmall_orders"].column("order_id").canonical_header
    orders_rows = (
        orders_rows[idx].with_columns(
            pl.when(pl.lit(pl.Series(second)))
            .then(pl.col(id_h).str.strip_chars_end(" "))
            .otherwise(pl.col(id_h))
            .alias(id_h)
        )
        if n
        else orders_rows
    )

    sized = cat.size_kind[prod]
    size_label = np.where(
        sized == "SML",
        np.array(["S", "M", "L", "M", "S"])[ln["size"]],
        np.where(sized == "SHOE", np.array(["35", "36", "37", "38", "39"])[ln["size"]], ""),
    )
    attrs = "颜色分类：" + pl.Series(cat.color_zh[prod])
    attrs = pl.select(
        pl.when(pl.lit(pl.Series(sized != "")))
        .then(pl.lit(attrs) + "；尺码：" + pl.lit(pl.Series(size_label)))
        .otherwise(pl.lit(attrs))
    ).to_series()
    item_values = {
        "order_id": take(ids, order_of_line),
        "title": pl.Series(cat.title[prod]),
        "unit_price": money_compact(ln["price"]),
        "quantity": pl.Series(ln["qty"]).cast(pl.String),
        "external_code": where(ln["ext_code"], pl.Series(cat.sku[prod])),
        "item_attributes": attrs,
        "line_status": take(status, order_of_line),
        "merchant_sku": pl.Series(cat.sku[prod]),
    }
    items_rows = frame(ctx.contracts["tmall_order_items"], item_values, m)

    net = np.where(unpaid, 0, o["paid"] - refund)
    orders = _order_truth(
        "tmall_orders",
        ids,
        person,
        o["day"],
        pl.Series(["CNY"] * n, dtype=pl.String),
        o["n_lines"],
        o["total"],
        refund,
        net,
        ~unpaid,
        np.zeros(n, dtype=bool),  # the report has no discount field
    )
    records = _identity_truth("tmall_orders", ids, person, np.ones(n, dtype=bool))
    lines = _line_truth(
        cat, "tmall_orders", ids, o["n_lines"], prod, ln["qty"], ln["price"], np.zeros(m, bool)
    )
    return orders_rows, items_rows, orders, records, int(o["near_dup"].sum()), lines


# --- POS ----------------------------------------------------------------------------------


def store_ids() -> np.ndarray:
    return np.array([f"S{i + 1:03d}" for i in range(len(ref.STORES))])


def render_pos(ctx: Context, batch: Batch):
    pop, cat = ctx.pop, ctx.cat
    o, ln = batch["orders"], batch["lines"]
    n = len(o["person"])
    person = o["person"]
    receipt = (
        "R"
        + date_text(o["day"], "%Y%m%d")
        + pl.Series(o["receipt_seq"]).cast(pl.String).str.zfill(4)
    )
    store = take(store_ids(), o["store"])
    ident = o["ident"]
    phones = _phones_of(pop, person)
    phone = phone_variant(phones, np.where(ident == 2, o["phone_style"], -1))
    phone = pl.select(
        pl.when(pl.lit(pl.Series(ident == 3)))
        .then(pl.lit(_placeholder_phone(o["placeholder"])))
        .otherwise(pl.lit(phone))
    ).to_series()
    card = where(ident == 1, take(pop.card_no, person))
    order_of_line = np.repeat(np.arange(n), o["n_lines"])
    starts = np.concatenate([[0], np.cumsum(o["n_lines"])[:-1]]).astype(np.int64)
    line_no = np.arange(len(order_of_line)) - starts[order_of_line] + 1
    # exact duplicate lines: the POS exported the same line twice
    rep = np.where(ln["dup"], 2, 1)
    rows_idx = np.repeat(np.arange(len(order_of_line)), rep)
    ol = order_of_line[rows_idx]
    prod = ln["product"][rows_idx]
    values = {
        "store_id": take(store, ol),
        "receipt_id": take(receipt, ol),
        "line_no": pl.Series(line_no[rows_idx]).cast(pl.String),
        "sale_date": take(date_text(o["day"]), ol),
        "sale_time": take(timestamps(o["day"], o["secs"], "%H:%M:%S"), ol),
        "sku": pl.Series(cat.sku[prod]),
        "item_name": pl.Series(cat.name_zh[prod]),
        "quantity": pl.Series(ln["qty"][rows_idx]).cast(pl.String),
        "unit_price": money(ln["price"][rows_idx]),
        "discount_amount": money(ln["discount"][rows_idx]),
        "line_amount": money(ln["amount"][rows_idx]),
        "payment_method": take(take(np.array([p[0] for p in ref.POS_PAYMENTS]), o["payment"]), ol),
        "member_card": take(card, ol),
        "phone": take(phone, ol),
    }
    rows = frame(ctx.contracts["pos_transactions"], values, len(rows_idx))
    keys = store + "/" + receipt
    amount = np.bincount(order_of_line, weights=ln["amount"], minlength=n).round().astype(np.int64)
    discounted = np.bincount(order_of_line, weights=ln["discount"] > 0, minlength=n) > 0
    orders = _order_truth(
        "pos_transactions",
        keys,
        person,
        o["day"],
        pl.Series(["CNY"] * n, dtype=pl.String),
        o["n_lines"],
        amount,
        np.zeros(n, dtype=np.int64),
        amount,
        np.ones(n, dtype=bool),
        discounted,
    )
    records = _identity_truth("pos_transactions", keys, person, (ident == 1) | (ident == 2))
    lines = _line_truth(
        cat,
        "pos_transactions",
        keys,
        o["n_lines"],
        ln["product"],
        ln["qty"],
        ln["price"],
        ln["discount"] > 0,
    )
    return rows, orders, records, int(ln["dup"].sum()), lines


# --- loyalty members ----------------------------------------------------------------------


def render_loyalty(ctx: Context, members: np.ndarray, *, slash_dates: bool):
    """The member list rows for persons ``members`` (near-duplicate re-listings included)."""
    pop = ctx.pop
    relist = pop.member_relisted[members]
    rows_idx = np.repeat(np.arange(len(members)), np.where(relist, 2, 1))
    second = np.zeros(len(rows_idx), dtype=bool)
    if len(rows_idx):
        second[1:] = rows_idx[1:] == rows_idx[:-1]
    p = members[rows_idx]
    fmt = "%Y/%m/%d" if slash_dates else "%Y-%m-%d"
    phones = _phones_of(pop, p)
    phone = phone_variant(phones, np.where(phones.to_numpy() != "", pop.member_phone_style[p], -1))
    placeholder = pop.member_placeholder[p]
    phone = pl.select(
        pl.when(pl.lit(pl.Series(placeholder == 1)))
        .then(pl.lit(ref.PLACEHOLDER_PHONES[0]))
        .otherwise(pl.lit(phone))
    ).to_series()
    emails = take(pop.email, p)
    shown = pop.member_email_shown[p] & ~emails.is_null().to_numpy()
    email = email_variant(emails.fill_null(""), np.where(shown, pop.member_email_style[p], -1))
    email = pl.select(
        pl.when(pl.lit(pl.Series(placeholder == 2)))
        .then(pl.lit(ref.PLACEHOLDER_EMAILS[2]))
        .otherwise(pl.lit(email))
    ).to_series()
    name = take(pop.name, p)
    occupation = where(
        ~pop.member_occupation_blank[p],
        take(np.array([x[0] for x in ref.OCCUPATIONS]), pop.occupation[p]),
    )
    # the re-listed copy differs only in whitespace and letter case
    name = pl.select(
        pl.when(pl.lit(pl.Series(second))).then(pl.lit(name) + " ").otherwise(pl.lit(name))
    ).to_series()
    email = pl.select(
        pl.when(pl.lit(pl.Series(second)))
        .then(pl.lit(email).str.to_uppercase())
        .otherwise(pl.lit(email))
    ).to_series()
    values = {
        "card_no": take(pop.card_no, p),
        "member_name": name,
        "gender": pl.Series(np.where(pop.gender[p] == 0, "女", "男")),
        "birthday": date_text(pop.birthday[p], fmt),
        "occupation": occupation,
        "city": take(np.array([c[0] for c in ref.CITIES]), pop.city[p]),
        "phone": phone,
        "email": email,
        "joined_on": date_text(pop.join_day[p], fmt),
        "marketing_consent": pl.Series(np.where(pop.consent[p], "是", "否")),
    }
    rows = frame(ctx.contracts["loyalty_members"], values, len(p))
    records = _identity_truth(
        "loyalty_members", take(pop.card_no, members), members, np.ones(len(members), dtype=bool)
    )
    return rows, records, int(second.sum())


# --- social -------------------------------------------------------------------------------

_PLATFORMS = np.array([p[0] for p in ref.SOCIAL_PLATFORMS])
_EVENT_TYPES = np.array([e[0] for e in ref.SOCIAL_EVENT_TYPES])


def render_social(ctx: Context, ev: Arrays):
    pop, cat = ctx.pop, ctx.cat
    n = len(ev["seq"])
    acc = ev["account"]
    person = pop.acc_person[acc]
    event_id = (
        "ev"
        + date_text(ev["day"], "%Y%m%d")
        + "-"
        + pl.Series(ev["seq"]).cast(pl.String).str.zfill(6)
    )
    etype = _EVENT_TYPES[ev["etype"]]
    # texts: one flat list, with each event type's options at an offset
    flat, offset, size = [], [], []
    for t in _EVENT_TYPES:
        options = ref.SOCIAL_TEXTS.get(str(t), ("",))
        offset.append(len(flat))
        size.append(len(options))
        flat.extend(options)
    t_idx = np.array(offset)[ev["etype"]] + np.maximum(ev["text"], 0) % np.array(size)[ev["etype"]]
    texts = where(ev["text"] >= 0, take(np.array(flat), t_idx))
    emails = take(pop.email, person).fill_null("")
    phones = _phones_of(pop, person)
    values = {
        "event_id": event_id,
        "platform": pl.Series(_PLATFORMS[pop.acc_platform[acc]]),
        "handle": take(pop.acc_handle, acc),
        "event_type": pl.Series(etype),
        "event_at": timestamps(ev["day"], ev["secs"], "%Y-%m-%dT%H:%M:%S+08:00"),
        "text": texts,
        "linked_email": email_variant(emails, np.where(ev["link_email"], ev["email_style"], -1)),
        "linked_phone": phone_variant(phones, np.where(ev["link_phone"], ev["phone_style"], -1)),
        "mentioned_sku": where(ev["sku"] >= 0, take(cat.sku, np.maximum(ev["sku"], 0))),
    }
    rows = frame(ctx.contracts["social_events"], values, n)
    rep = np.where(ev["dup"], 2, 1)
    rows = rows[np.repeat(np.arange(n), rep)] if n else rows
    interactions = pl.DataFrame(
        {
            "source": pl.Series(["social_events"] * n, dtype=pl.String),
            "interaction_key": event_id,
            "person_id": pl.Series(person + 1),
            "occurred_at": datetimes(ev["day"], ev["secs"]),
        }
    )
    key = (
        pl.Series(_PLATFORMS[pop.acc_platform[acc]])
        + ":"
        + take(pop.acc_handle, acc).str.to_lowercase()
    )
    records = _identity_truth("social_events", key, person, np.ones(n, dtype=bool))
    records = (
        records.with_columns(account=pl.Series(acc))
        .unique("account", keep="first", maintain_order=True)
        .drop("account")
    )
    return rows, interactions, records, int(ev["dup"].sum())


# --- service ------------------------------------------------------------------------------


def render_service(ctx: Context, sv: Arrays):
    pop = ctx.pop
    n = len(sv["seq"])
    person = sv["person"]
    iid = "SR" + date_text(sv["day"], "%Y%m%d") + pl.Series(sv["seq"]).cast(pl.String).str.zfill(5)
    emails = take(pop.email, person).fill_null("")
    es = sv["email_style"]
    email = email_variant(emails, np.where(es == 9, -1, es))
    email = pl.select(
        pl.when(pl.lit(pl.Series(es == 9)))
        .then(pl.lit(take(np.array(ref.PLACEHOLDER_EMAILS), sv["placeholder"] + 1)))
        .otherwise(pl.lit(email))
    ).to_series()
    ps = sv["phone_style"]
    phone = phone_variant(_phones_of(pop, person), np.where(ps == 9, -1, ps))
    phone = pl.select(
        pl.when(pl.lit(pl.Series(ps == 9)))
        .then(pl.lit(_placeholder_phone(sv["placeholder"])))
        .otherwise(pl.lit(phone))
    ).to_series()
    outcome = take(np.array([x[0] for x in ref.SERVICE_OUTCOMES]), sv["outcome"])
    values = {
        "interaction_id": iid,
        "service_channel": take(np.array(["call", "email", "chat"]), sv["channel"]),
        "started_at": timestamps(sv["day"], sv["secs"], "%Y-%m-%d %H:%M:%S"),
        "customer_email": email,
        "customer_phone": phone,
        "topic": take(np.array(ref.SERVICE_TOPICS), sv["topic"]),
        "outcome": outcome,
        "csat": where(sv["csat"] > 0, pl.Series(sv["csat"]).cast(pl.String)),
        "nps": where(sv["nps"] >= 0, pl.Series(sv["nps"]).cast(pl.String)),
        "agent_id": "A" + pl.Series(sv["agent"]).cast(pl.String).str.zfill(3),
    }
    rows = frame(ctx.contracts["service_interactions"], values, n)
    # exact duplicates repeat the row; near duplicates repeat it with a padded, re-cased topic
    # and outcome, as a second export of the same ticket
    rep = 1 + sv["dup"].astype(np.int64) + sv["near_dup"].astype(np.int64)
    idx = np.repeat(np.arange(n), rep)
    rows = rows[idx] if n else rows
    occurrence = np.arange(len(idx)) - np.repeat(np.cumsum(rep) - rep, rep)
    near = sv["near_dup"][idx] & (occurrence == rep[idx] - 1) & (occurrence > 0)
    topic_h = ctx.contracts["service_interactions"].column("topic").canonical_header
    outcome_h = ctx.contracts["service_interactions"].column("outcome").canonical_header
    near_s = pl.Series(near)
    rows = rows.with_columns(
        pl.when(pl.lit(near_s))
        .then(pl.col(topic_h) + "  ")
        .otherwise(pl.col(topic_h))
        .alias(topic_h),
        pl.when(pl.lit(near_s))
        .then(pl.col(outcome_h).str.to_uppercase())
        .otherwise(pl.col(outcome_h))
        .alias(outcome_h),
    )
    interactions = pl.DataFrame(
        {
            "source": pl.Series(["service_interactions"] * n, dtype=pl.String),
            "interaction_key": iid,
            "person_id": pl.Series(person + 1),
            "occurred_at": datetimes(sv["day"], sv["secs"]),
        }
    )
    identifiable = ((es >= 0) & (es != 9)) | ((ps >= 0) & (ps != 9))
    records = _identity_truth("service_interactions", iid, person, identifiable)
    return rows, interactions, records, int(sv["dup"].sum()), int(sv["near_dup"].sum())


# --- reference sources --------------------------------------------------------------------


def render_campaigns(ctx: Context, cp: Arrays) -> pl.DataFrame:
    camp = cp["campaign"]
    values = {
        "spend_date": date_text(cp["day"]),
        "marketing_channel": take(np.array([c[0] for c in ref.CAMPAIGNS]), camp),
        "campaign": take(np.array([c[1] for c in ref.CAMPAIGNS]), camp),
        "spend": money(cp["spend"]),
        "currency": pl.Series(["CNY"] * len(camp), dtype=pl.String),
    }
    return frame(ctx.contracts["campaign_spend"], values, len(camp))


def render_products(ctx: Context) -> pl.DataFrame:
    cat = ctx.cat
    n = len(cat)
    values = {
        "sku": pl.Series(cat.sku),
        "product_name": pl.Series(cat.name_zh),
        "category": pl.Series(cat.category),
        "brand": pl.Series(cat.brand),
        "list_price": money(cat.price_cny),
        "unit_cost": money(cat.cost_cny),
        "currency": pl.Series(["CNY"] * n, dtype=pl.String),
    }
    return frame(ctx.contracts["products"], values, n)


def render_stores(ctx: Context) -> pl.DataFrame:
    city = np.array([s[0] for s in ref.STORES])
    values = {
        "store_id": pl.Series(store_ids()),
        "store_name": pl.Series([s[1] for s in ref.STORES]),
        "city": take(np.array([c[0] for c in ref.CITIES]), city),
        "region": take(np.array([c[4] for c in ref.CITIES]), city),
    }
    return frame(ctx.contracts["stores"], values, len(city))


def render_fx(ctx: Context, days: list[date], rates: dict[tuple[date, str], int]) -> pl.DataFrame:
    rows_day, rows_from, rows_rate = [], [], []
    for d in days:
        for cur in ("USD", "EUR"):
            rows_day.append(d.isoformat())
            rows_from.append(cur)
            micro = rates[(d, cur)]
            rows_rate.append(f"{micro // 1_000_000}.{micro % 1_000_000:06d}")
    values = {
        "rate_date": pl.Series(rows_day, dtype=pl.String),
        "from_currency": pl.Series(rows_from, dtype=pl.String),
        "to_currency": pl.Series(["CNY"] * len(rows_day), dtype=pl.String),
        "rate": pl.Series(rows_rate, dtype=pl.String),
    }
    return frame(ctx.contracts["fx_rates"], values, len(rows_day))
