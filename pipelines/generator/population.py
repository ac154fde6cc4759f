"""The population (persons, their identifiers, accounts and habits) and the catalogue.

Both depend only on (scale, seed): every generate call for a scale and seed sees the same
people and products, whatever dates it covers.
"""

from __future__ import annotations

from dataclasses import dataclass
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

    def __len__(self) -> int:
        return len(self.sku)


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
    return Catalogue(
        sku=np.array(sku),
        name_zh=np.array(name_zh),
        name_en=np.array(name_en),
        title=np.array(title),
        category=np.array(category),
        brand=np.array([ref.BRANDS[i][0] for i in brand_idx]),
        brand_zh=np.array([ref.BRANDS[i][1] for i in brand_idx]),
        color_zh=np.array(color_zh),
        color_en=np.array(color_en),
        size_kind=np.array(size_kind),
        price_cny=price_cny,
        cost_cny=cost,
        price_usd=price_usd,
        price_eur=price_eur,
        popularity=pop / pop.sum(),
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
    churn_day: np.ndarray  # ordinal: the person buys no more from this day
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
    acc_cum: np.ndarray


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
    )


def age_band(birthday: np.ndarray, on: date = EPOCH) -> np.ndarray:
    age = (on.toordinal() - birthday) / 365.25
    bands = np.array(["<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"])
    return bands[np.searchsorted([18, 25, 35, 45, 55, 65], age, side="right")]
