"""No raw personal data where people without access read: the serving versions (DuckDB file
and Parquet), the segment exports, the customer report, and the logs of the run. The
generator's truth says what the personal data is; the restricted contact lists, which
must hold it, prove the scan finds it."""

from __future__ import annotations

import hashlib
import stat

import duckdb
import pytest

from pipelines.lib import serving
from pipelines.lib.exports import CONTACT_OUTPUTS, published_folders, read_manifest
from pipelines.lib.privacy import resolve_salt

# Chinese given names can be two characters, which also occur inside product names or
# slogans: such short names count only as a whole cell.
MIN_NAME_IN_TEXT = 3


@pytest.fixture(scope="module")
def scanner(xs_warehouse):
    """An in-memory DuckDB holding the truth's personal values as needles."""
    con = duckdb.connect()
    persons = xs_warehouse.truth_dir / "persons.parquet"
    con.execute(
        """
        create table needles as
        select distinct kind, needle from (
            select 'email' as kind, lower(trim(email)) as needle from read_parquet($p)
            union all
            -- national mobile number: found inside +86..., 0086..., 138-1234-5678 alike
            select 'phone', regexp_replace(phone, '[^0-9]', '', 'g') from read_parquet($p)
            union all
            select 'card_no', card_no from read_parquet($p)
            union all
            select 'name', trim(name) from read_parquet($p)
        ) where needle is not null and length(needle) >= 2
        """,
        {"p": str(persons)},
    )
    con.execute("create table cells (place varchar, cell varchar)")
    return con


def _add_relation(con, place: str, relation: str) -> None:
    """Every column of the relation as text (a phone stored as a number is still a phone);
    the digits of each cell kept apart so that 138-1234-5678 is found as well."""
    con.execute(
        f"""
        insert into cells
        select distinct $place, lower(value) from (
            unpivot (select columns(*)::varchar from {relation}) on columns(*)
            into name column_name value value
        )
        """,
        {"place": place},
    )


def _hits(con, places_like: str) -> list[tuple[str, str, str]]:
    """(place, kind, value) of every truth value found. A table cell is one value: its
    digits are read together, separators dropped. A text (a log, the report) is read as
    its runs of digits, each a whole number or one with the country code in front:
    joining all the digits of megabytes of log would match any 10-digit number by chance."""
    return con.execute(
        """
        with scoped as (
            select
                place,
                cell,
                case when place not like 'text:%' then regexp_replace(cell, '[^0-9]', '', 'g')
                end as digits,
                case when place like 'text:%' then regexp_extract_all(cell, '[0-9]{7,}')
                end as numbers
            from cells where place like $scope
        ),
        numbers as (
            select distinct place, unnest(numbers) as number from scoped
        )
        select distinct s.place, n.kind, n.needle
        from scoped as s
        inner join needles as n
            on (n.kind = 'email' and contains(s.cell, n.needle))
            or (n.kind in ('phone', 'card_no') and length(n.needle) >= 7
                and contains(s.digits, n.needle))
            or (n.kind = 'name' and (s.cell = n.needle
                or (length(n.needle) >= $min_name and contains(s.cell, n.needle))))
        union
        select t.place, n.kind, n.needle
        from numbers as t
        inner join needles as n
            on n.kind in ('phone', 'card_no')
            and t.number in (n.needle, '86' || n.needle, '0086' || n.needle)
        order by all
        """,
        {"scope": places_like, "min_name": MIN_NAME_IN_TEXT},
    ).fetchall()


@pytest.fixture(scope="module")
def scanned(xs_warehouse, scanner):
    """Collect every cell of every served and exported table, plus the texts people read."""
    con = scanner
    served = xs_warehouse.serving_dir / serving.CURRENT_DB
    con.execute(f"attach '{served}' as served (read_only)")
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = 'served' order by all"
    ).fetchall()
    for schema, table in tables:
        _add_relation(con, f"serving:{schema}.{table}", f'served."{schema}"."{table}"')
    parquet = sorted((xs_warehouse.serving_dir / serving.CURRENT_DIR / "parquet").glob("*.parquet"))
    for path in parquet:
        _add_relation(con, f"serving:{path.name}", f"read_parquet('{path}')")
    (exports,) = published_folders(xs_warehouse.exports_dir)
    for path in sorted(exports.iterdir()):
        if path.suffix == ".csv":
            _add_relation(con, f"exports:{path.name}", f"read_csv('{path}', all_varchar = true)")
        elif path.suffix == ".parquet":
            _add_relation(con, f"exports:{path.name}", f"read_parquet('{path}')")
    texts = [xs_warehouse.report_path, exports / "manifest.json"]
    texts += sorted((xs_warehouse.data_dir / "dbt").rglob("*.log"))
    # Dagster's event log (SQLite) holds every materialisation's preview
    texts += sorted((xs_warehouse.data_dir / "dagster").rglob("*.db"))
    for path in texts:
        text = path.read_bytes().decode("utf-8", errors="ignore")
        con.execute(
            "insert into cells values ($place, lower($text))",
            {"place": f"text:{path.name}", "text": text},
        )
    (contacts,) = published_folders(xs_warehouse.restricted_exports_dir)
    for name in CONTACT_OUTPUTS:
        path = contacts / f"{name}.csv"
        _add_relation(con, f"restricted:{name}", f"read_csv('{path}', all_varchar = true)")
    return {"tables": tables, "parquet": parquet, "exports": exports, "contacts": contacts}


def test_no_raw_personal_data_is_served_exported_or_logged(scanned, scanner):
    # the scan saw what it should: every served table, in both forms, and every export
    marts = {table for schema, table in scanned["tables"] if schema == "marts"}
    assert len(marts) > 20 and {p.stem for p in scanned["parquet"]} == marts
    assert ("serving", "manifest") in scanned["tables"]
    assert len([p for p in scanned["exports"].iterdir() if p.suffix in (".csv", ".parquet")]) == 10
    cells = scanner.execute(
        "select count(*) from cells where place not like 'restricted:%'"
    ).fetchone()[0]
    assert cells > 10_000
    assert _hits(scanner, "serving:%") == []
    assert _hits(scanner, "exports:%") == []
    assert _hits(scanner, "text:%") == []


def test_the_scan_finds_personal_data_where_it_belongs(scanned, scanner):
    """The contact lists hold names, e-mails and phones: the scan must see them there."""
    found = {kind for _, kind, _ in _hits(scanner, "restricted:%")}
    assert found == {"email", "phone", "name"}
    count = scanner.execute(
        "select count(*) from cells where place like 'restricted:%'"
    ).fetchone()[0]
    assert len(_hits(scanner, "restricted:%")) > count / 4
    # and in a text, as a log would write them: E.164 or national, amid other numbers
    phone, card = scanner.execute(
        "select max(needle) filter (where kind = 'phone'), max(needle) filter "
        "(where kind = 'card_no') from needles"
    ).fetchone()
    log = f"12:00:01 row ['+86{phone}', 20251231, 0.07s] card {card}"
    scanner.execute("insert into cells values ('text:control', $log)", {"log": log})
    try:
        assert {kind for _, kind, _ in _hits(scanner, "text:control")} == {"phone", "card_no"}
    finally:
        scanner.execute("delete from cells where place = 'text:control'")


def test_only_the_marts_are_served(xs_warehouse):
    served = xs_warehouse.serving_dir / serving.CURRENT_DB
    with duckdb.connect(str(served), read_only=True) as con:
        schemas = con.execute(
            "select schema_name from duckdb_tables() "
            "union select schema_name from duckdb_views() where not internal"
        ).fetchall()
    assert {schema for (schema,) in schemas} == {"marts", "serving"}


def test_contact_lists_are_owner_only_and_match_the_restricted_models(xs_warehouse, scanned):
    contacts = scanned["contacts"]
    assert stat.S_IMODE(xs_warehouse.restricted_exports_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(contacts.stat().st_mode) == 0o700
    manifest = read_manifest(contacts)
    assert manifest["as_of_date"] == scanned["exports"].name == contacts.name
    with duckdb.connect(str(xs_warehouse.duckdb_path), read_only=True) as con:
        for name in CONTACT_OUTPUTS:
            rows = con.execute(f"select count(*) from restricted.{name}").fetchone()[0]
            assert manifest["outputs"][name]["rows"] == rows > 0
            # only consenting customers with a way to reach them
            bad = con.execute(
                f"""
                select count(*) from restricted.{name} as c
                inner join marts.customers as m using (customer_id)
                where not coalesce(m.marketing_consent, false)
                    or (c.email is null and c.phone is null)
                """
            ).fetchone()[0]
            assert bad == 0


def test_hashes_are_salted_sha256_of_the_contacts(xs_warehouse):
    """The demo's salt is the generated local one; the hash is sha256(salt || value) of the
    restricted contact, so lists hashed with the same salt join, and the salt is nowhere in
    what dbt wrote down."""
    salt = resolve_salt(xs_warehouse, {})
    assert salt.generated
    with duckdb.connect(str(xs_warehouse.duckdb_path), read_only=True) as con:
        rows = con.execute(
            """
            select p.primary_email, p.primary_phone, c.email_sha256, c.phone_sha256,
                c.email_masked, c.phone_masked
            from marts.customers as c
            inner join restricted.customer_pii as p using (customer_id)
            """
        ).fetchall()
    assert sum(1 for r in rows if r[0]) > 100 and sum(1 for r in rows if r[1]) > 100

    def salted(value):
        return None if value is None else hashlib.sha256((salt.value + value).encode()).hexdigest()

    for email, phone, email_hash, phone_hash, email_masked, phone_masked in rows:
        assert (email_hash, phone_hash) == (salted(email), salted(phone))
        assert (email_masked is None) == (email is None)
        if email:
            assert email_masked == email[0] + "***@" + email.split("@")[1]
        if phone and phone.startswith("+86") and len(phone) == 14:
            assert phone_masked == phone[3:6] + "****" + phone[-4:]
    written = [
        p
        for p in (xs_warehouse.data_dir / "dbt").rglob("*")
        if p.is_file() and p.suffix != ".msgpack"
    ]
    written += sorted((xs_warehouse.data_dir / "dbt").rglob("*.msgpack"))
    assert len(written) > 100
    assert [p for p in written if salt.value.encode() in p.read_bytes()] == []
