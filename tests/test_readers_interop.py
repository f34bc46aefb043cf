"""Issue 17, readers everywhere: the output shards (OUT/data/) and quarantine files (OUT/quarantine/)
of a real flagship run load in Hugging Face datasets, pandas, polars and DuckDB with the declared
schema, and every reader gives back pyarrow's values, list and struct columns included.

The declared schema of the shards is the manifest's (``outputs.schema``), of the quarantine files
``curate.quarantine.QUARANTINE_SCHEMA`` as Parquet stores it. One flagship run (the shipped sample
crawl, no shared data) serves the whole module; its planted attacks give the quarantine rows.
"""

from __future__ import annotations

import json
import math
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_flagship

from curate.quarantine import QUARANTINE_SCHEMA


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = run_flagship(tmp_path_factory.mktemp("readers") / "zh_web")
    return out, json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def as_stored(schema: pa.Schema) -> pa.Schema:
    """``schema`` as Parquet keeps it: it has no second-resolution timestamps, so pyarrow writes
    them, and every reader reads them back, in milliseconds."""

    def stored(kind: pa.DataType) -> pa.DataType:
        return pa.timestamp("ms", kind.tz) if pa.types.is_timestamp(kind) and kind.unit == "s" else kind

    return pa.schema([field.with_type(stored(field.type)) for field in schema])


def is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind)


@dataclass(frozen=True)
class Part:
    """One kind of output file: where the manifest says they are and what it says they hold, the
    declared schema, and what pyarrow reads from them (the reference every reader must match)."""

    name: str
    folder: Path
    files: list[Path]
    manifest_rows: int
    manifest_file_rows: list[int]
    declared: pa.Schema
    table: pa.Table

    @property
    def glob(self) -> str:
        return str(self.folder / "*.parquet")

    @property
    def nested(self) -> list[str]:
        """The list and struct columns, found in the schema."""
        return [f.name for f in self.declared if is_list(f.type) or pa.types.is_struct(f.type)]

    def by_id(self, column: str) -> dict[str, Any]:
        return dict(zip(self.table.column("id").to_pylist(), self.table.column(column).to_pylist()))


@pytest.fixture(scope="module", params=["data", "quarantine"])
def part(request: pytest.FixtureRequest, output: tuple[Path, dict[str, Any]]) -> Part:
    out, manifest = output
    if request.param == "data":
        entries, rows = manifest["outputs"]["shards"], manifest["outputs"]["rows"]
        # What the manifest declares, as pyarrow types (test_pyarrow_* holds them to its strings).
        declared = pq.read_schema(out / entries[0]["path"])
    else:
        assert "quarantine" in manifest, "the flagship run on the sample quarantined nothing"
        entries, rows = manifest["quarantine"]["files"], manifest["quarantine"]["rows"]
        declared = as_stored(QUARANTINE_SCHEMA)
    files = [out / entry["path"] for entry in entries]
    table = pa.concat_tables([pq.read_table(path) for path in files])
    return Part(request.param, out / request.param, files, rows, [e["rows"] for e in entries], declared, table)


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def plain(value: Any) -> Any:
    """A value as pandas gives it (numpy arrays for lists, numpy scalars) in to_pylist's terms."""
    if isinstance(value, np.ndarray):
        return [plain(item) for item in value.tolist()]
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def assert_same_values(part: Part, reader: str, ids: list[str], columns: dict[str, list[Any]]) -> None:
    """Every row's ``text`` and nested values as pyarrow's, matched by ``id`` (struct fields compare
    by name: dicts; list items in order: lists)."""
    assert len(ids) == len(set(ids)) == part.table.num_rows, reader
    assert set(ids) == set(part.table.column("id").to_pylist()), reader
    assert set(columns) == {"text", *part.nested}, reader
    for name, values in columns.items():
        got = dict(zip(ids, values))
        expected = part.by_id(name)
        differing = [i for i in expected if got[i] != expected[i]]
        assert not differing, f"{reader}: {part.name}.{name} differs from pyarrow for ids {differing[:5]}"


# --- pyarrow: the reference --------------------------------------------------------------------


def test_pyarrow_reads_what_the_manifest_declares(part: Part, output: tuple[Path, dict[str, Any]]) -> None:
    _, manifest = output
    # The folder holds exactly the manifest's files, with the rows it counts.
    assert sorted(part.folder.glob("*.parquet")) == sorted(part.files)
    footers = [pq.ParquetFile(path).metadata.num_rows for path in part.files]
    assert part.manifest_rows == sum(part.manifest_file_rows) == sum(footers) == part.table.num_rows > 0
    assert footers == part.manifest_file_rows
    ids = part.table.column("id").to_pylist()
    assert None not in ids and len(set(ids)) == len(ids)  # the key the readers' rows are matched by
    for path in part.files:
        schema = pq.read_schema(path)
        assert schema.equals(part.declared), f"{path.name}:\n{schema}\n!=\n{part.declared}"
        if part.name == "data":
            declared = [(c["name"], c["type"], c["nullable"]) for c in manifest["outputs"]["schema"]]
            assert [(f.name, str(f.type), f.nullable) for f in schema] == declared, path.name
    # Nested columns exist, and hold something to compare: a non-empty list, a struct that is set.
    lists = [f.name for f in part.declared if is_list(f.type)]
    assert lists and any(v for c in lists for v in part.table.column(c).to_pylist()), part.name
    if part.name == "data":
        structs = [f.name for f in part.declared if pa.types.is_struct(f.type)]
        assert structs and all(part.table.column(c).null_count < part.table.num_rows for c in structs)
    else:  # the evidence: a list of structs
        assert any(pa.types.is_struct(part.declared.field(c).type.value_type) for c in lists)


# --- Hugging Face datasets ---------------------------------------------------------------------


@pytest.fixture
def offline_hf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``datasets`` offline, its caches under ``tmp_path``, and no connection off this machine."""
    home = tmp_path / "hf"
    for name, value in {
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(home),
        "HF_DATASETS_CACHE": str(home / "datasets"),
    }.items():
        monkeypatch.setenv(name, value)
    import datasets.config
    import huggingface_hub.constants

    # datasets and huggingface_hub read these once, at import: an earlier import in the session has.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_CACHE_HOME", str(home))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")

    connect = socket.socket.connect

    def local_only(self: socket.socket, address: Any) -> Any:
        # Process-wide: loopback and Unix sockets (a Ray session another module started) still connect.
        if self.family == socket.AF_UNIX or address[0] in ("127.0.0.1", "::1", "localhost"):
            return connect(self, address)
        raise AssertionError(f"datasets tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", local_only)
    return home / "datasets"


def hf_shape(feature: Any) -> Any:
    """A datasets feature as Arrow leaf types in lists (``[item]``) and structs (``[(name, field)]``, in order)."""
    import datasets

    if isinstance(feature, dict):
        return [(name, hf_shape(inner)) for name, inner in feature.items()]
    if isinstance(feature, (datasets.List, datasets.LargeList)):
        return [hf_shape(feature.feature)]
    assert isinstance(feature, datasets.Value), feature
    return feature.pa_type


def arrow_shape(kind: pa.DataType) -> Any:
    if pa.types.is_struct(kind):
        return [(field.name, arrow_shape(field.type)) for field in kind]
    if is_list(kind):
        return [arrow_shape(kind.value_type)]
    return kind


def test_hf_datasets_loads_the_folder_offline(part: Part, offline_hf: Path) -> None:
    import datasets

    loaded = datasets.load_dataset("parquet", data_dir=str(part.folder), cache_dir=str(offline_hf))
    assert list(loaded) == ["train"]  # one split, every file in it
    dataset = loaded["train"]
    assert any(offline_hf.iterdir())  # the Arrow cache went where it was told
    assert dataset.num_rows == part.manifest_rows
    assert dataset.column_names == part.declared.names
    # Features: the same columns, lists and structs (fields by name, in order), down to the leaf types.
    assert list(dataset.features) == part.declared.names
    for field in part.declared:
        assert hf_shape(dataset.features[field.name]) == arrow_shape(field.type), field.name
    assert dataset.features == datasets.Features.from_arrow_schema(part.declared)
    assert [(f.name, f.type) for f in dataset.data.schema] == [(f.name, f.type) for f in part.declared]
    assert_same_values(part, "datasets", dataset["id"], {name: dataset[name] for name in ["text", *part.nested]})


# --- pandas --------------------------------------------------------------------------------------


def test_pandas_reads_the_folder(part: Part) -> None:
    frame = pd.read_parquet(part.folder)
    assert len(frame) == part.manifest_rows
    assert list(frame.columns) == part.declared.names
    # pandas' own string dtype marks a missing text (a page a URL list quarantined before extraction)
    # NaN; lists come as numpy arrays, structs as dicts.
    texts = [None if isinstance(v, float) and math.isnan(v) else v for v in frame["text"].tolist()]
    nested = {name: [plain(v) for v in frame[name].tolist()] for name in part.nested}
    assert_same_values(part, "pandas", frame["id"].tolist(), {"text": texts, **nested})
    # With Arrow-backed columns pandas keeps every declared type, nested ones included, and nulls as NA.
    typed = pd.read_parquet(part.folder, dtype_backend="pyarrow")
    assert list(typed.columns) == part.declared.names
    assert [dtype.pyarrow_dtype for dtype in typed.dtypes] == part.declared.types
    values = {name: [None if v is pd.NA else v for v in typed[name].tolist()] for name in ["text", *part.nested]}
    assert_same_values(part, "pandas (pyarrow dtypes)", typed["id"].tolist(), values)


# --- polars --------------------------------------------------------------------------------------


def test_polars_scans_the_shards(part: Part) -> None:
    import polars as pl

    scan = pl.scan_parquet(part.glob)
    schema = scan.collect_schema()
    assert schema.names() == part.declared.names
    assert schema == pl.from_arrow(part.declared.empty_table()).schema  # polars' types for the declared ones
    assert scan.select(pl.len()).collect().item() == part.manifest_rows
    frame = scan.collect()
    assert_same_values(
        part,
        "polars",
        frame.get_column("id").to_list(),
        {name: frame.get_column(name).to_list() for name in ["text", *part.nested]},
    )


# --- DuckDB --------------------------------------------------------------------------------------


def test_duckdb_queries_the_shards(part: Part) -> None:
    import duckdb

    source = f"read_parquet({quoted(part.glob)})"
    assert duckdb.sql(f"select count(*) from {source}").fetchall() == [(part.manifest_rows,)]
    everything = duckdb.sql(f"select * from {source}")
    assert everything.columns == part.declared.names
    assert [str(t) for t in everything.types] == [str(t) for t in duckdb.from_arrow(part.declared.empty_table()).types]

    columns = ["id", "text", *part.nested]
    selected = ", ".join(f'"{name}"' for name in columns)
    rows = duckdb.sql(f"select {selected} from {source}").fetchall()
    values = dict(zip(columns, zip(*rows)))
    assert_same_values(part, "duckdb", list(values.pop("id")), {name: list(v) for name, v in values.items()})

    # Struct fields by SQL path: every field of every struct column, and of the structs in lists.
    paths: dict[str, tuple[str, str, bool]] = {}
    for field in part.declared:
        if pa.types.is_struct(field.type):
            for inner in field.type:
                paths[f'"{field.name}"."{inner.name}"'] = (field.name, inner.name, False)
        elif is_list(field.type) and pa.types.is_struct(field.type.value_type):
            for inner in field.type.value_type:
                paths[f'list_transform("{field.name}", lambda x: x."{inner.name}")'] = (field.name, inner.name, True)
    assert paths
    rows = duckdb.sql(f"select id, {', '.join(paths)} from {source}").fetchall()
    got = {row[0]: row[1:] for row in rows}
    for position, (column, name, in_list) in enumerate(paths.values()):
        for doc_id, value in part.by_id(column).items():
            if in_list:
                expected = None if value is None else [item[name] if item else None for item in value]
            else:
                expected = None if value is None else value[name]
            assert got[doc_id][position] == expected, f"{column}.{name} of {doc_id}"
