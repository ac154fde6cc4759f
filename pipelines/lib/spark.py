"""Running the dbt project on Spark (target ``spark``, docs/scaling-out.md).

The models are the same on both engines; what differs is the process around dbt: Spark
reads the personal-data salt from its driver's environment (macro ``spark__pii_hash``),
and its compiled SQL, manifest and partial-parse state go to their own target folder so a
Spark invocation never replaces the manifest Dagster reads for DuckDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from pipelines.lib.dbt_invocation import checkout_target, option_value
from pipelines.lib.privacy import PII_SALT_ENV, SaltError, resolve_salt
from pipelines.settings import DBT_PROJECT_DIR, Settings

SPARK_TARGET = "spark"
SPARK_TARGET_PATH = checkout_target() / SPARK_TARGET
PROFILES_PATH = DBT_PROJECT_DIR / "profiles.yml"
# Spark's own logging for the local session (profiles.yml points the driver at it): warnings
# and errors, without three that say nothing to act on: a stack trace for every view over a
# glob of files ("Assume no metadata directory"), "using an existing Spark session" for
# every statement dbt-spark sends, and the metastore looking up `parquet` as a database.
LOG4J2_PROPERTIES = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
logger.streaming.name = org.apache.spark.sql.execution.streaming
logger.streaming.level = error
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
logger.session.name = org.apache.spark.sql.SparkSession
logger.session.level = error
logger.metastore.name = org.apache.hadoop.hive.metastore.ObjectStore
logger.metastore.level = error
"""
# Characters that would end or escape the SQL string literal Spark substitutes the salt
# into ('${env:CRM_PII_SALT}').
_UNSAFE_SALT_CHARACTERS = "'\\$}{"


def spark_target(dbt_args: Sequence[str], profiles: Path = PROFILES_PATH) -> bool:
    """Whether a dbt command line selects an output of type spark in profiles.yml (the
    local `spark` or one added for a cluster): `--target X`, `-t X`, `--target=X`."""
    name = option_value(dbt_args, "--target", "-t")
    if name is None:
        return False
    # Only the output's type is read; its values are Jinja that dbt renders.
    document = yaml.safe_load(profiles.read_text(encoding="utf-8"))
    outputs = next(iter(document.values()))["outputs"]
    return outputs.get(name, {}).get("type") == SPARK_TARGET


def spark_environment(settings: Settings) -> dict[str, str]:
    """Environment of a dbt process that runs on the local Spark session: the salt (see the
    module docstring) and the Spark target folder. Raises :class:`SaltError` when the salt
    cannot be used."""
    salt = resolve_salt(settings).value
    unsafe = sorted({c for c in salt if c in _UNSAFE_SALT_CHARACTERS})
    if unsafe:
        raise SaltError(
            f"{PII_SALT_ENV} holds {' '.join(unsafe)}, which Spark would read as part of the "
            "SQL around it: use letters, digits and -_+/= (e.g. `openssl rand -hex 32`)"
        )
    settings.spark_dir.mkdir(parents=True, exist_ok=True)
    (settings.spark_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES, encoding="utf-8")
    return {
        PII_SALT_ENV: salt,
        "DBT_TARGET_PATH": str(SPARK_TARGET_PATH),
        # The local session binds to loopback (instead of warning that the host name
        # resolves to it).
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
