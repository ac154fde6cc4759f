"""Identifier normalisation: the Python rules, and the dbt macros agreeing with them.

One table of cases per identifier type drives both: the Python functions in
``pipelines/lib/normalise.py`` are checked against the expected values, and the same
inputs are run through the SQL macros in ``dbt_project/macros/identity/`` (compiled by dbt,
executed by DuckDB in a throw-away project) to prove the two implementations agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.lib import normalise as n
from tests.conftest import dbt_in

EMAIL_CASES: list[tuple[str | None, str | None]] = [
    ("Alice@Example.COM", "alice@example.com"),
    ("  bob.smith@qq.com ", "bob.smith@qq.com"),
    ("zhang.wei@163.com", "zhang.wei@163.com"),  # dots matter outside Gmail
    ("John.Doe+shop@gmail.com", "johndoe@gmail.com"),
    ("j.o.h.n.doe@GoogleMail.com", "johndoe@gmail.com"),
    ("first.last+tag@outlook.com", "first.last+tag@outlook.com"),  # + kept: not Gmail
    ("+only@gmail.com", None),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("user@mail.example.co.uk", "user@mail.example.co.uk"),
    ("12345678@qq.com", "12345678@qq.com"),
    ("ami***@163.com", None),  # masked (Alipay account): would collide across people
    ("noemail@", None),
    ("n/a", None),
    ("none", None),
    ("no email", None),
    ("a@b", None),
    ("a@b.c", None),
    ("two@@example.com", None),
    ("spa ce@example.com", None),
    ("user@-bad.com", None),
    ("", None),
    ("   ", None),
    (None, None),
]

PHONE_CASES: list[tuple[str | None, str | None]] = [
    ("13812345678", "+8613812345678"),
    ("138 1234 5678", "+8613812345678"),
    ("138-1234-5678", "+8613812345678"),
    ("+86 138 1234 5678", "+8613812345678"),
    ("+86-13812345678", "+8613812345678"),
    ("8613812345678", "+8613812345678"),
    ("86 138 1234 5678", "+8613812345678"),
    ("008613812345678", "+8613812345678"),
    ("0086 138 1234 5678", "+8613812345678"),
    ("'13812345678", "+8613812345678"),  # Excel guard
    ("'+86 138 1234 5678", "+8613812345678"),
    ("(+86) 138.1234.5678", "+8613812345678"),
    ("+86 (0)21 6234 5678", "+862162345678"),
    ("013812345678", "+8613812345678"),  # trunk 0 before a mobile
    ("021-62345678", "+862162345678"),  # Shanghai landline
    ("010-12345678", "+861012345678"),  # Beijing landline
    ("0755-2345678", "+867552345678"),
    ("+1 (415) 555-0123", "+14155550123"),
    ("+44 (0)20 7946 0958", "+442079460958"),
    ("0044 20 7946 0958", "+442079460958"),
    ("+46 70 123 45 67", "+46701234567"),
    ("13800000000", "+8613800000000"),  # valid shape: the blocklist stops it, not this
    ("00000000000", None),
    ("12345678901", None),  # 12x is no Chinese mobile prefix
    ("1381234567", None),  # 10 digits
    ("138123456789", None),  # 12 digits
    ("+86 138 1234 567", None),
    ("+86", None),
    ("62345678", None),  # local landline without area code
    ("+0123456789", None),
    ("+1234567", None),
    ("+1234567890123456", None),
    ("AC5CCC66557", None),
    ("150****7966", None),  # masked
    ("tel: 13812345678", None),
    ("138 1234 5678 ext 9", None),
    ("n/a", None),
    ("", None),
    ("'", None),
    (None, None),
]

HANDLE_CASES: list[tuple[str | None, str | None, str | None]] = [
    ("weibo", "@Lily_Chen", "weibo:lily_chen"),
    ("Weibo", "  lily_chen ", "weibo:lily_chen"),
    ("douyin", "@@dy123", "douyin:dy123"),
    ("instagram", "@ Mixed.Case", "instagram:mixed.case"),
    ("xiaohongshu", "小红薯ABC", "xiaohongshu:小红薯abc"),
    ("weibo", "@", None),
    ("weibo", "", None),
    ("weibo", None, None),
    (None, "lily", None),
    ("", "lily", None),
]

CARD_CASES: list[tuple[str | None, str | None]] = [
    ("vip-000123", "VIP000123"),
    (" VIP 000123 ", "VIP000123"),
    ("m12345", "M12345"),
    ("-", None),
    ("", None),
    (None, None),
]

NICK_CASES: list[tuple[str | None, str | None]] = [
    (" TaoBaoFan88 ", "taobaofan88"),
    ("小王同学", "小王同学"),
    ("", None),
    (None, None),
]

NAME_CASES: list[tuple[str | None, str | None]] = [
    ("Wang Fang", "wangfang"),
    ("  wang   fang ", "wangfang"),
    ("王芳", "王芳"),
    ("王　芳", "王芳"),  # full-width space
    ("Jean-Luc O'Neil", "jeanluconeil"),
    ("艾米丽·陈", "艾米丽陈"),
    ("J. R. R. Tolkien", "jrrtolkien"),
    ("-", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("raw", "expected"), EMAIL_CASES)
def test_normalise_email(raw: str | None, expected: str | None) -> None:
    assert n.normalise_email(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), PHONE_CASES)
def test_normalise_phone(raw: str | None, expected: str | None) -> None:
    assert n.normalise_phone(raw) == expected


def test_normalise_phone_other_default_country() -> None:
    assert n.normalise_phone("020 7946 0958", country_code="44") == "+442079460958"
    assert n.normalise_phone("13812345678", country_code="44") == "+8613812345678"
    assert n.normalise_phone("0123", country_code="44") is None


def test_default_country_code_comes_from_dbt_project() -> None:
    assert n.default_country_code() == "86"


@pytest.mark.parametrize(("platform", "raw", "expected"), HANDLE_CASES)
def test_normalise_handle(platform: str | None, raw: str | None, expected: str | None) -> None:
    assert n.normalise_handle(platform, raw) == expected


@pytest.mark.parametrize(("raw", "expected"), CARD_CASES)
def test_normalise_loyalty_card(raw: str | None, expected: str | None) -> None:
    assert n.normalise_loyalty_card(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), NICK_CASES)
def test_normalise_tmall_nick(raw: str | None, expected: str | None) -> None:
    assert n.normalise_tmall_nick(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), NAME_CASES)
def test_normalise_person_name(raw: str | None, expected: str | None) -> None:
    assert n.normalise_person_name(raw) == expected


def test_normalisation_is_idempotent() -> None:
    for raw, _ in EMAIL_CASES:
        once = n.normalise_email(raw)
        assert n.normalise_email(once) == once
    for raw, _ in PHONE_CASES:
        once = n.normalise_phone(raw)
        assert n.normalise_phone(once) == once


# --- SQL macros agree with Python -------------------------------------------------------


def _sql_literal(value: str | None) -> str:
    if value is None:
        return "cast(null as varchar)"
    return "'" + value.replace("'", "''") + "'"


def _agreement_cases() -> list[tuple[str, str | None, str | None]]:
    """(kind, first argument, second argument) for every case of every table."""
    cases: list[tuple[str, str | None, str | None]] = []
    cases += [("email", raw, None) for raw, _ in EMAIL_CASES]
    cases += [("phone", raw, None) for raw, _ in PHONE_CASES]
    cases += [("handle", platform, raw) for platform, raw, _ in HANDLE_CASES]
    cases += [("card", raw, None) for raw, _ in CARD_CASES]
    cases += [("nick", raw, None) for raw, _ in NICK_CASES]
    cases += [("name", raw, None) for raw, _ in NAME_CASES]
    return cases


def _python_result(kind: str, a: str | None, b: str | None) -> str | None:
    if kind == "handle":
        return n.normalise_handle(a, b)
    return {
        "email": n.normalise_email,
        "phone": n.normalise_phone,
        "card": n.normalise_loyalty_card,
        "nick": n.normalise_tmall_nick,
        "name": n.normalise_person_name,
    }[kind](a)


def _macro_query(cases: list[tuple[str, str | None, str | None]]) -> str:
    rows = ",\n".join(
        f"({i}, '{kind}', {_sql_literal(a)}, {_sql_literal(b)})"
        for i, (kind, a, b) in enumerate(cases)
    )
    return f"""
with cases (case_no, kind, a, b) as (values {rows})
select case_no,
    case kind
        when 'email' then {{{{ normalise_email('a') }}}}
        when 'phone' then {{{{ normalise_phone('a') }}}}
        when 'handle' then {{{{ normalise_handle('a', 'b') }}}}
        when 'card' then {{{{ normalise_loyalty_card('a') }}}}
        when 'nick' then {{{{ normalise_tmall_nick('a') }}}}
        when 'name' then {{{{ normalise_person_name('a') }}}}
    end as normalised
from cases
order by case_no
"""


def test_sql_macros_agree_with_python(identity_macro_project: Path) -> None:
    cases = _agreement_cases()
    result = dbt_in(
        identity_macro_project, "show", "--inline", _macro_query(cases), "--limit", "-1", "--quiet"
    )
    assert result.success, result.exception
    table = result.result.results[0].agate_table
    sql = {int(row["case_no"]): row["normalised"] for row in table.rows}
    mismatches = [
        (kind, a, b, _python_result(kind, a, b), sql[i])
        for i, (kind, a, b) in enumerate(cases)
        if _python_result(kind, a, b) != sql[i]
    ]
    assert not mismatches, "SQL and Python disagree (kind, arg, arg, python, sql):\n" + "\n".join(
        map(repr, mismatches)
    )
