"""Properties of identifier normalisation, on generated inputs (hypothesis).

tests/unit/test_normalise.py pins the rules to a table of chosen cases; this file checks
what must hold for *any* input: normalising twice changes nothing, the formatting people
type around an identifier does not change it, results have the documented shape, and the
SQL macros (compiled once by dbt, run by DuckDB) agree with the Python rules on every
generated value. Examples are derandomised, so every run tries the same inputs.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.lib import normalise as n
from tests.conftest import dbt_in

DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=200)

# What lands in identifier columns: ASCII (with every punctuation sign), full-width and
# CJK characters, the ideographic space, emoji.
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.sampled_from("张伟王芳＠．＋－　（）·•é™🙂"),
    ),
    max_size=30,
)
LOCAL_PART = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=12)
DOMAIN = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(
        st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True), min_size=1, max_size=3
    ),
    st.sampled_from(["com", "cn", "net", "org", "co"]),
)
EMAILS = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL_PART, DOMAIN)
CN_MOBILE = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
SEPARATORS = st.sampled_from(["", " ", "-", ".", "  "])

NORMALISERS = {
    "email": n.normalise_email,
    "phone": n.normalise_phone,
    "card": n.normalise_loyalty_card,
    "nick": n.normalise_tmall_nick,
    "name": n.normalise_person_name,
}


@DETERMINISTIC
@given(kind=st.sampled_from(sorted(NORMALISERS)), raw=ANY_TEXT | EMAILS | CN_MOBILE)
def test_normalising_twice_changes_nothing(kind: str, raw: str) -> None:
    once = NORMALISERS[kind](raw)
    assert NORMALISERS[kind](once) == once


@DETERMINISTIC
@given(platform=st.sampled_from(["weibo", "Douyin", " xhs "]), handle=ANY_TEXT)
def test_a_normalised_handle_normalises_to_itself(platform: str, handle: str) -> None:
    once = n.normalise_handle(platform, handle)
    if once is not None:
        normalised_platform, normalised_handle = once.split(":", 1)
        assert n.normalise_handle(normalised_platform, normalised_handle) == once


@DETERMINISTIC
@given(email=EMAILS, pad=st.sampled_from(["", " ", "   "]), upper=st.booleans())
def test_case_and_surrounding_spaces_do_not_change_an_email(
    email: str, pad: str, upper: bool
) -> None:
    typed = pad + (email.upper() if upper else email) + pad
    assert n.normalise_email(typed) == n.normalise_email(email)


@DETERMINISTIC
@given(email=ANY_TEXT | EMAILS)
def test_a_normalised_email_has_the_documented_shape(email: str) -> None:
    result = n.normalise_email(email)
    if result is not None:
        assert re.fullmatch(n.EMAIL_PATTERN, result), result
        assert "*" not in result  # masked addresses never link
        if result.endswith("@gmail.com"):
            assert "." not in result.split("@")[0] and "+" not in result.split("@")[0]


@DETERMINISTIC
@given(
    mobile=CN_MOBILE,
    prefix=st.sampled_from(["", "+86", "+86 ", "0086", "0086 ", "86", "'", "'+86 ", "(+86) "]),
    cuts=st.lists(st.integers(min_value=1, max_value=10), max_size=3),
    separator=SEPARATORS,
)
def test_how_a_chinese_mobile_is_typed_does_not_change_it(
    mobile: str, prefix: str, cuts: list[int], separator: str
) -> None:
    groups, last = [], 0
    for cut in sorted(set(cuts)):
        groups.append(mobile[last:cut])
        last = cut
    typed = prefix + separator.join([*groups, mobile[last:]])
    assert n.normalise_phone(typed) == f"+86{mobile}", typed


@DETERMINISTIC
@given(phone=ANY_TEXT | CN_MOBILE)
def test_a_normalised_phone_is_e164(phone: str) -> None:
    result = n.normalise_phone(phone)
    if result is not None:
        assert re.fullmatch(r"\+[1-9][0-9]{7,14}", result), result


# --- the SQL macros agree with Python on generated values --------------------------------

_MACRO_QUERY = """
select
    case_no,
    {{ normalise_email('a') }} as email,
    {{ normalise_phone('a') }} as phone,
    {{ normalise_loyalty_card('a') }} as card,
    {{ normalise_tmall_nick('a') }} as nick,
    {{ normalise_person_name('a') }} as name,
    {{ normalise_handle("'weibo'", 'a') }} as handle
from cases
"""


@pytest.fixture(scope="module")
def compiled_macros(identity_macro_project: Path) -> str:
    """The macros compiled once by dbt, as one SELECT over a table ``cases(case_no, a)``."""
    result = dbt_in(identity_macro_project, "compile", "--inline", _MACRO_QUERY, "--quiet")
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    yield con
    con.close()


@settings(derandomize=True, database=None, deadline=None, max_examples=40)
@given(values=st.lists(ANY_TEXT | EMAILS | CN_MOBILE | st.none(), min_size=1, max_size=40))
def test_sql_macros_agree_with_python_on_generated_values(
    compiled_macros: str, duck: duckdb.DuckDBPyConnection, values: list[str | None]
) -> None:
    duck.execute("create or replace temp table cases (case_no integer, a varchar)")
    duck.executemany("insert into cases values (?, ?)", list(enumerate(values)))
    rows = duck.execute(f"{compiled_macros} order by case_no").fetchall()
    for case_no, email, phone, card, nick, name, handle in rows:
        raw = values[case_no]
        python = (
            n.normalise_email(raw),
            n.normalise_phone(raw),
            n.normalise_loyalty_card(raw),
            n.normalise_tmall_nick(raw),
            n.normalise_person_name(raw),
            n.normalise_handle("weibo", raw),
        )
        assert (email, phone, card, nick, name, handle) == python, repr(raw)
