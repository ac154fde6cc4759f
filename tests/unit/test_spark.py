"""How a dbt command is run on Spark (pipelines/lib/spark.py)."""

from __future__ import annotations

import pytest
import yaml

from pipelines.lib.privacy import SaltError
from pipelines.lib.spark import (
    PROFILES_PATH,
    SPARK_TARGET_PATH,
    spark_environment,
    spark_target,
)
from pipelines.settings import get_settings


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["build", "--target", "spark"], True),
        (["build", "-t", "spark", "--select", "orders"], True),
        (["run", "--target=spark"], True),
        (["build"], False),
        (["build", "--target", "duckdb"], False),
        (["build", "--select", "spark"], False),
        (["build", "--target"], False),
        (["build", "--target", "cluster"], True),
        (["build", "--target", "nowhere"], False),
    ],
)
def test_spark_target_is_read_from_the_dbt_arguments(args, expected, tmp_path):
    profiles = tmp_path / "profiles.yml"
    real = yaml.safe_load(PROFILES_PATH.read_text(encoding="utf-8"))
    outputs = real["crm_warehouse"]["outputs"]
    assert outputs["spark"]["type"] == "spark" and outputs["duckdb"]["type"] == "duckdb"
    outputs["cluster"] = {"type": "spark", "method": "thrift", "host": "h", "schema": "s"}
    profiles.write_text(yaml.safe_dump(real), encoding="utf-8")
    assert spark_target(args, profiles) is expected


def test_spark_environment_carries_the_salt_and_its_own_target_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CRM_PII_SALT", "0123456789abcdef-+/=")
    settings = get_settings()
    env = spark_environment(settings)
    assert env == {
        "CRM_PII_SALT": "0123456789abcdef-+/=",
        "DBT_TARGET_PATH": str(SPARK_TARGET_PATH),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    assert (settings.spark_dir / "log4j2.properties").is_file()


@pytest.mark.parametrize("character", ["'", "\\", "$", "}", "{"])
def test_a_salt_that_would_break_out_of_its_literal_is_refused(character, tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CRM_PII_SALT", f"0123456789abcdef{character}x")
    with pytest.raises(SaltError, match="Spark would read as part of the SQL"):
        spark_environment(get_settings())


def test_without_a_salt_outside_production_the_local_one_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CRM_PII_SALT", raising=False)
    monkeypatch.delenv("CRM_ENVIRONMENT", raising=False)
    settings = get_settings()
    env = spark_environment(settings)
    assert env["CRM_PII_SALT"] == settings.local_pii_salt_path.read_text().strip()
