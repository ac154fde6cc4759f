"""Export mappings: the merchant's own YAML saying which delivered header means which field.

A mapped source (contract ``mapped: true``, today ``generic_orders``) has no fixed header:
its contract declares the fields (name, type, which file grains may carry them), and each
export shape a merchant delivers gets one ``<name>.mapping.yml`` in the source's landing
folder, next to its delivery folders (``<landing>/generic_orders/olist.mapping.yml``). A
mapping says which files it reads (a file-name pattern per file kind), the grain of each
(order, order line or customer), the delivered header behind each field, timestamp formats,
the export's currency and time zone, and what its status values mean. From a mapping and a
file, :func:`contract_for` builds an ordinary contract, so the file loads through the same
ingest code as every built-in source. Worked examples: ``docs/examples/*.mapping.yml``.

Everything a merchant can get wrong is refused with a message that names the mapping file
and the key: an unknown field, a field the file's grain cannot carry, a missing required
field, a status column without the meaning of its values, two mappings claiming one file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from pipelines.lib.contracts import Column, Contract

MAPPING_SUFFIX = ".mapping.yml"
GRAINS = ("order", "order_line", "customer")
CHANNELS = ("online", "store")
# What a delivered order status can mean (the orders mart's vocabulary).
STATUS_MEANINGS = ("paid", "pending", "cancelled", "refunded", "partially_refunded")
# Fields that locate a row of each grain: a file of that grain must map them.
REQUIRED_BY_GRAIN = {
    "order": ("order_id", "ordered_at"),
    "order_line": ("order_id",),
    "customer": ("customer_ref",),
}
# Tried in order when a timestamp field names no formats of its own (ISO 8601 shapes).
DEFAULT_TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
_EXPORT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MAPPING_KEYS = {
    "export",
    "description",
    "channel",
    "currency",
    "timezone",
    "null_values",
    "statuses",
    "files",
}
_FILE_KEYS = {"match", "grain", "columns"}
_FIELD_KEYS = {"header", "formats"}


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class FieldMapping:
    """One field of a file: the delivered header(s) it reads, and timestamp formats."""

    field: str
    headers: tuple[str, ...]
    formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileMapping:
    """One kind of file of an export: which file names, what one row is, and its fields."""

    match: str
    grain: str
    fields: tuple[FieldMapping, ...]
    required: tuple[str, ...]  # fields whose value a row must have (else it is quarantined)

    def matches(self, file_name: str) -> bool:
        return fnmatch.fnmatch(file_name.casefold(), self.match.casefold())


@dataclass(frozen=True)
class ExportMapping:
    path: Path
    export: str
    channel: str
    currency: str | None
    timezone: str
    null_values: tuple[str, ...]
    statuses: tuple[tuple[str, str], ...]  # (delivered value, case-folded) -> meaning
    files: tuple[FileMapping, ...]
    digest: str  # sha256 of the mapping file: a changed mapping re-reads its files

    @property
    def name(self) -> str:
        return self.path.name


def _fail(path: Path, where: str, message: str) -> MappingError:
    return MappingError(f"{path.name}: {where}: {message}" if where else f"{path.name}: {message}")


def _text_list(path: Path, where: str, value) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise _fail(path, where, "expected a text or a list of texts")
    return tuple(values)


def _field(path: Path, where: str, name: str, spec, column: Column) -> FieldMapping:
    if isinstance(spec, dict):
        unknown = set(spec) - _FIELD_KEYS
        if unknown:
            raise _fail(path, where, f"unknown key(s) {sorted(unknown)}; known: header, formats")
        if "header" not in spec:
            raise _fail(path, where, "needs a header (the delivered column name)")
        headers = _text_list(path, f"{where}.header", spec["header"])
        formats = _text_list(path, f"{where}.formats", spec["formats"]) if "formats" in spec else ()
    else:
        headers, formats = _text_list(path, where, spec), ()
    if formats and column.type not in ("timestamp", "date"):
        raise _fail(path, where, f"formats apply to timestamps and dates, {name} is {column.type}")
    return FieldMapping(name, headers, formats)


def _file(path: Path, index: int, doc, contract: Contract, has_order_file: bool) -> FileMapping:
    where = f"files[{index}]"
    if not isinstance(doc, dict):
        raise _fail(path, where, "expected a mapping with match, grain and columns")
    unknown = set(doc) - _FILE_KEYS
    if unknown:
        raise _fail(path, where, f"unknown key(s) {sorted(unknown)}; known: {sorted(_FILE_KEYS)}")
    match = doc.get("match")
    if not isinstance(match, str) or not match.strip():
        raise _fail(path, f"{where}.match", "a file-name pattern is required (e.g. orders_*.csv)")
    grain = doc.get("grain")
    if grain not in GRAINS:
        raise _fail(path, f"{where}.grain", f"must be one of {', '.join(GRAINS)}, not {grain!r}")
    columns = doc.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise _fail(path, f"{where}.columns", "map at least one field to a delivered header")
    mappable = {c.name: c for c in contract.columns if grain in c.grains}
    fields = []
    for name, spec in columns.items():
        key = f"{where}.columns.{name}"
        if name not in mappable:
            known = {c.name for c in contract.columns if c.grains}
            if name in known:
                raise _fail(path, key, f"a {grain} file cannot carry {name}")
            raise _fail(path, key, f"unknown field; the fields are {', '.join(sorted(known))}")
        fields.append(_field(path, key, name, spec, mappable[name]))
    required = list(REQUIRED_BY_GRAIN[grain])
    # Lines name their order's time only when no order file of the export does.
    if grain == "order_line" and not has_order_file:
        required.append("ordered_at")
    missing = [f for f in required if f not in columns]
    if missing:
        raise _fail(path, f"{where}.columns", f"a {grain} file must map {', '.join(missing)}")
    return FileMapping(match.strip(), grain, tuple(fields), tuple(required))


def _statuses(path: Path, doc, maps_status: bool) -> tuple[tuple[str, str], ...]:
    if doc is None:
        if maps_status:
            raise _fail(
                path,
                "statuses",
                "a status column is mapped, so say what its values mean: "
                f"statuses: {{paid: [...], cancelled: [...], ...}} ({', '.join(STATUS_MEANINGS)})",
            )
        return ()
    if not isinstance(doc, dict):
        raise _fail(path, "statuses", "expected meaning: [delivered values]")
    pairs: dict[str, str] = {}
    for meaning, values in doc.items():
        if meaning not in STATUS_MEANINGS:
            raise _fail(path, f"statuses.{meaning}", f"must be one of {', '.join(STATUS_MEANINGS)}")
        for value in _text_list(path, f"statuses.{meaning}", values):
            key = value.strip().casefold()
            if pairs.get(key, meaning) != meaning:
                raise _fail(path, "statuses", f"{value!r} is listed as {pairs[key]} and {meaning}")
            pairs[key] = meaning
    return tuple(sorted(pairs.items()))


def read_mapping(path: Path, contract: Contract) -> ExportMapping:
    """Parse and validate one mapping file against the mapped source's contract."""
    raw = path.read_bytes()
    try:
        doc = yaml.safe_load(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _fail(path, "", f"not readable YAML: {exc}".replace("\n", " ")) from exc
    if not isinstance(doc, dict):
        raise _fail(path, "", "expected a YAML mapping (export:, files:, ...)")
    unknown = set(doc) - _MAPPING_KEYS
    if unknown:
        raise _fail(path, "", f"unknown key(s) {sorted(unknown)}; known: {sorted(_MAPPING_KEYS)}")
    export = doc.get("export")
    if not isinstance(export, str) or not _EXPORT_NAME.match(export):
        raise _fail(
            path, "export", "a name in lower case letters, digits and _ (e.g. olist) is required"
        )
    channel = doc.get("channel", "online")
    if channel not in CHANNELS:
        raise _fail(path, "channel", f"must be one of {', '.join(CHANNELS)}, not {channel!r}")
    currency = doc.get("currency")
    if currency is not None and not (
        isinstance(currency, str) and re.fullmatch(r"[A-Za-z]{3}", currency)
    ):
        raise _fail(path, "currency", f"an ISO 4217 code such as EUR is expected, not {currency!r}")
    timezone = doc.get("timezone", "UTC")
    if not isinstance(timezone, str) or not timezone:
        raise _fail(path, "timezone", "an IANA zone name such as Europe/London is expected")
    null_values = (
        _text_list(path, "null_values", doc["null_values"]) if doc.get("null_values") else ()
    )
    files_doc = doc.get("files")
    if not isinstance(files_doc, list) or not files_doc:
        raise _fail(path, "files", "list at least one file (match, grain, columns)")
    has_order_file = any(isinstance(f, dict) and f.get("grain") == "order" for f in files_doc)
    files = tuple(_file(path, i, f, contract, has_order_file) for i, f in enumerate(files_doc))
    maps_status = any(f.field == "status" for spec in files for f in spec.fields)
    maps_currency = any(f.field == "currency" for spec in files for f in spec.fields)
    if currency is None and not maps_currency:
        raise _fail(path, "currency", "say the export's currency, or map a currency column")
    return ExportMapping(
        path=path,
        export=export,
        channel=channel,
        currency=currency.upper() if currency else None,
        timezone=timezone,
        null_values=null_values,
        statuses=_statuses(path, doc.get("statuses"), maps_status),
        files=files,
        digest=hashlib.sha256(raw).hexdigest(),
    )


def load_mappings(source_dir: Path, contract: Contract) -> tuple[list[ExportMapping], list[str]]:
    """Every usable mapping in the source's landing folder, and one message per mapping file
    that cannot be used (two files naming one export are both refused: which is meant?)."""
    mappings, problems = [], []
    paths = sorted(source_dir.glob(f"*{MAPPING_SUFFIX}")) if source_dir.is_dir() else []
    for path in paths:
        try:
            mappings.append(read_mapping(path, contract))
        except MappingError as exc:
            problems.append(f"{contract.source}/{exc}")
    by_export: dict[str, list[ExportMapping]] = {}
    for mapping in mappings:
        by_export.setdefault(mapping.export, []).append(mapping)
    for export, same in by_export.items():
        if len(same) > 1:
            names = ", ".join(m.name for m in same)
            problems.append(f"{contract.source}/{names}: each names export {export!r}; rename one")
    usable = [m for m in mappings if len(by_export[m.export]) == 1]
    return usable, problems


def mapping_for(file_name: str, mappings: list[ExportMapping]) -> tuple[ExportMapping, FileMapping]:
    """The one mapping and file kind whose pattern matches ``file_name``."""
    found = [(m, f) for m in mappings for f in m.files if f.matches(file_name)]
    if len(found) == 1:
        return found[0]
    if not found:
        known = "; ".join(f"{m.name}: {', '.join(f.match for f in m.files)}" for m in mappings)
        raise MappingError(
            f"no mapping file matches this file name ({known or 'no mapping file yet'}): write "
            f"a <name>{MAPPING_SUFFIX} beside the delivery folders (docs/examples/)"
        )
    claims = ", ".join(f"{m.name} ({f.match})" for m, f in found)
    raise MappingError(f"several mappings match this file name: {claims}; narrow their patterns")


def contract_for(contract: Contract, mapping: ExportMapping, spec: FileMapping) -> Contract:
    """The contract one file of ``spec`` loads by: every field of the mapped source (those
    the file does not map load as null), headers and formats from the mapping, the export's
    constants (name, grain, channel, default currency) and its status meanings."""
    mapped = {f.field: f for f in spec.fields}
    constants = {
        "export_name": mapping.export,
        "record_type": spec.grain,
        "channel": mapping.channel,
    }
    columns = []
    for column in contract.columns:
        if column.name in constants:
            columns.append(replace(column, constant=constants[column.name]))
            continue
        field = mapped.get(column.name)
        if field is None:
            default = mapping.currency if column.name == "currency" else None
            columns.append(replace(column, headers=(), constant=default))
            continue
        formats = field.formats or (
            DEFAULT_TIMESTAMP_FORMATS if column.type in ("timestamp", "date") else ()
        )
        columns.append(
            replace(
                column,
                headers=field.headers,
                formats=formats,
                required=column.name in spec.required,
                header_required=True,
                null_values=mapping.null_values,
                default=mapping.currency if column.name == "currency" else None,
                value_map=mapping.statuses if column.name == "status" else (),
                value_source=mapping.name if column.name == "status" else "",
            )
        )
    return replace(contract, columns=tuple(columns), timezone=mapping.timezone)
