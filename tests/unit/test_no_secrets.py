"""No secret is committed: every file of the repository is scanned for credentials.

Secrets (the PII salt, database passwords, cloud keys) come from the environment only
(SPEC.md, "Security and privacy"). The scan covers what git tracks, or, without a git
checkout, every file outside the generated folders.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pipelines.settings import PROJECT_ROOT

# Folders that are generated or installed, never committed.
UNTRACKED = {".git", ".venv", "data", "bench", ".pytest_cache", ".ruff_cache", "target", "logs"}

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "credentials in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s:@'\"{}$]{3,}@"),
    # a literal assigned to a secret-looking name (env lookups and templates are fine)
    "secret literal": re.compile(
        r"""(?ix)\b[a-z_]*(?:password|passwd|secret|api_?key|token|pii_salt)\b
        \s*[:=]\s*["']?(?!\{\{|\$\{|env_var|os\.environ)[A-Za-z0-9+/_.-]{12,}["']?\s*$""",
        re.MULTILINE,
    ),
}


def repository_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=PROJECT_ROOT, capture_output=True, check=True
        ).stdout
        return [PROJECT_ROOT / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        return [
            p
            for p in PROJECT_ROOT.rglob("*")
            if p.is_file() and not UNTRACKED & set(p.relative_to(PROJECT_ROOT).parts)
        ]


def findings(text: str) -> list[str]:
    return [kind for kind, pattern in SECRET_PATTERNS.items() if pattern.search(text)]


def test_no_file_of_the_repository_holds_a_secret() -> None:
    files = repository_files()
    assert len(files) > 50  # the scan really saw the repository
    hits = []
    for path in files:
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        hits += [f"{path.relative_to(PROJECT_ROOT)}: {kind}" for kind in findings(text)]
    assert not hits, "\n".join(hits)


def test_no_environment_file_is_committed() -> None:
    names = {p.name for p in repository_files()}
    assert not {n for n in names if n == ".env" or n.startswith(".env.")}


# The scan's patterns catch what they should; samples are assembled at run time so that
# this file does not hold one itself.
@pytest.mark.parametrize(
    ("sample", "kind"),
    [
        ("-----BEGIN RSA " + "PRIVATE KEY-----\nMIIE", "private key"),
        ("aws_access_key_id = " + "AKIA" + "ABCDEFGHIJKLMNOP", "AWS access key id"),
        ("token: " + "ghp_" + "a1" * 18, "GitHub token"),
        ("url = postgres://crm:" + "s3cretpass" + "@db.internal/crm", "credentials in a URL"),
        ("CRM_PII_SALT=" + "9f8e7d6c5b4a39281706", "secret literal"),
        ("  password: " + "'hunter2hunter2'", "secret literal"),
    ],
)
def test_the_scan_recognises_secrets(sample: str, kind: str) -> None:
    assert kind in findings(sample)


@pytest.mark.parametrize(
    "sample",
    [
        "password: \"{{ env_var('CRM_DB_PASSWORD') }}\"",
        "salt = os.environ['CRM_PII_SALT']",
        "token = ${GITHUB_TOKEN}",
        "api_key: null",
    ],
)
def test_the_scan_accepts_secrets_read_from_the_environment(sample: str) -> None:
    assert findings(sample) == []
