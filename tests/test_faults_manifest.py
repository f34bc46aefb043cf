"""A tampered output folder: `verify`, `report`, `sample` and `inspect` take its manifest and files as
untrusted input. Paths that lead out of the folder are refused, a manifest off the schema is one `error:`
line (exit 2), every value the report shows is escaped, cut and bidi-neutralised under a CSP without
'unsafe-inline', and stray files anywhere the manifest lists files are mismatches."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from conftest import HEADLESS_FLAGS, chromium, run_flagship

from curate.cli import cli
from curate.untrusted import BIDI_CONTROLS, UnsafeOutput, inside

COMMANDS = ("verify", "report", "sample", "inspect")
SCRIPT = "<script>document.documentElement.setAttribute('data-pwned','script')</script>"
PAYLOAD = SCRIPT + "\"'><img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">"
RAW_MARKUP = re.compile(r"<script>document|<img|onerror=\"document")


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> Path:
    return run_flagship(tmp_path_factory.mktemp("faults") / "out")


@pytest.fixture
def copy(output: Path, tmp_path: Path) -> Path:
    """A fresh copy of the output folder (without the run's work files) to tamper with."""
    folder = tmp_path / "out"
    shutil.copytree(output, folder, ignore=shutil.ignore_patterns("_work", "report.html"))
    return folder


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    # A tampered folder is an error line, never an exception out of the command.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def edit(folder: Path, change: Callable[[dict], object]) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return manifest


def rehash(folder: Path, record: dict) -> None:
    """Make a listed file's record match the file again, as someone who edits the folder would."""
    data = (folder / record["path"]).read_bytes()
    record["bytes"], record["sha256"] = len(data), hashlib.sha256(data).hexdigest()


def rewrite_table(path: Path, **columns: Callable[[list], list]) -> None:
    table = pq.read_table(path)
    for name, change in columns.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pa.array(change(table.column(name).to_pylist())))
    pq.write_table(table, path)


def error_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    return lines[0]


# -- paths that lead out of the folder -------------------------------------------------------------

OUTSIDE = ["../other/data/shard.parquet", "/etc/passwd", "data/../../x.parquet", "s3://bucket/x", "file:///etc/passwd"]
WHERE = {
    "$.outputs.shards[0].path": lambda m: m["outputs"]["shards"][0],
    "$.quarantine.files[0].path": lambda m: m["quarantine"]["files"][0],
    "$.samples.path": lambda m: m["samples"],
}


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("path", OUTSIDE)
def test_a_path_out_of_the_folder_is_refused_by_every_command(copy: Path, where: str, path: str) -> None:
    # The file there is a real shard with the recorded hash: verify must not even look at it.
    other = copy.parent / "other" / "data"
    other.mkdir(parents=True)
    manifest = json.loads((copy / "manifest.json").read_text())
    shutil.copy(copy / manifest["outputs"]["shards"][0]["path"], other / "shard.parquet")

    def point_away(m: dict) -> None:
        record = WHERE[where](m)
        record["path"] = path
        if path == "/etc/passwd":
            data = Path(path).read_bytes()
            record["bytes"], record["sha256"] = len(data), hashlib.sha256(data).hexdigest()

    edit(copy, point_away)
    for command in COMMANDS:
        line = error_line(invoke(command, str(copy)))
        assert line.startswith(f"error: {copy}/manifest.json: {where}: "), line
        assert "is not a path inside the output folder" in line
    assert not (copy / "report.html").exists()


def test_the_path_helper_refuses_what_the_schema_refuses_and_uri_escapes() -> None:
    for bad in ("", "/etc/passwd", "../x", "data/../../x", "data//x", "./x", "s3://b/x", "C:/x", "a\\b", "a\nb"):
        with pytest.raises(UnsafeOutput):
            inside("/tmp/out", bad)
    # pyarrow decodes %-escapes in a URI's path and reads its query as filesystem options.
    for bad in ("data/%2e%2e/%2e%2e/x.parquet", "data/x.parquet?endpoint_override=evil.example:80", "data/x#y"):
        with pytest.raises(UnsafeOutput):
            inside("s3://bucket/out", bad)
    assert inside("s3://bucket/out", "data/x.parquet") == "s3://bucket/out/data/x.parquet"
    assert inside("/tmp/out", "data/100%.parquet") == os.path.realpath("/tmp/out/data/100%.parquet")


def test_a_symlink_out_of_the_folder_is_refused(copy: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    outside = copy.parent / "elsewhere"
    outside.mkdir()
    # Same bytes, so the hash matches: only where the file is gives it away.
    shard = copy / manifest["outputs"]["shards"][0]["path"]
    shutil.move(shard, outside / shard.name)
    shard.symlink_to(outside / shard.name)
    samples = copy / manifest["samples"]["path"]
    shutil.move(samples, outside / "samples.parquet")
    samples.symlink_to(outside / "samples.parquet")
    result = invoke("verify", str(copy))
    assert result.exit_code == 1
    for record in (manifest["outputs"]["shards"][0], manifest["samples"]):
        assert f"{record['path']}: refused, it resolves outside the output folder (a symlink)" in result.output
    for command in ("report", "sample"):
        line = error_line(invoke(command, str(copy)))
        assert "resolves outside the output folder" in line, line
    # A whole folder linked away is the same.
    shard.unlink()
    shutil.move(copy / "data", outside / "data")
    os.symlink(outside / "data", copy / "data")
    assert "resolves outside the output folder" in invoke("verify", str(copy)).output


def test_a_symlink_that_stays_inside_is_followed(copy: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    samples = copy / manifest["samples"]["path"]
    shutil.move(samples, copy / "data" / "moved.parquet")
    samples.symlink_to(Path("..") / "data" / "moved.parquet")
    result = invoke("verify", str(copy))
    # The moved file is a stray in data/, but the link itself is read.
    assert result.exit_code == 1 and result.output.count("\n") == 2, result.output
    assert "data/moved.parquet: not in the manifest" in result.output
    assert invoke("sample", str(copy), "-n", "1").exit_code == 0


# -- manifests that are not what the schema says --------------------------------------------------

WRONG = {
    "$.outputs.rows": lambda m: m["outputs"].__setitem__("rows", "93"),
    "$.seconds": lambda m: m.__setitem__("seconds", "1.8"),
    "$.stages[1].docs_in": lambda m: m["stages"][1].__setitem__("docs_in", "174"),
    "$.stages[2].wall_seconds": lambda m: m["stages"][2].__setitem__("wall_seconds", None),
    "$.samples.path": lambda m: m["samples"].__setitem__("path", 5),
    "$.outputs.shards[0].bytes": lambda m: m["outputs"]["shards"][0].__setitem__("bytes", 1.5),
    "$.top_domains.kept[0][1]": lambda m: m["top_domains"]["kept"][0].__setitem__(1, "7"),
    "$.config.output.sample_seed": lambda m: m["config"]["output"].__setitem__("sample_seed", "0"),
    "$.config.input.format": lambda m: m["config"]["input"].__setitem__("format", ["warc"]),
    "$.minhash_dedup.parameters.bands": lambda m: m["minhash_dedup"]["parameters"].__setitem__("bands", "14"),
    "$.outputs": lambda m: m.__setitem__("outputs", []),
    "$": lambda m: m.pop("stages"),
}


@pytest.mark.parametrize("where", WRONG)
def test_a_wrong_type_is_one_error_line_with_its_json_path(copy: Path, where: str) -> None:
    edit(copy, WRONG[where])
    for command in COMMANDS:
        line = error_line(invoke(command, str(copy)))
        assert line.startswith(f"error: {copy}/manifest.json: {where}: "), line
        assert len(line) < 300


@pytest.mark.parametrize(
    "content,what",
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b"[]", "$: [] is not of type 'object'"),
        (b"null", "$: None is not of type 'object'"),
        (b'"' + b"x" * 1_000_000 + b'"', "$: 'xxxx"),
        (b'{"seconds": NaN}', "not JSON: 'NaN is not a JSON number'"),
    ],
)
def test_a_manifest_that_is_not_a_json_object_is_one_error_line(copy: Path, content: bytes, what: str) -> None:
    (copy / "manifest.json").write_bytes(content)
    for command in COMMANDS:
        line = error_line(invoke(command, str(copy)))
        assert line.startswith(f"error: {copy}/manifest.json: {what}"), line
        assert len(line) < 400


# -- what the report shows -----------------------------------------------------------------------


def _hostile(copy: Path, value: str) -> dict:
    """Put ``value`` into every string the report shows: manifest fields, samples and quarantine rows."""
    manifest = json.loads((copy / "manifest.json").read_text())
    for name in ("url", "id", "domain", "source", "evidence", "text", "kept_id", "stage"):
        rewrite_table(copy / manifest["samples"]["path"], **{name: lambda values: [value + (v or "") for v in values]})
    rewrite_table(
        copy / manifest["samples"]["path"], reason=lambda values: [value if v == "kept" else v for v in values]
    )
    quarantine = copy / manifest["quarantine"]["files"][0]["path"]
    for name in ("url", "reason", "text"):
        rewrite_table(quarantine, **{name: lambda values: [value + (v or "") for v in values]})
    rewrite_table(quarantine, screen_flags=lambda values: [[value, *(v or [])] for v in values])
    rewrite_table(
        quarantine,
        screen_evidence=lambda values: [[{"rule": value, "evidence": value}, *(v or [])] for v in values],
    )

    def change(m: dict) -> None:
        for key in ("name", "curate_version", "git_commit", "started_at", "finished_at"):
            m[key] = value
        m["config"]["input"]["format"] = value
        m["skipped_stages"] = [{"stage": value, "reason": value}]
        m["models"][0].update(stage=value, path=value)
        m["stages"][3]["name"] = value
        m["inputs"][0].update(path=value, status="partial", error_count=1, errors=[{"offset": 0, "error": value}])
        m["top_domains"]["kept"][0][0] = value
        rehash(copy, m["samples"])
        rehash(copy, m["quarantine"]["files"][0])

    return edit(copy, change)


def _csp_sources(html: str, directive: str) -> list[str]:
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html).group(1)
    (sources,) = [d.split()[1:] for d in policy.split(";") if d.split() and d.split()[0] == directive]
    return sources


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def test_a_script_payload_in_every_field_is_shown_escaped_under_a_hash_only_csp(copy: Path) -> None:
    _hostile(copy, PAYLOAD)
    assert invoke("verify", str(copy)).exit_code == 0  # an edited folder can verify: the report must hold
    assert invoke("report", str(copy)).exit_code == 0
    html = (copy / "report.html").read_text(encoding="utf-8")
    assert not RAW_MARKUP.search(html)
    escaped = "&lt;script&gt;document.documentElement.setAttribute(&#x27;data-pwned&#x27;,&#x27;script&#x27;)"
    # Every manifest field, the samples (cards, reason, kept id), quarantine (meta, flags, evidence, text).
    assert html.count(escaped) > 40
    for shown in (
        f"<h1>curate report: {escaped}",
        f"<title>curate report: {escaped}",
        f'<tr data-stage="{escaped}',
        f"<th>left out</th><td>{escaped}",
        f"<th>input format</th><td>{escaped}",
        f"<tr><td>{escaped}",
        f'<details id="reason-{escaped}',
    ):
        assert shown in html, shown
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(scripts) == 1 and len(styles) == 1 and not re.search(r"<[a-z]+[^>]* style=", html)
    assert _csp_sources(html, "script-src") == [_sha256(scripts[0])]
    assert _csp_sources(html, "style-src") == [_sha256(styles[0])]
    assert _csp_sources(html, "default-src") == ["'none'"]
    assert "unsafe-inline" not in html


NUMBERS = {
    "$.seconds": lambda m: m.__setitem__("seconds", PAYLOAD),
    "$.stages[0].docs_out": lambda m: m["stages"][0].__setitem__("docs_out", PAYLOAD),
    "$.stages[5].cpu_seconds": lambda m: m["stages"][5].__setitem__("cpu_seconds", PAYLOAD),
    "$.outputs.bytes": lambda m: m["outputs"].__setitem__("bytes", PAYLOAD),
    "$.quarantine.rows": lambda m: m["quarantine"].__setitem__("rows", PAYLOAD),
    "$.models[0].bytes": lambda m: m["models"][0].__setitem__("bytes", PAYLOAD),
    "$.minhash_dedup.documents_removed": lambda m: m["minhash_dedup"].__setitem__("documents_removed", PAYLOAD),
    "$.minhash_dedup.cluster_sizes": lambda m: m["minhash_dedup"]["cluster_sizes"].__setitem__(PAYLOAD, 1),
    "$.stages[1].drops": lambda m: m["stages"][1]["drops"].__setitem__(PAYLOAD, 1),
    "$.top_domains.dropped[0][1]": lambda m: m["top_domains"]["dropped"][0].__setitem__(1, PAYLOAD),
}


def test_a_script_payload_where_a_number_belongs_writes_no_report(output: Path, copy: Path) -> None:
    for where, change in NUMBERS.items():
        shutil.copy(output / "manifest.json", copy / "manifest.json")
        edit(copy, change)
        line = error_line(invoke("report", str(copy)))
        assert line.startswith(f"error: {copy}/manifest.json: {where}: "), line
        assert not (copy / "report.html").exists()


def test_bidi_controls_are_shown_as_code_points(copy: Path) -> None:
    _hostile(copy, "evil\u202etxt.exe\u2066\u200f\u061c")
    assert invoke("report", str(copy)).exit_code == 0
    html = (copy / "report.html").read_text(encoding="utf-8")
    assert not set(html) & set(BIDI_CONTROLS)
    assert html.count("evil\\u202etxt.exe\\u2066\\u200f\\u061c") > 40
    result = invoke("sample", str(copy), "-n", "1")
    assert result.exit_code == 0 and "evil\\u202etxt.exe" in result.output and "\u202e" not in result.output
    result = invoke("inspect", str(copy))
    assert result.exit_code == 0 and "\u202e" not in result.output and "evil\\u202etxt.exe" in result.output


def test_a_1_mb_url_leaves_the_report_small(output: Path, copy: Path) -> None:
    assert invoke("report", str(copy)).exit_code == 0
    plain = (copy / "report.html").stat().st_size
    huge = "http://example.com/" + "a" * 1_000_000
    manifest = json.loads((copy / "manifest.json").read_text())
    # Every sampled document (a hundred cards and diffs show them) and every quarantined one.
    rewrite_table(copy / manifest["samples"]["path"], url=lambda values: [huge] * len(values))
    rewrite_table(copy / manifest["samples"]["path"], evidence=lambda values: [huge if v else v for v in values])
    rewrite_table(copy / manifest["quarantine"]["files"][0]["path"], url=lambda values: [huge] * len(values))

    def change(m: dict) -> None:
        m["inputs"][0].update(path=huge, status="failed", error=huge)
        m["models"][0]["path"] = huge
        rehash(copy, m["samples"])
        rehash(copy, m["quarantine"]["files"][0])

    edit(copy, change)
    assert invoke("verify", str(copy)).exit_code == 0
    assert invoke("report", str(copy)).exit_code == 0
    size = (copy / "report.html").stat().st_size
    assert size < plain + 100_000, (plain, size)  # was over 100 MB
    assert huge[:300] + "…" in (copy / "report.html").read_text(encoding="utf-8")
    sampled = invoke("sample", str(copy), "-n", "2").output
    assert "a" * 301 not in sampled and max(len(line) for line in sampled.splitlines()) < 1000
    assert max(len(line) for line in invoke("inspect", str(copy)).output.splitlines()) < 1000


def test_a_samples_file_holding_another_table_is_an_error_line(copy: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    samples = copy / manifest["samples"]["path"]
    pq.write_table(pa.table({"reason": [1, 2], "value": ["x", "y"]}), samples)
    edit(copy, lambda m: rehash(copy, m["samples"]))
    for command in ("report", "sample"):
        assert "no column" in error_line(invoke(command, str(copy)))
    # A listed file with the right hash that is no Parquet file at all.
    samples.write_text("not parquet")
    edit(copy, lambda m: rehash(copy, m["samples"]))
    result = invoke("verify", str(copy))
    assert result.exit_code == 1 and f"{manifest['samples']['path']}: not a Parquet file" in result.output
    assert "not the table it should be" in error_line(invoke("report", str(copy)))


# -- files the manifest does not list --------------------------------------------------------------


def test_stray_files_in_quarantine_samples_and_data_are_mismatches(copy: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    shutil.copy(copy / manifest["quarantine"]["files"][0]["path"], copy / "quarantine" / "planted.parquet")
    shutil.copy(copy / manifest["samples"]["path"], copy / "samples" / "old-samples.parquet")
    (copy / "data" / "sub").mkdir()
    shutil.copy(copy / manifest["outputs"]["shards"][0]["path"], copy / "data" / "sub" / "extra.parquet")
    os.symlink("/usr", copy / "data" / "linked")  # listed as one entry, not walked
    result = invoke("verify", str(copy))
    assert result.exit_code == 1
    strays = sorted(line for line in result.output.splitlines() if line.endswith(": not in the manifest"))
    assert strays == [
        "data/linked: not in the manifest",
        "data/sub/extra.parquet: not in the manifest",
        "quarantine/planted.parquet: not in the manifest",
        "samples/old-samples.parquet: not in the manifest",
    ]
    assert "4 mismatches" in result.output


def test_totals_that_disagree_with_the_file_lists_are_mismatches(copy: Path) -> None:
    edit(copy, lambda m: (m["outputs"].update(bytes=m["outputs"]["bytes"] + 1), m["quarantine"].update(rows=999)))
    result = invoke("verify", str(copy))
    assert result.exit_code == 1
    assert "outputs.bytes says" in result.output and "quarantine.rows says 999" in result.output


# -- in a browser ----------------------------------------------------------------------------------


def test_an_injected_script_does_not_run_in_chromium(copy: Path, tmp_path: Path) -> None:
    """Escaping is the defence; the CSP is the second one: a script that got into the page anyway
    (here, spliced in by hand) is refused, while the page's own sorting script is not."""
    browser = chromium()
    _hostile(copy, PAYLOAD)
    assert invoke("report", str(copy)).exit_code == 0
    page = copy / "report.html"
    page.write_text(page.read_text(encoding="utf-8").replace("<body>", f"<body>{PAYLOAD}", 1), encoding="utf-8")
    dom = subprocess.run(
        [
            browser,
            *HEADLESS_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "<h2>Funnel</h2>" in dom.stdout and not re.search(r"<html[^>]*data-pwned", dom.stdout)
    refusals = [line for line in dom.stderr.splitlines() if "Content Security Policy" in line]
    assert any("inline script" in line for line in refusals), dom.stderr
