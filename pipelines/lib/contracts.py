"""Source contracts: load the YAML files in ``pipelines/contracts`` into typed objects.

Everything that needs to know a source's columns (ingest, generator, dbt source docs,
tests) goes through this module, so a column is declared exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"

COLUMN_TYPES = ("text", "integer", "decimal", "timestamp", "date", "time", "boolean")
FORMATS = ("csv", "jsonl")

# Lineage columns added by ingest to every raw table, in this order.
LINEAGE_COLUMNS: dict[str, str] = {
    "_load_id": "VARCHAR",
    "_source_file": "VARCHAR",
    "_source_line": "BIGINT",
    "_delivery_date": "DATE",
    "_loaded_at": "TIMESTAMPTZ",
}


@dataclass(frozen=True)
class Column:
    name: str
    headers: tuple[str, ...]
    type: str
    required: bool = False
    pii: bool = False
    formats: tuple[str, ...] = ()
    scale: int = 2
    description: str = ""
    # Mapped sources (contract ``mapped: true``): the file grains whose mapping may name
    # this column; none for a column the mapping fills itself (export_name, record_type).
    grains: tuple[str, ...] = ()
    # Set per file by a mapping (pipelines/lib/mappings.py contract_for), never in YAML:
    constant: str | None = None  # the value of every row (no header read)
    default: str | None = None  # the value of a row whose own value is empty
    header_required: bool = False  # the mapped header must be in the file
    null_values: tuple[str, ...] = ()  # texts that mean "no value" besides ''
    value_map: tuple[tuple[str, str], ...] = ()  # case-folded delivered value -> value
    value_source: str = ""  # where value_map is declared, for the quarantine reason

    @property
    def canonical_header(self) -> str:
        return self.headers[0]

    @property
    def duckdb_type(self) -> str:
        return {
            "text": "VARCHAR",
            "integer": "BIGINT",
            "decimal": f"DECIMAL(18, {self.scale})",
            "timestamp": "TIMESTAMPTZ",
            "date": "DATE",
            "time": "TIME",
            "boolean": "BOOLEAN",
        }[self.type]


@dataclass(frozen=True)
class Contract:
    source: str
    channel: str
    title: str
    format: str
    grain: str
    keys: tuple[str, ...]
    columns: tuple[Column, ...]
    encoding: str = "auto"
    timezone: str = "UTC"
    currency: str | None = None
    # Headers come from the merchant's mapping files beside the deliveries, not from here
    # (pipelines/lib/mappings.py).
    mapped: bool = False
    path: Path = field(default=Path(), compare=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.source}: no column {name!r}")

    @property
    def raw_table(self) -> str:
        return f"raw.{self.source}"

    def raw_schema(self) -> dict[str, str]:
        """Column name -> DuckDB type of the raw table, lineage columns last."""
        return {c.name: c.duckdb_type for c in self.columns} | LINEAGE_COLUMNS


class ContractError(ValueError):
    pass


def _parse(path: Path) -> Contract:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = f"{path.name}"
    if doc.get("format") not in FORMATS:
        raise ContractError(f"{where}: format must be one of {FORMATS}")
    mapped = bool(doc.get("mapped", False))
    columns = []
    for raw in doc["columns"]:
        if raw["type"] not in COLUMN_TYPES:
            raise ContractError(f"{where}: column {raw['name']}: unknown type {raw['type']!r}")
        if mapped:
            if raw.get("headers") or raw.get("formats"):
                raise ContractError(
                    f"{where}: column {raw['name']}: a mapped source takes headers and formats "
                    "from its mapping files"
                )
        elif raw["type"] in ("timestamp", "date", "time") and not raw.get("formats"):
            raise ContractError(f"{where}: column {raw['name']}: {raw['type']} needs formats")
        columns.append(
            Column(
                name=raw["name"],
                headers=tuple(raw.get("headers", ())),
                type=raw["type"],
                required=bool(raw.get("required", False)),
                pii=bool(raw.get("pii", False)),
                formats=tuple(raw.get("formats", ())),
                scale=int(raw.get("scale", 2)),
                description=raw.get("description", ""),
                grains=tuple(raw.get("grains", ())),
            )
        )
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: duplicate column names")
    for key in doc["keys"]:
        if key not in names:
            raise ContractError(f"{where}: key {key!r} is not a column")
    if doc["source"] != path.stem:
        raise ContractError(f"{where}: source must equal the file name")
    return Contract(
        source=doc["source"],
        channel=doc["channel"],
        title=doc["title"],
        format=doc["format"],
        grain=" ".join(str(doc["grain"]).split()),
        keys=tuple(doc["keys"]),
        columns=tuple(columns),
        encoding=doc.get("encoding", "auto"),
        timezone=doc.get("timezone", "UTC"),
        currency=doc.get("currency"),
        mapped=mapped,
        path=path,
    )


@cache
def load_contracts() -> dict[str, Contract]:
    """All contracts by source name, in a stable order."""
    return {p.stem: _parse(p) for p in sorted(CONTRACTS_DIR.glob("*.yml"))}


def get_contract(source: str) -> Contract:
    contracts = load_contracts()
    if source not in contracts:
        raise ContractError(f"unknown source {source!r}; known: {', '.join(contracts)}")
    return contracts[source]
