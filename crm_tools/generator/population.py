"""The population (persons, their identifiers, accounts and habits) and the catalogue.

Both depend only on (scale, seed): every generate call for a scale and seed sees the same
people and products, whatever dates it covers. The one exception is when the planted churners
stop buying: relative to the end of the first call of a chain (:meth:`Population.with_churn_anchor`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import polars as pl

from . import reference as ref
from .timeline import rng_for

SCALES: dict[str, int] = {"XS": 1_000, "S": 20_000, "M": 100_000, "L": 1_000_000}
PRODUCT_COUNTS: dict[str, int] = {"XS": 200, "S": 200, "M": 500, "L": 2_000}

# The population's calendar is anchored here: about half of the persons were acquired before
# it, the rest over the following three years. Age bands are computed on this date too.
EPOCH = date(2025, 1, 1)
BUY_CHANNELS = ("shopify", "tmall", "pos")
PROSPECT_SHARE = 0.25
FAMILY_SHARE = 0.01  # persons who use their spouse's phone number (as many again own it)

# Orders per person and year of the whole population (prospects included), per channel. With
# the lines per order drawn in :mod:`.activity` they give ~10 order lines per person and year,
# ~20 % of them in stores.
ORDERS_PER_PERSON_YEAR = {"shopify": 2.1, "tmall": 2.35, "pos": 0.87}
NEVER = 10**7  # an ordinal after every date

# Planted behaviour cohorts (ground truth in persons.parquet, ``planted_*``), each drawn
# independently, so a person can be in several. Shares are of all persons; the buying cohorts
# are drawn among non-prospects, the socially engaged among owners of a social account.
COHORT_SHARE = {
    "price_sensitive": 0.08,  # buys only products in the cheapest 40 % of their category
    "brand_loyal": 0.08,  # 93-100 % of the lines from one brand
    "promotion_driven": 0.08,  # a discount on ~92 % of orders, rarely buys on Tmall
    "churned": 0.10,  # stops buying CHURN_GAP_DAYS + 0..CHURN_SPREAD_DAYS before the anchor
    "socially_engaged": 0.08,  # 40-70 social events a year, others at most 5
}
# Orders a year (expected) that cohort members of the buying cohorts get at least: enough for
# >= 3 paid orders in a year. Churners buy more, as they buy only until they stop.
COHORT_ORDERS_PER_YEAR = 12.0
CHURNER_ORDERS_PER_YEAR = 26.0
# A planted churner's last day of buying is CHURN_GAP_DAYS + U(0, CHURN_SPREAD_DAYS) before the
# churn anchor: the last day of the first generate call of a chain (truth/manifest.json).
CHURN_GAP_DAYS = 186
CHURN_SPREAD_DAYS = 45
# Discounted share of orders (Shopify code, POS discount) of the promotion-driven cohort and
# of everyone else. Tmall orders never show a discount (the report has no discount field).
PROMO_DISCOUNT_SHARE = 0.92
BASE_DISCOUNT_SHARE = 0.06
# Share of the lines of everyone but the price-sensitive that are cheap products
REGULAR_CHEAP_SHARE = 0.25
# Social events a year: socially engaged persons U(lo, hi); others gamma, capped
ENGAGED_EVENTS_PER_YEAR = (40.0, 70.0)
OTHER_EVENTS_PER_YEAR_MAX = 5.0


def weights(pairs) -> tuple[list, np.ndarray]:
    names = [p[0] for p in pairs]
    w = np.array([p[-1] for p in pairs], dtype=float)
    return names, w / w.sum()


def random_strings(rng: np.random.Generator, n: int, width: int, alphabet: str) -> np.ndarray:
    """``n`` random strings of ``width`` characters from ``alphabet`` (vectorised)."""
    codes = np.frombuffer(alphabet.encode("utf-32-le"), dtype=np.uint32)
    picks = codes[rng.integers(0, len(codes), size=(n, width))]
    return np.ascontiguousarray(picks).view(f"<U{width}").ravel()


def digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return random_strings(rng, n, width, "0123456789")


def make_unique(
    values: pl.Series, rng: np.random.Generator, key=None, *, before: str | None = None
) -> pl.Series:
    """Add random digits to repeated values until unique: at the end, or just before the
    first ``before`` character (``"@"`` keeps e-mail addresses valid).

    Values are compared case-insensitively, or by ``key(series)`` when given.
    """
    key = key or (lambda s: s.str.to_lowercase())
    s = values
    for _ in range(50):
        dup = ~key(s).is_first_distinct().to_numpy()
        if not dup.any():
            return s
        where = np.flatnonzero(dup)
        repeated = s.gather(where)
        extra = pl.Series(digits(rng, len(where), 2))
        if before is None:
            extended = repeated + extra
        else:
            parts = repeated.str.split_exact(before, 1).struct.unnest()
            extended = parts["field_0"] + extra + before + parts["field_1"]
        s = s.scatter(where, extended)
    raise RuntimeError("could not make values unique")


def _mailbox(emails: pl.Series) -> pl.Series:
    """The mailbox an address reaches: lower case, and for Gmail without dots in the local
    part, so that no two persons share one after identity normalisation."""
    e = emails.str.to_lowercase()
    parts = e.str.split_exact("@", 1).struct.unnest()
    local = parts["field_0"]
    gmail = parts["field_1"].is_in(["gmail.com", "googlemail.com"])
    local = pl.select(
        pl.when(pl.lit(gmail))
        .then(pl.lit(local).str.replace_all(".", "", literal=True))
        .otherwise(pl.lit(local))
    ).to_series()
    return local + "@" + parts["field_1"].str.replace("googlemail.com", "gmail.com", literal=True)


@dataclass
class Catalogue:
    sku: np.ndarray  # str
    name_zh: np.ndarray
    name_en: np.ndarray
    title: np.ndarray  # Tmall listing title
    category: np.ndarray
    brand: np.ndarray
    brand_zh: np.ndarray
    color_zh: np.ndarray
    color_en: np.ndarray
    size_kind: np.ndarray  # "", "SML" or "SHOE"
    price_cny: np.ndarray  # cents
    cost_cny: np.ndarray  # cents
    price_usd: np.ndarray  # cents
    price_eur: np.ndarray  # cents
    popularity: np.ndarray  # probabilities
    brand_idx: np.ndarray  # index into reference.BRANDS
    cheap: np.ndarray  # list price in the bottom 40 % of its category (percent_rank < 0.4)
    # Baskets: cumulative probabilities over the catalogue for a line's product, one row per
    # basket (see :func:`basket_of_line`): 0 everyone, 1 cheap only, 2 + b brand b only,
    # 2 + B + b cheap products of brand b.
    basket_cum: np.ndarray

    def __len__(self) -> int:
        return len(self.sku)


def percent_rank_below(values: np.ndarray, groups: np.ndarray, share: float) -> np.ndarray:
    """SQL ``percent_rank() over (partition by group order by value) < share``, exactly:
    (rank - 1) / (count - 1) with ties on the lowest rank, 0 for a group of one."""
    out = np.zeros(len(values), dtype=bool)
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        v = values[idx]
        rank = np.searchsorted(np.sort(v), v, side="left")  # 0-based rank, ties lowest
        count = len(idx)
        out[idx] = True if count == 1 else rank / (count - 1) < share
    return out


def _basket_cum(popularity: np.ndarray, cheap: np.ndarray, brand_idx: np.ndarray) -> np.ndarray:
    n_brands = len(ref.BRANDS)
    # everyone else: REGULAR_CHEAP_SHARE of the lines from the cheap products and each brand
    # its catalogue weight, whatever the popularity draw gave (popularity within each cell)
    _, brand_w = weights([(b[0], b[2]) for b in ref.BRANDS])
    regular = np.zeros(len(popularity))
    for is_cheap, share in ((True, REGULAR_CHEAP_SHARE), (False, 1 - REGULAR_CHEAP_SHARE)):
        for b in range(n_brands):
            cell = (cheap == is_cheap) & (brand_idx == b)
            if cell.any():
                regular[cell] = popularity[cell] / popularity[cell].sum() * share * brand_w[b]
    rows = [regular, popularity * cheap]
    # a brand's loyalists buy its cheap products as often as everyone else does
    rows += [regular * (brand_idx == b) for b in range(n_brands)]
    for b in range(n_brands):
        both = popularity * cheap * (brand_idx == b)
        # a brand with too few cheap products: its price-sensitive loyalists buy any cheap one
        rows.append(both if np.count_nonzero(both) >= 5 else popularity * cheap)
    cum = np.cumsum(np.array(rows), axis=1)
    return cum / cum[:, -1:]


def build_catalogue(scale: str, seed: int) -> Catalogue:
    rng = rng_for(seed, "catalogue", list(SCALES).index(scale))
    grid = []
    for ci, cat in enumerate(ref.CATEGORIES):
        for ii in range(len(cat[6])):
            for si in range(len(ref.STYLES)):
                for ki in range(len(ref.COLORS)):
                    grid.append((ci, ii, si, ki))
    n = PRODUCT_COUNTS[scale]
    pick = np.sort(rng.choice(len(grid), size=n, replace=False))
    rows = [grid[i] for i in pick]
    brand_names, brand_p = weights([(b[0], b[2]) for b in ref.BRANDS])
    brand_idx = rng.choice(len(brand_names), size=n, p=brand_p)
    sku, name_zh, name_en, title, category, size_kind = [], [], [], [], [], []
    color_zh, color_en, price = [], [], []
    for k, (ci, ii, si, ki) in enumerate(rows):
        code, cat_zh, _cat_en, lo, hi, sized, items = ref.CATEGORIES[ci]
        item_zh, item_en = items[ii]
        style_zh, style_en = ref.STYLES[si]
        c_zh, c_en, c_code = ref.COLORS[ki]
        b_zh = ref.BRANDS[brand_idx[k]][1]
        sku.append(f"QM{code}{ii:02d}{si}{c_code}")
        name_zh.append(f"{b_zh} {style_zh}{item_zh} {c_zh}")
        name_en.append(f"{style_en} {item_en} - {c_en}")
        words = rng.choice(len(ref.TITLE_WORDS), size=3, replace=False)
        title.append(
            f"{b_zh}{ref.TITLE_WORDS[words[0]]}{style_zh}{item_zh}"
            f"{ref.TITLE_WORDS[words[1]]}{ref.TITLE_WORDS[words[2]]}{cat_zh}"
        )
        category.append(cat_zh)
        size_kind.append(sized)
        color_zh.append(c_zh)
        color_en.append(c_en)
        yuan = int(rng.integers(lo // 10, hi // 10 + 1)) * 10 - 1  # 199, 259, ...
        price.append(yuan * 100)
    price_cny = np.array(price, dtype=np.int64)
    cost = (price_cny * rng.uniform(0.22, 0.45, size=n)).round().astype(np.int64)
    price_usd = np.maximum(np.round(price_cny / 100 / 7.0), 5).astype(np.int64) * 100
    price_eur = np.maximum(np.round(price_cny / 100 / 7.7), 5).astype(np.int64) * 100
    pop = 1.0 / (1 + rng.permutation(n)) ** 0.8  # Zipf-like popularity
    popularity = pop / pop.sum()
    category_arr = np.array(category)
    cheap = percent_rank_below(price_cny, category_arr, 0.4)
    return Catalogue(
        sku=np.array(sku),
        name_zh=np.array(name_zh),
        name_en=np.array(name_en),
        title=np.array(title),
        category=category_arr,
        brand=np.array([ref.BRANDS[i][0] for i in brand_idx]),
        brand_zh=np.array([ref.BRANDS[i][1] for i in brand_idx]),
        color_zh=np.array(color_zh),
        color_en=np.array(color_en),
        size_kind=np.array(size_kind),
        price_cny=price_cny,
        cost_cny=cost,
        price_usd=price_usd,
        price_eur=price_eur,
        popularity=popularity,
        brand_idx=brand_idx,
        cheap=cheap,
        basket_cum=_basket_cum(popularity, cheap, brand_idx),
    )


@dataclass
class Population:
    """Persons in arrays indexed 0..n-1 (person_id = index + 1)."""

    n: int
    person_id: np.ndarray
    name: pl.Series
    gender: np.ndarray  # 0 female, 1 male
    birthday: np.ndarray  # ordinal
    occupation: np.ndarray  # index into OCCUPATIONS
    city: np.ndarray  # index into CITIES
    email: pl.Series  # canonical, null when the person has none
    alt_email: pl.Series  # a second address, used once in a while
    phone: pl.Series  # canonical 11 digits; spouses who share a phone have the same value
    family_partner: np.ndarray  # index of the spouse sharing this phone number, else -1
    is_prospect: np.ndarray
    is_member: np.ndarray
    join_day: np.ndarray  # ordinal of the loyalty card's issue date (members only)
    card_no: pl.Series
    consent: np.ndarray
    acq_day: np.ndarray  # ordinal: first day the person can buy
    churn_day: np.ndarray  # ordinal: the person buys no more from this day (see with_churn_anchor)
    channel_weight: dict[str, np.ndarray]  # buying propensity per channel
    channel_cum: dict[str, np.ndarray]  # cumulative weights for sampling
    currency: np.ndarray  # Shopify currency: 0 USD, 1 EUR
    tmall_nick: pl.Series
    home_store: np.ndarray  # store index
    first_channel: np.ndarray  # str
    service_cum: np.ndarray
    # loyalty list presentation (drawn once per member)
    member_phone_style: np.ndarray
    member_email_shown: np.ndarray
    member_email_style: np.ndarray
    member_placeholder: np.ndarray  # 0 none, 1 placeholder phone, 2 placeholder email
    member_occupation_blank: np.ndarray
    member_relisted: np.ndarray  # near-duplicate row in the same list
    # social accounts
    acc_person: np.ndarray
    acc_platform: np.ndarray  # index into SOCIAL_PLATFORMS
    acc_handle: pl.Series
    acc_link: np.ndarray  # 0 none, 1 email, 2 phone, 3 both
    acc_cum: np.ndarray  # cumulative social events a year per account
    # planted behaviour cohorts (COHORT_SHARE)
    planted_price_sensitive: np.ndarray
    planted_brand_loyal: np.ndarray
    planted_promotion_driven: np.ndarray
    planted_churned: np.ndarray
    planted_socially_engaged: np.ndarray
    loyal_brand: np.ndarray  # index into reference.BRANDS, -1 when not brand-loyal
    loyalty: np.ndarray  # share of a brand-loyal person's lines from that brand
    churn_offset: np.ndarray  # days a planted churner stops before CHURN_GAP_DAYS ahead of anchor
    churn_anchor: int = -1  # ordinal set by with_churn_anchor; -1: churners never stop

    def with_churn_anchor(self, anchor: date) -> Population:
        """The population of a generate chain whose first call ends on ``anchor``: planted
        churners buy nothing from CHURN_GAP_DAYS + churn_offset days before it on.

        This is the one thing of a population that depends on the call: the last paid order
        of a churner must fall > 180 days before the end of the generated range, whatever
        the range. Later calls of the chain reuse the first call's anchor (manifest.json), so
        they continue it exactly.
        """
        t = anchor.toordinal()
        stop = np.where(self.planted_churned, t - CHURN_GAP_DAYS - self.churn_offset, NEVER)
        return replace(self, churn_day=np.minimum(self.churn_day, stop), churn_anchor=t)


def _names(rng: np.random.Generator, gender: np.ndarray) -> tuple[pl.Series, np.ndarray]:
    n = len(gender)
    sur_names, sur_p = weights([(s[0], s[2]) for s in ref.SURNAMES])
    sur = rng.choice(len(sur_names), size=n, p=sur_p)
    f_chars = np.array(list(ref.GIVEN_CHARS_F))
    m_chars = np.array(list(ref.GIVEN_CHARS_M))
    g1 = np.where(
        gender == 0,
        f_chars[rng.integers(0, len(f_chars), n)],
        m_chars[rng.integers(0, len(m_chars), n)],
    )
    g2 = np.where(
        gender == 0,
        f_chars[rng.integers(0, len(f_chars), n)],
        m_chars[rng.integers(0, len(m_chars), n)],
    )
    g2 = np.where(rng.random(n) < 0.7, g2, "")
    name = pl.Series(np.array(sur_names)[sur]) + pl.Series(g1) + pl.Series(g2)
    return name, sur


def _emails(rng: np.random.Generator, gender: np.ndarray, sur: np.ndarray, birthday: np.ndarray):
    n = len(gender)
    pinyin = np.array([s[1] for s in ref.SURNAMES])[sur]
    en = np.where(
        gender == 0,
        np.array(ref.ENGLISH_NAMES_F)[rng.integers(0, len(ref.ENGLISH_NAMES_F), n)],
        np.array(ref.ENGLISH_NAMES_M)[rng.integers(0, len(ref.ENGLISH_NAMES_M), n)],
    )
    syl = np.array(ref.PINYIN_SYLLABLES)
    s1 = syl[rng.integers(0, len(syl), n)]
    s2 = syl[rng.integers(0, len(syl), n)]
    birth_year = (np.datetime64("0001-01-01") + (birthday - 1).astype("timedelta64[D]")).astype(
        "datetime64[Y]"
    ).astype(int) + 1970
    style = rng.integers(0, 6, n)
    num2 = digits(rng, n, 2)
    num3 = digits(rng, n, 3)
    by = birth_year.astype(str)
    local = np.select(
        [style == 0, style == 1, style == 2, style == 3, style == 4],
        [
            np.char.add(np.char.add(en, "."), pinyin),
            np.char.add(np.char.add(en, pinyin), by),
            np.char.add(np.char.add(pinyin, s1), s2),
            np.char.add(np.char.add(np.char.add(pinyin, "_"), en), num2),
            np.char.add(np.char.add(s1, s2), num3),
        ],
        default=np.char.add(np.char.add(en, "_"), by),
    )
    dom_names, dom_p = weights(ref.EMAIL_DOMAINS)
    dom = np.array(dom_names)[rng.choice(len(dom_names), size=n, p=dom_p)]
    qq_numeric = (dom == "qq.com") & (rng.random(n) < 0.6)
    qq_digits = rng.integers(6, 11, n)  # QQ numbers have 6..10 digits
    qq_local = rng.integers(10 ** (qq_digits - 1), 10**qq_digits).astype(str)
    local = np.where(qq_numeric, qq_local, local)
    email = pl.Series("email", np.char.add(np.char.add(local, "@"), dom))
    email = make_unique(email, rng, key=_mailbox, before="@")
    work = np.array(ref.WORK_EMAIL_DOMAINS)[rng.integers(0, len(ref.WORK_EMAIL_DOMAINS), n)]
    alt_local = pl.Series(np.char.add(np.char.add(pinyin, "."), en)) + pl.Series(digits(rng, n, 4))
    alt = make_unique(alt_local + "@" + pl.Series(work), rng, key=_mailbox, before="@")
    return email, alt


def _phones(rng: np.random.Generator, n: int) -> pl.Series:
    prefix = np.array(ref.MOBILE_PREFIXES)[rng.integers(0, len(ref.MOBILE_PREFIXES), n)]
    # distinct 8-digit suffixes keep numbers unique
    scrambled = rng.choice(10**8, size=n, replace=False)
    return pl.Series("phone", prefix) + pl.Series(scrambled).cast(pl.String).str.zfill(8)


def _handles(rng, platform: np.ndarray, gender: np.ndarray, sur: np.ndarray) -> pl.Series:
    n = len(platform)
    pinyin = np.array([s[1] for s in ref.SURNAMES])[sur]
    en = np.where(
        gender == 0,
        np.array(ref.ENGLISH_NAMES_F)[rng.integers(0, len(ref.ENGLISH_NAMES_F), n)],
        np.array(ref.ENGLISH_NAMES_M)[rng.integers(0, len(ref.ENGLISH_NAMES_M), n)],
    )
    cap_en = np.char.capitalize(en)
    cap_py = np.char.capitalize(pinyin)
    nick = np.char.add(
        np.array(ref.SOCIAL_NICK_ADJ)[rng.integers(0, len(ref.SOCIAL_NICK_ADJ), n)],
        np.array(ref.SOCIAL_NICK_NOUN)[rng.integers(0, len(ref.SOCIAL_NICK_NOUN), n)],
    )
    wxid = np.char.add("wxid_", random_strings(rng, n, 12, "abcdefghijklmnopqrstuvwxyz0123456789"))
    latin = np.char.add(np.char.add(np.char.add(cap_en, "_"), cap_py), digits(rng, n, 2))
    chinese = np.char.add(nick, digits(rng, n, 3))
    xhs = np.char.add("小红薯", random_strings(rng, n, 8, "0123456789ABCDEF"))
    dy = np.char.add("dy", digits(rng, n, 10))
    coin = rng.random(n)
    handle = np.select(
        [platform == 0, platform == 1, platform == 2, platform == 3],
        [
            np.where(coin < 0.7, wxid, latin),  # wechat
            np.where(coin < 0.5, latin, chinese),  # weibo
            np.where(coin < 0.5, dy, chinese),  # douyin
            np.where(coin < 0.4, xhs, np.where(coin < 0.7, chinese, latin)),  # xiaohongshu
        ],
        default="",
    )
    # unique per platform: prefix the platform before de-duplicating, then strip it
    keyed = pl.Series(np.char.add(np.char.add(platform.astype(str), "|"), handle))
    keyed = make_unique(keyed, rng)
    return keyed.str.split_exact("|", 1).struct.field("field_1").rename("handle")


def expected_orders(lam: np.ndarray, pref: np.ndarray) -> np.ndarray:
    """Orders a year each person gets on average (the channels' volumes are fixed and shared
    out in proportion to lam x channel preference; persons not yet acquired are ignored)."""
    n = len(lam)
    out = np.zeros(n)
    for c, channel in enumerate(BUY_CHANNELS):
        w = lam * pref[:, c]
        out += ORDERS_PER_PERSON_YEAR[channel] * n * w / max(w.sum(), 1e-12)
    return out


def _plant_cohorts(
    rng: np.random.Generator,
    *,
    is_prospect: np.ndarray,
    social_owner: np.ndarray,
    lam: np.ndarray,
    pref: np.ndarray,
    acq_day: np.ndarray,
    churn_day: np.ndarray,
    epoch: int,
) -> dict:
    """Draw the behaviour cohorts and adjust the members' buying habits.

    Members of the buying cohorts are customers acquired before the epoch who buy all year
    (or, for churners, until their stop day) often enough for >= 3 paid orders a year.
    """
    n = len(lam)
    buyer = ~is_prospect
    n_buyers = max(int(buyer.sum()), 1)
    n_owners = max(int(social_owner.sum()), 1)

    def draw(share: float, among: np.ndarray, pool: int) -> np.ndarray:
        return among & (rng.random(n) < min(share * n / pool, 1.0))

    price = draw(COHORT_SHARE["price_sensitive"], buyer, n_buyers)
    loyal = draw(COHORT_SHARE["brand_loyal"], buyer, n_buyers)
    promo = draw(COHORT_SHARE["promotion_driven"], buyer, n_buyers)
    churned = draw(COHORT_SHARE["churned"], buyer, n_buyers)
    engaged = draw(COHORT_SHARE["socially_engaged"], social_owner, n_owners)
    _, brand_p = weights([(b[0], b[2]) for b in ref.BRANDS])
    loyal_brand = np.where(loyal, rng.choice(len(brand_p), size=n, p=brand_p), -1)
    loyalty = np.where(loyal, rng.uniform(0.93, 1.0, n), 0.0)
    churn_offset = np.where(churned, rng.integers(0, CHURN_SPREAD_DAYS + 1, n), 0)

    members = price | loyal | promo | churned
    # existing customers: acquired 30 days to 3 years before the epoch, still buying
    early = epoch - rng.integers(30, 3 * 365, n)
    acq_day = np.where(members & (acq_day > epoch - 30), early, acq_day)
    churn_day = np.where(members, NEVER, churn_day)
    pref = pref.copy()
    # discount hunters buy where codes and promotions are: Shopify and stores, Tmall rarely
    pref[promo, 0] = np.maximum(pref[promo, 0], 0.3 - pref[promo, 2])
    pref[promo, 1] = 0.03 * (pref[promo, 0] + pref[promo, 2])
    target = np.where(
        churned, CHURNER_ORDERS_PER_YEAR, np.where(members, COHORT_ORDERS_PER_YEAR, 0)
    )
    lam = lam.copy()
    for _ in range(6):  # raising members' propensity lowers everyone's share: iterate
        got = expected_orders(lam, pref)
        short = (target > 0) & (got < target)
        lam[short] *= target[short] / np.maximum(got[short], 1e-9)
    return {
        "lam": lam,
        "pref": pref,
        "acq": acq_day,
        "churn": churn_day,
        "planted_price_sensitive": price,
        "planted_brand_loyal": loyal,
        "planted_promotion_driven": promo,
        "planted_churned": churned,
        "planted_socially_engaged": engaged,
        "loyal_brand": loyal_brand.astype(np.int64),
        "loyalty": loyalty,
        "churn_offset": churn_offset.astype(np.int64),
    }


def _social_rates(
    rng: np.random.Generator,
    base: np.ndarray,
    acc_person: np.ndarray,
    engaged: np.ndarray,
    n: int,
) -> np.ndarray:
    """Social events a year per account, from ``base`` weights (gamma(0.7)): a socially
    engaged person posts 40-70 times a year over their accounts (shared out by the weights),
    anyone else 2.5 x weight per account (1.75 on average), at most OTHER_EVENTS_PER_YEAR_MAX."""
    w = base + 0.05
    share = w / np.bincount(acc_person, w, minlength=n)[acc_person]
    lo, hi = ENGAGED_EVENTS_PER_YEAR
    engaged_rate = rng.uniform(lo, hi, n)[acc_person] * share
    other = 2.5 * base
    per_person = np.bincount(acc_person, other, minlength=n)[acc_person]
    other = other * np.minimum(1.0, OTHER_EVENTS_PER_YEAR_MAX / np.maximum(per_person, 1e-12))
    return np.where(engaged[acc_person], engaged_rate, other)


def build_population(scale: str, seed: int) -> Population:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {list(SCALES)}, not {scale!r}")
    n = SCALES[scale]
    rng = rng_for(seed, "population", list(SCALES).index(scale))
    epoch = EPOCH.toordinal()

    gender = (rng.random(n) < 0.38).astype(np.int8)  # a womenswear-led brand: 62 % women
    name, sur = _names(rng, gender)
    age_years = np.clip(rng.gamma(6.0, 5.5, n) + 14, 16, 75)
    birthday = (epoch - age_years * 365.25).astype(np.int64)
    occ_names, occ_p = weights(ref.OCCUPATIONS)
    occupation = rng.choice(len(occ_names), size=n, p=occ_p)
    occupation = np.where(age_years < 23, 2, occupation)  # students
    occupation = np.where((age_years > 60) & (rng.random(n) < 0.7), 11, occupation)  # retired
    city_names, city_p = weights([(c[0], c[6]) for c in ref.CITIES])
    city = rng.choice(len(city_names), size=n, p=city_p)

    email, alt_email = _emails(rng, gender, sur, birthday)
    has_email = rng.random(n) < 0.9
    email = pl.Series("email", email).set(pl.Series(~has_email), None)
    phone = _phones(rng, n)  # everyone has a mobile; a channel may not show it

    is_prospect = rng.random(n) < PROSPECT_SHARE
    # buying propensity: heavy-tailed, capped so that the top buyers place ~50 orders a year
    lam = np.where(is_prospect, 0.0, np.minimum(rng.gamma(0.8, 1.25, n), 4.0))
    pref = rng.dirichlet([0.7, 0.7, 0.45], size=n)
    store_city = np.isin(city, [s[0] for s in ref.STORES])
    pref[:, 0] *= np.where(has_email, 1.0, 0.2)
    pref[:, 2] *= np.where(store_city, 1.0, 0.1)
    acq_offset = np.where(
        rng.random(n) < 0.55, -rng.integers(30, 4 * 365, n), rng.integers(-30, 3 * 365, n)
    )
    acq_day = epoch + acq_offset
    lifetime = (rng.exponential(5 * 365, n) * (0.5 + np.minimum(lam, 3) / 2)).astype(np.int64)
    churn_day = acq_day + 120 + lifetime

    # loyalty membership: store shoppers join more often; prospects are members or followers
    p_member = np.where(is_prospect, 0.6, 0.2 + 0.6 * pref[:, 2] / pref.sum(axis=1))
    is_member = rng.random(n) < p_member
    social_owner = np.where(is_prospect, rng.random(n) < 0.7, rng.random(n) < 0.42)
    lonely = is_prospect & ~is_member & ~social_owner
    is_member |= lonely & (rng.random(n) < 0.5)
    social_owner |= lonely & ~is_member
    join_day = np.where(is_prospect, acq_day, acq_day + rng.integers(-20, 150, n))
    join_day = np.where(is_member, join_day, -1)
    card_seq = rng.choice(10**8, size=n, replace=False)
    consent = rng.random(n) < np.where(is_member, 0.7, 0.45)

    # shared family phones: person b uses the phone of person a (spouse, same city)
    n_pairs = round(n * FAMILY_SHARE)
    cand = rng.permutation(n)[: 2 * n_pairs]
    a, b = cand[:n_pairs], cand[n_pairs : 2 * n_pairs]
    family_partner = np.full(n, -1, dtype=np.int64)
    family_partner[b] = a
    family_partner[a] = b
    phone_np = phone.to_numpy().astype(object)
    phone_np[b] = phone_np[a]
    city[b] = city[a]
    phone = pl.Series("phone", phone_np, dtype=pl.String)
    # the couple shops in store and on Tmall, where the shared number shows up
    pref[b, 2] = np.maximum(pref[b, 2], 0.3)
    pref[a, 2] = np.maximum(pref[a, 2], 0.3)
    is_member[a] |= ~is_prospect[a]
    is_member[b] |= ~is_prospect[b]
    join_day = np.where(is_member & (join_day < 0), acq_day, join_day)
    card_no = pl.Series("card_no", ["88"] * n) + pl.Series(card_seq).cast(pl.String).str.zfill(8)
    card_no = card_no.set(pl.Series(~is_member), None)

    # natural churn happens only before the calendar's epoch (those persons never show up);
    # from then on the only persons who stop buying are the planted churners
    churn_day = np.where(churn_day < epoch, churn_day, NEVER)
    beh = _plant_cohorts(
        rng_for(seed, "behaviours", list(SCALES).index(scale)),
        is_prospect=is_prospect,
        social_owner=social_owner,
        lam=lam,
        pref=pref,
        acq_day=acq_day,
        churn_day=churn_day,
        epoch=epoch,
    )
    lam, pref, acq_day, churn_day = (beh.pop(k) for k in ("lam", "pref", "acq", "churn"))
    channel_weight = {
        "shopify": lam * pref[:, 0],
        "tmall": lam * pref[:, 1],
        "pos": lam * pref[:, 2],
    }
    channel_cum = {k: np.cumsum(v) for k, v in channel_weight.items()}
    service_w = np.where(is_prospect, 0.15, 0.4 + np.minimum(lam, 4))
    first_channel = np.array(["shopify", "tmall", "store"])[pref.argmax(axis=1)]
    first_channel = np.where(is_prospect, np.where(is_member, "store", "social"), first_channel)

    currency = (rng.random(n) < 0.2).astype(np.int8)
    nick_style = rng.integers(0, 3, n)
    pinyin = np.array([s[1] for s in ref.SURNAMES])[sur]
    nick_cn = np.char.add(
        np.array(ref.SOCIAL_NICK_ADJ)[rng.integers(0, len(ref.SOCIAL_NICK_ADJ), n)],
        np.array(ref.SOCIAL_NICK_NOUN)[rng.integers(0, len(ref.SOCIAL_NICK_NOUN), n)],
    )
    syl = np.array(ref.PINYIN_SYLLABLES)
    tmall_nick = np.select(
        [nick_style == 0, nick_style == 1],
        [
            np.char.add("tb", digits(rng, n, 10)),
            np.char.add(np.char.add(pinyin, syl[rng.integers(0, len(syl), n)]), digits(rng, n, 4)),
        ],
        default=np.char.add(nick_cn, digits(rng, n, 2)),
    )
    tmall_nick = make_unique(pl.Series("tmall_nick", tmall_nick), rng)

    store_city_idx = np.array([s[0] for s in ref.STORES])
    home_store = np.empty(n, dtype=np.int64)
    for c in np.unique(city):
        members = np.flatnonzero(city == c)
        options = np.flatnonzero(store_city_idx == c)
        if len(options) == 0:
            options = np.arange(len(ref.STORES))
        home_store[members] = options[rng.integers(0, len(options), len(members))]
    # couples share a home store
    home_store[b] = home_store[a]

    # social accounts: 1 or 2 platforms per owner
    owners = np.flatnonzero(social_owner)
    two = rng.random(len(owners)) < 0.25
    acc_person = np.concatenate([owners, owners[two]])
    plat_names, plat_p = weights(ref.SOCIAL_PLATFORMS)
    first_plat = rng.choice(len(plat_names), size=len(owners), p=plat_p)
    second_plat = (first_plat[two] + rng.integers(1, len(plat_names), int(two.sum()))) % len(
        plat_names
    )
    acc_platform = np.concatenate([first_plat, second_plat])
    order = np.lexsort((acc_platform, acc_person))
    acc_person, acc_platform = acc_person[order], acc_platform[order]
    acc_handle = _handles(rng, acc_platform, gender[acc_person], sur[acc_person])
    m = len(acc_person)
    linked = rng.random(m) < np.where(is_prospect[acc_person], 0.6, 0.85)
    p_has_e = ~email.is_null().to_numpy()[acc_person]
    p_has_p = ~phone.is_null().to_numpy()[acc_person]
    kind = rng.choice([1, 2, 3], size=m, p=[0.5, 0.4, 0.1])
    kind = np.where((kind & 1).astype(bool) & ~p_has_e, 2, kind)
    kind = np.where((kind & 2).astype(bool) & ~p_has_p, 1, kind)
    acc_link = np.where(linked, kind, 0).astype(np.int8)
    acc_w = rng.gamma(0.7, 1.0, m) * np.where(is_prospect[acc_person], 1.2, 1.0)
    acc_w = _social_rates(
        rng_for(seed, "behaviours", list(SCALES).index(scale), 1),
        acc_w,
        acc_person,
        beh["planted_socially_engaged"],
        n,
    )

    return Population(
        n=n,
        person_id=np.arange(1, n + 1, dtype=np.int64),
        name=name.rename("name"),
        gender=gender,
        birthday=birthday,
        occupation=occupation,
        city=city,
        email=email,
        alt_email=alt_email,
        phone=phone,
        family_partner=family_partner,
        is_prospect=is_prospect,
        is_member=is_member,
        join_day=join_day,
        card_no=card_no,
        consent=consent,
        acq_day=acq_day,
        churn_day=churn_day,
        channel_weight=channel_weight,
        channel_cum=channel_cum,
        currency=currency,
        tmall_nick=tmall_nick,
        home_store=home_store,
        first_channel=first_channel,
        service_cum=np.cumsum(service_w),
        member_phone_style=rng.choice([0, 3, 5, 6], size=n, p=[0.8, 0.08, 0.07, 0.05]),
        member_email_shown=rng.random(n) < 0.6,
        member_email_style=rng.choice([0, 1, 2], size=n, p=[0.9, 0.05, 0.05]),
        member_placeholder=rng.choice([0, 1, 2], size=n, p=[0.97, 0.015, 0.015]),
        member_occupation_blank=rng.random(n) < 0.15,
        member_relisted=rng.random(n) < 0.006,
        acc_person=acc_person,
        acc_platform=acc_platform,
        acc_handle=acc_handle,
        acc_link=acc_link,
        acc_cum=np.cumsum(acc_w),
        planted_price_sensitive=beh["planted_price_sensitive"],
        planted_brand_loyal=beh["planted_brand_loyal"],
        planted_promotion_driven=beh["planted_promotion_driven"],
        planted_churned=beh["planted_churned"],
        planted_socially_engaged=beh["planted_socially_engaged"],
        loyal_brand=beh["loyal_brand"],
        loyalty=beh["loyalty"],
        churn_offset=beh["churn_offset"],
    )


def age_band(birthday: np.ndarray, on: date = EPOCH) -> np.ndarray:
    age = (on.toordinal() - birthday) / 365.25
    bands = np.array(["<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"])
    return bands[np.searchsorted([18, 25, 35, 45, 55, 65], age, side="right")]
