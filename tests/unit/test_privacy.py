"""The salt of the personal-data hashes: from the environment, never guessed in production,
generated once (owner-only) elsewhere; and the personal-column rule of every preview."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pytest
from dbt.adapters.duckdb.plugins import BasePlugin
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.lib.contracts import load_contracts
from pipelines.lib.observe import is_personal, preview_markdown
from pipelines.lib.privacy import (
    ENVIRONMENT_ENV,
    PII_SALT_ENV,
    SALT_FUNCTION,
    SaltError,
    resolve_salt,
)
from pipelines.settings import get_settings
from tests.conftest import point_at

STRONG = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def settings(tmp_path: Path):
    return get_settings({"CRM_DATA_DIR": str(tmp_path / "data")})


def test_the_environment_salt_wins_and_is_never_printed(settings):
    salt = resolve_salt(settings, {PII_SALT_ENV: STRONG, ENVIRONMENT_ENV: "production"})
    assert (salt.value, salt.origin, salt.generated) == (STRONG, PII_SALT_ENV, False)
    assert STRONG not in repr(salt) and STRONG not in salt.describe()
    assert not settings.local_pii_salt_path.exists()


@pytest.mark.parametrize(
    ("environ", "reason"),
    [
        ({ENVIRONMENT_ENV: "production"}, f"{PII_SALT_ENV} is not set"),
        ({ENVIRONMENT_ENV: "Production", PII_SALT_ENV: ""}, f"{PII_SALT_ENV} is not set"),
        ({ENVIRONMENT_ENV: "production", PII_SALT_ENV: "short"}, "5 characters long"),
        ({ENVIRONMENT_ENV: "prod"}, "expected one of development, production"),
    ],
)
def test_production_refuses_without_a_proper_salt(settings, environ, reason):
    with pytest.raises(SaltError, match=reason):
        resolve_salt(settings, environ)
    assert not settings.local_pii_salt_path.exists()  # never falls back to a local salt


def test_outside_production_a_local_salt_is_generated_once_owner_only(settings):
    first = resolve_salt(settings, {})
    path = settings.local_pii_salt_path
    assert first.generated and first.origin == str(path)
    assert len(first.value) == 64 and int(first.value, 16) >= 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "generated local salt" in first.describe() and "production" in first.describe()
    assert resolve_salt(settings, {}).value == first.value  # stable: hashes stay joinable
    other = get_settings({"CRM_DATA_DIR": str(path.parent.parent.parent / "other")})
    assert resolve_salt(other, {}).value != first.value  # random, not a constant


def test_an_emptied_local_salt_file_is_an_error_not_an_empty_salt(settings):
    resolve_salt(settings, {})
    settings.local_pii_salt_path.write_text("\n", encoding="ascii")
    with pytest.raises(SaltError, match="is empty"):
        resolve_salt(settings, {})


def test_the_dbt_plugin_gives_every_cursor_the_salt_and_refuses_in_production(
    settings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CRM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv(PII_SALT_ENV, STRONG)
    plugin = BasePlugin.create("pipelines.dbt_privacy_plugin")
    con = duckdb.connect()
    plugin.configure_connection(con)
    # dbt's threads query through cursors of the connection the plugin configured
    cursor = con.cursor()
    assert cursor.execute(f"select {SALT_FUNCTION}()").fetchone()[0] == STRONG

    monkeypatch.delenv(PII_SALT_ENV)
    monkeypatch.setenv(ENVIRONMENT_ENV, "production")
    with pytest.raises(SaltError, match=f"{PII_SALT_ENV} is not set"):
        plugin.configure_connection(duckdb.connect())


def test_a_production_run_without_salt_does_not_start(tmp_path: Path, monkeypatch):
    data = tmp_path / "data"
    point_at(monkeypatch, data)
    monkeypatch.delenv(PII_SALT_ENV, raising=False)
    monkeypatch.setenv(ENVIRONMENT_ENV, "production")
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2, result.output
    assert "not started: CRM_PII_SALT is not set" in result.output
    assert not (data / "warehouse.duckdb").exists() and not (data / "dagster").exists()


def test_every_contract_pii_column_is_masked_in_previews():
    """The one name rule (dbt var personal_column_patterns) covers what the contracts
    declare personal, so dbt's previews, which cannot read the contracts, mask them too."""
    pii = {c.name for k in load_contracts().values() for c in k.columns if c.pii}
    assert pii and {c for c in pii if not is_personal(c)} == set()
    for column in ("display_name", "primary_email", "phone_masked", "identifier_value"):
        assert is_personal(column)
    for column in ("customer_id", "city", "order_id", "gender", "rfm_segment"):
        assert not is_personal(column)
    table = preview_markdown(["customer_id", "email"], [("C1", "a@b.cn"), ("C2", None)])
    assert "a@b.cn" not in table and "| C1 | ••• |" in table and "| C2 |  |" in table
