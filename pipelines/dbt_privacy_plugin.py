"""dbt-duckdb plugin (profiles.yml `plugins:`): gives dbt's DuckDB connection the salt of
the personal-data hashes as the SQL function ``crm_pii_salt()``.

A function registered on the connection keeps the salt out of everything dbt writes down
(compiled SQL, logs, manifest, run results), which a var, an env_var() in a model or a SET
in a hook would not. A production run without ``CRM_PII_SALT`` stops here with the
reason (pipelines/lib/privacy.py).
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from pipelines.lib.privacy import SALT_FUNCTION, resolve_salt
from pipelines.settings import get_settings


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        salt = resolve_salt(get_settings()).value
        # Registered on the parent connection, so every cursor dbt's threads take sees it.
        conn.create_function(SALT_FUNCTION, lambda: salt, [], "VARCHAR")
