"""dbt_project.yml is read in one place (pipelines/lib/dbt_project_file.py), and read again
once it changes: a long-lived process sees the vars the dbt it starts will see."""

from __future__ import annotations

import os
from pathlib import Path

from pipelines.lib import normalise
from pipelines.lib.dbt_project_file import PROJECT_FILE, project_file, project_vars


def test_the_vars_are_the_projects():
    assert project_file()["profile"] == "crm_warehouse"
    assert project_vars() == project_file()["vars"]
    assert normalise.default_country_code() == str(project_vars()["default_country_code"])
    assert project_file() is project_file()  # parsed once while the file is unchanged


def test_a_changed_file_is_read_again(tmp_path: Path):
    path = tmp_path / PROJECT_FILE
    path.write_text("name: p\nvars:\n  rfm_preset: retail\n", encoding="utf-8")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    assert project_vars(tmp_path) == {"rfm_preset": "retail"}
    path.write_text("name: p\nvars:\n  rfm_preset: shopify\n", encoding="utf-8")
    os.utime(path, ns=(2_000_000_000, 2_000_000_000))
    assert project_vars(tmp_path) == {"rfm_preset": "shopify"}
    path.write_text("name: p\n", encoding="utf-8")
    os.utime(path, ns=(3_000_000_000, 3_000_000_000))
    assert project_vars(tmp_path) == {}  # no vars declared
