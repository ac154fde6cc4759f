"""The salt of the personal-data hashes, and the rule that production never runs without one.

BI marts and exports carry ``sha256(salt || normalised value)`` instead of e-mails and
phones (dbt macro ``pii_hash``). Without a secret salt anyone could hash every mobile
number (about 10^10 of them) and read the marts back, so the salt comes from the
environment (``CRM_PII_SALT``, from the operator's secret store), never from the
repository. A production run (``CRM_ENVIRONMENT=production``) refuses to start without it.
Anywhere else (the demo, tests, a developer's machine) a random salt is generated once
into the data folder and every run says that it is used.

The salt reaches DuckDB as a function registered on dbt's connection
(``pipelines/dbt_privacy_plugin.py``), so it never appears in compiled SQL, dbt's logs or
its manifest.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from pipelines.settings import Settings

PII_SALT_ENV = "CRM_PII_SALT"
ENVIRONMENT_ENV = "CRM_ENVIRONMENT"
PRODUCTION = "production"
ENVIRONMENTS = ("development", PRODUCTION)
# 16 characters of a secret store's random string is ~96 bits: far beyond enumeration.
MIN_SALT_LENGTH = 16
# The SQL function dbt's models call for the salt (macros/privacy/pii.sql).
SALT_FUNCTION = "crm_pii_salt"


class SaltError(RuntimeError):
    """The run must not start: personal data could not be hashed safely."""


@dataclass(frozen=True)
class PiiSalt:
    value: str
    # Where it came from, for the run's log: the variable's name or the generated file.
    origin: str
    generated: bool

    def __repr__(self) -> str:  # never print the secret itself
        return f"PiiSalt(origin={self.origin!r}, generated={self.generated})"

    def describe(self) -> str:
        if not self.generated:
            return f"personal data hashed with the salt from {self.origin}"
        return (
            f"personal data hashed with a generated local salt ({self.origin}): fine for "
            f"a demo or development, not for production (set {PII_SALT_ENV} from your "
            f"secret store and {ENVIRONMENT_ENV}={PRODUCTION})"
        )


def environment_name(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    name = (env.get(ENVIRONMENT_ENV) or "development").strip().lower()
    if name not in ENVIRONMENTS:
        raise SaltError(f"{ENVIRONMENT_ENV}={name!r}: expected one of {', '.join(ENVIRONMENTS)}")
    return name


def resolve_salt(settings: Settings, environ: dict[str, str] | None = None) -> PiiSalt:
    """The salt from ``CRM_PII_SALT``; outside production, else the generated local one.
    Raises :class:`SaltError` with what to do when a production run has none (or a short
    one)."""
    env = os.environ if environ is None else environ
    production = environment_name(env) == PRODUCTION
    value = env.get(PII_SALT_ENV, "")
    if value:
        if production and len(value) < MIN_SALT_LENGTH:
            raise SaltError(
                f"{PII_SALT_ENV} is {len(value)} characters long: a production run needs at "
                f"least {MIN_SALT_LENGTH} random characters (e.g. `openssl rand -hex 32`)"
            )
        return PiiSalt(value, PII_SALT_ENV, generated=False)
    if production:
        raise SaltError(
            f"{PII_SALT_ENV} is not set: a production run ({ENVIRONMENT_ENV}={PRODUCTION}) "
            "refuses to start, because e-mails and phones in the BI marts and exports are "
            "hashed with it. Set it from your secret store (at least "
            f"{MIN_SALT_LENGTH} random characters, e.g. `openssl rand -hex 32`) and keep it "
            "stable: changing it changes every hash."
        )
    return PiiSalt(
        _local_salt(settings.local_pii_salt_path), str(settings.local_pii_salt_path), True
    )


def _local_salt(path: Path) -> str:
    """Read the generated salt, creating it (owner-only) on first use. Processes may race
    to create it: the file appears whole by hard link, which fails if it exists, so
    exactly one salt wins and every process reads that one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink()
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise SaltError(f"{path} is empty: delete it to generate a new salt")
    return value
