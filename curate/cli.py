"""The ``curate`` command line.

Exit codes: 0 success, 2 bad usage or config (nothing written), 1 the run failed.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import typing

import click

from curate import __version__
from curate.config import load_config
from curate.config_schema import ConfigError
from curate.fetch_cc import DEFAULT_BASE_URL, FetchSummary
from curate.manifest import ManifestError, load_manifest
from stages.readers.base import Format

if typing.TYPE_CHECKING:
    from curate.runner import RunSummary


def _fail_config(error: ConfigError) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(2)


INPUT_FORMATS = list(typing.get_args(Format))

INPUTS_FROM_HELP = (
    "Take the inputs from FILE instead of the config's input.paths: an inputs.json written by "
    "`curate fetch-cc` (every file in it must be complete) or a text file with one path per line. "
    "Relative paths resolve against FILE's folder."
)


def _inputs_from(path: str) -> list[str]:
    """The files listed in ``path``, absolute and glob-escaped, as load_config's input_override
    (which expands globs): a name containing [ ] * ? stays one literal file."""
    import glob

    from curate.fetch_cc import InputListError, read_input_list

    try:
        return [glob.escape(p) for p in read_input_list(path)]
    except InputListError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="curate")
@click.option("-v", "--verbose", is_flag=True, help="Log every task, not just phases.")
def cli(verbose: bool) -> None:
    """Curate web crawls into clean, deduplicated pretraining data (Chinese first)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="PATH_OR_GLOB",
    help="Input files or globs, replacing the config's input.paths (repeatable).",
)
@click.option("--inputs-from", metavar="FILE", help=INPUTS_FROM_HELP)
@click.option(
    "--format",
    "input_format",
    type=click.Choice(INPUT_FORMATS),
    help="Input format, replacing the config's input.format; stages that need HTML are left out for text formats.",
)
@click.option("--output", metavar="DIR", help="Output folder (or s3://... URI), replacing the config's output.path.")
@click.option(
    "--address",
    metavar="ADDR",
    help="Ray cluster to run on (auto, ray://host:10001, host:port). Default: $RAY_ADDRESS, else a local Ray.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Parallel tasks (default: one per CPU).")
@click.option(
    "--executor",
    type=click.Choice(["ray", "local"]),
    help="Where tasks run, replacing the config's run.executor: Ray, or one after the other in this process.",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Delete what earlier runs wrote in the output folder first instead of resuming completed units.",
)
@click.option(
    "--profile",
    is_flag=True,
    help="Also write OUT/profile.txt: CPU and wall time per stage, per document and as a share.",
)
def run(
    config: str,
    inputs: tuple[str, ...],
    inputs_from: str | None,
    input_format: str | None,
    output: str | None,
    address: str | None,
    workers: int | None,
    executor: str | None,
    fresh: bool,
    profile: bool,
) -> None:
    """Run the pipeline in CONFIG and write Parquet shards plus manifest.json.

    Re-running the same config resumes: inputs whose units completed are skipped.
    """
    from curate.output_folder import OutputRefused
    from curate.runner import RunError, run_pipeline

    if inputs and inputs_from:
        raise click.UsageError("give either --input or --inputs-from, not both")
    override = _inputs_from(inputs_from) if inputs_from else list(inputs) or None
    try:
        pipeline = load_config(config, input_override=override, output_override=output, format_override=input_format)
    except ConfigError as error:
        _fail_config(error)
    try:
        summary = run_pipeline(pipeline, address=address, workers=workers, fresh=fresh, executor=executor)
    except OutputRefused as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    except (RunError, ManifestError, OSError) as error:
        click.echo(f"error: run failed: {error}", err=True)
        sys.exit(1)
    except Exception as error:
        # Ray's own failures (a raylet or the cluster gone) end the run as loudly as ours.
        if type(error).__module__.startswith("ray."):
            click.echo(f"error: run failed: Ray: {type(error).__name__}: {str(error)[:2000]}", err=True)
            sys.exit(1)
        raise
    _print_summary(summary)
    if profile:
        from curate.inspect_manifest import profile_table

        path = os.path.join(pipeline.local_output, "profile.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(profile_table(summary.manifest) + "\n")
        click.echo(f"profile: {path}")


def _print_summary(summary: RunSummary) -> None:
    manifest = summary.manifest
    failed = [i for i in manifest["inputs"] if i["status"] == "failed"]
    empty = [i["path"] for i in manifest["inputs"] if i.get("note") and i["status"] != "failed"]
    stages = manifest["stages"]
    notes = f"; {len(failed)} of {len(manifest['inputs'])} inputs failed (listed below)" if failed else ""
    click.echo(
        f"{stages[0]['docs_in']} records in, {manifest['outputs']['rows']} documents out, "
        f"{len(manifest['outputs']['shards'])} shards in {manifest['seconds']:.1f} s{notes}; "
        f"manifest: {summary.manifest_path}"
    )
    for item in failed:
        click.echo(f"warning: input failed and was skipped: {item['path']}: {item.get('error', '')[:300]}", err=True)
    for path in empty:
        click.echo(f"warning: input holds no records: {path}", err=True)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--inputs-from", metavar="FILE", help=INPUTS_FROM_HELP)
@click.option(
    "--format",
    "input_format",
    type=click.Choice(INPUT_FORMATS),
    help="Input format, replacing the config's input.format.",
)
def validate(config: str, inputs_from: str | None, input_format: str | None) -> None:
    """Check CONFIG (keys, types, ranges, stages, inputs) without running anything."""
    try:
        pipeline = load_config(
            config, input_override=_inputs_from(inputs_from) if inputs_from else None, format_override=input_format
        )
    except ConfigError as error:
        _fail_config(error)
    from curate.output_folder import OutputRefused, check_output

    try:
        check_output(pipeline.local_output, pipeline.inputs)
    except OutputRefused as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    for skipped in pipeline.skipped_stages:
        click.echo(f"note: stage {skipped['stage']} left out: {skipped['reason']}")
    stage_names = ", ".join(spec.name for spec in pipeline.stages)
    click.echo(
        f"{config}: ok ({len(pipeline.inputs)} input files; stages: {stage_names}; output: {pipeline.output.path})"
    )
    for spec in pipeline.stages:
        if spec.name == "minhash_dedup":
            from stages.minhash import describe_bands

            click.echo(f"minhash_dedup: {describe_bands(spec.config.parameters())}")


def _manifest_or_exit(out: str) -> dict:
    """OUT's manifest, checked against manifests/schema.json: a folder can be edited by anyone who
    can write to it, so a manifest that is not JSON, not an object or off the schema is one
    ``error:`` line naming the file and the JSON path, and exit 2."""
    try:
        return load_manifest(out)
    except ManifestError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)


def _refuse(out: str, error: Exception) -> typing.NoReturn:
    """Exit 2 for a file of OUT that is not read: outside the folder, missing, or not its table."""
    from curate.untrusted import shown

    click.echo(f"error: {shown(out, 200)}: {shown(str(error), 400)}", err=True)
    sys.exit(2)


@cli.command()
@click.argument("out", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON, for programs.")
def inspect(out: str, as_json: bool) -> None:
    """Print the manifest of output folder OUT as tables: funnel, drops, inputs, shards."""
    from curate.inspect_manifest import render

    manifest = _manifest_or_exit(out)
    click.echo(json.dumps(manifest, indent=2, ensure_ascii=False) if as_json else render(manifest))


@cli.command()
@click.argument("out", type=click.Path())
@click.option("--reason", default=None, help="Only this drop reason, e.g. quality.short_text (see `curate inspect`).")
@click.option("--kept", is_flag=True, help="Kept documents instead of dropped ones.")
@click.option(
    "-n", "count", type=click.IntRange(1, 10_000), default=5, show_default=True, help="Documents per reason."
)
@click.option("--seed", type=int, default=None, help="Draw another sample (default: the run's sample_seed).")
@click.option("--format", "output_format", type=click.Choice(["text", "jsonl"]), default="text", show_default=True)
def sample(out: str, reason: str | None, kept: bool, count: int, seed: int | None, output_format: str) -> None:
    """Print sampled documents of OUT, dropped (by reason) or kept, collected during the run."""
    from curate.samples import KEPT, draw, read_samples
    from curate.untrusted import UnsafeOutput, shown

    manifest = _manifest_or_exit(out)
    if "samples" not in manifest:
        click.echo(f"error: {out} has no samples (output.samples_per_reason was 0)", err=True)
        sys.exit(2)
    try:
        rows = read_samples(out, manifest["samples"])
    except UnsafeOutput as error:
        _refuse(out, error)
    reasons = sorted({r["reason"] for r in rows} - {KEPT})
    if kept:
        wanted = [KEPT]
    elif reason is not None:
        if reason not in reasons:
            listed = shown(", ".join(reasons), 2000)
            click.echo(f"error: no samples for reason {reason!r} (reasons with samples: {listed})", err=True)
            sys.exit(2)
        wanted = [reason]
    else:
        wanted = reasons
    seed = manifest["config"]["output"].get("sample_seed", 0) if seed is None else seed
    for name in wanted:
        for row in draw([r for r in rows if r["reason"] == name], count, seed):
            row.pop("priority")
            click.echo(json.dumps(row, ensure_ascii=False) if output_format == "jsonl" else _sample_text(row))


def _sample_text(row: dict[str, typing.Any]) -> str:
    """A sampled document for a terminal: crawled strings cut and with their control and bidi
    characters shown as code points (an ESC in a page must not drive the terminal)."""
    from curate.untrusted import shown

    value = "" if row["value"] is None else f"  value {row['value']:.4g}"
    lines = [f"== {shown(row['reason'] or '', 200)}  ({shown(row['stage'] or '', 200)}){value}  "]
    lines[0] += shown(row["url"] or row["id"] or "", 300)
    if row["evidence"]:
        lines.append(f"evidence: {shown(row['evidence'], 300)}")
    if row["kept_id"]:
        lines.append(f"kept instead: {shown(row['kept_id'], 300)}")
    text = row["text"] or ""
    lines.append(shown(text[:800]) + (" …" if len(text) > 800 else ""))
    return "\n".join(lines) + "\n"


@cli.command()
@click.argument("out", type=click.Path())
@click.option(
    "-n",
    "per_reason",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="Sampled documents shown per reason.",
)
@click.option("--seed", type=int, default=None, help="Draw other samples (default: the run's sample_seed).")
@click.option("--open", "open_browser", is_flag=True, help="Open the report in a browser.")
def report(out: str, per_reason: int, seed: int | None, open_browser: bool) -> None:
    """Write OUT/report.html: funnel, drops, signal histograms, samples, clusters, quarantine, domains."""
    from curate.report import write_report
    from curate.untrusted import UnsafeOutput

    manifest = _manifest_or_exit(out)
    try:
        path = write_report(out, manifest, per_reason, seed)
    except (UnsafeOutput, OSError) as error:
        _refuse(out, error)
    click.echo(f"report: {path}")
    if open_browser:
        import webbrowser

        from curate.storage import is_uri

        if is_uri(path):
            click.echo("error: --open needs a local output folder", err=True)
            sys.exit(2)

        webbrowser.open(f"file://{os.path.abspath(path)}")


@cli.command()
@click.argument("out", type=click.Path())
def card(out: str) -> None:
    """Write OUT/README.md: a Hugging Face dataset card from OUT/manifest.json alone (sources, funnel,
    every stage's thresholds, drops, screens, dedup, how to reproduce). `curate verify` checks that it
    names the current manifest."""
    from curate.card import CardRefused, write_card
    from curate.manifest import read_manifest
    from curate.untrusted import UnsafeOutput

    try:
        manifest, digest = read_manifest(out)
    except ManifestError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    try:
        path = write_card(out, manifest, digest)
    except (CardRefused, UnsafeOutput, OSError) as error:
        _refuse(out, error)
    click.echo(f"card: {path}")


@cli.command()
@click.argument("out", type=click.Path())
def verify(out: str) -> None:
    """Re-hash every shard of OUT against its manifest; check rows, schema, stray files, and that a
    dataset card (README.md) names this manifest. Exit 1 on any mismatch, 2 when the manifest is
    missing or off the schema."""
    from curate.verify import listed_files
    from curate.verify import verify as verify_output

    manifest = _manifest_or_exit(out)
    problems = verify_output(out, manifest)
    for problem in problems:
        click.echo(problem)
    files = len(listed_files(manifest))
    if problems:
        click.echo(f"{len(problems)} mismatches in {out}", err=True)
        sys.exit(1)
    click.echo(f"{out}: {files} files, {manifest['outputs']['rows']} rows match the manifest")


@cli.command("fetch-cc")
@click.option("--crawl", required=True, metavar="CC-MAIN-YYYY-WW", help="The crawl, e.g. CC-MAIN-2024-10.")
@click.option(
    "--segments",
    type=click.IntRange(min=1),
    metavar="N",
    help="Download the first N WARC files of the crawl's list (of those --select picks, if given).",
)
@click.option(
    "--select",
    multiple=True,
    metavar="INDEX|TEXT",
    help="Pick files by 0-based index in warc.paths.gz (a whole number) or all whose path contains TEXT "
    "(anything else), e.g. a segment id. Repeatable; the union is taken, in list order.",
)
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False), metavar="DIR", help="Download folder.  [default: cc/CRAWL]"
)
@click.option(
    "--base-url", default=DEFAULT_BASE_URL, show_default=True, metavar="URL", help="Where crawl-data/ is served."
)
@click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    metavar="K",
    help="Files downloaded at once.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 1000),
    default=5,
    show_default=True,
    metavar="N",
    help="Retries of a file after consecutive failed attempts; an attempt that adds bytes resets the count.",
)
@click.option(
    "--backoff",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait before the first retry; doubles per retry, with random jitter (half to all of it).",
)
@click.option(
    "--max-backoff",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="Longest single wait, a server's Retry-After included.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.001),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Socket timeout for connecting and for each read.",
)
@click.option(
    "--languages",
    metavar="CODES",
    help="Fetch only the records whose CLD2 content_languages in Common Crawl's columnar index name one of "
    "these ISO 639-3 codes (comma-separated, e.g. zho), as one mini-WARC per source WARC file.",
)
@click.option(
    "--domain",
    "domains",
    multiple=True,
    metavar="DOMAIN",
    help="With --languages: only these registered domains (url_host_registered_domain, e.g. 163.com). Repeatable.",
)
@click.option(
    "--url-prefix",
    "url_prefixes",
    multiple=True,
    metavar="PREFIX",
    help="With --languages: only URLs starting with PREFIX. Repeatable.",
)
@click.option(
    "--index-parts",
    type=click.IntRange(min=1),
    metavar="N",
    help="With --languages: query only the first N Parquet files of the index (a trial; ~300 make a crawl).",
)
@click.option(
    "--max-gap",
    type=click.IntRange(min=0),
    default=64 * 1024,  # cc_index.DEFAULT_MAX_GAP, whose module would load pyarrow.dataset at start
    show_default=True,
    metavar="BYTES",
    help="With --languages: records at most this far apart in a WARC file come in one Range request.",
)
@click.option(
    "--audit",
    type=click.IntRange(min=1),
    metavar="N",
    help="With --languages: also download the first N WARC files whole (into DIR/audit), run curate's "
    "language pre-pass on them and report the pages the index's language field missed "
    "(DIR/audit/report.json).",
)
def fetch_cc(
    crawl: str,
    segments: int | None,
    select: tuple[str, ...],
    out_dir: str | None,
    base_url: str,
    parallel: int,
    retries: int,
    backoff: float,
    max_backoff: float,
    timeout: float,
    **records: typing.Any,
) -> None:
    """Download Common Crawl WARC files and write DIR/inputs.json for `curate run --inputs-from`.

    Reads crawl-data/CRAWL/warc.paths.gz from --base-url (kept as DIR/CRAWL.warc.paths.gz),
    then downloads the files chosen by --segments and/or --select into DIR, under their own
    names. Examples:

    \b
      curate fetch-cc --crawl CC-MAIN-2024-10 --segments 4
      curate fetch-cc --crawl CC-MAIN-2024-10 --select 0 --select 17 --select 1707947473347.0
      curate fetch-cc --crawl CC-MAIN-2024-10 --languages zho --segments 100
      curate run configs/zh_web.yaml --inputs-from cc/CC-MAIN-2024-10/inputs.json

    Resumable: bytes go to NAME.part and a later attempt or run asks for the rest with an
    HTTP Range request (a server that ignores Range restarts the file). 5xx, 429 (Retry-After
    honoured), timeouts and dropped connections are retried with exponential backoff; a 404
    or other 4xx fails the file at once. Before NAME.part becomes NAME its size must match
    the server's (Content-Length, or the Content-Range total) and its MD5 any checksum the
    server gives: a strong ETag of 32 hex digits (S3's ETag of a single-part upload is the
    file's MD5; multipart "...-N" ETags are no checksum) or Content-MD5; a mismatch deletes
    the part and retries. Files already complete are skipped, so re-running the same command
    finishes an interrupted job.

    DIR/inputs.json lists the crawl, the base URL and per file its url, path (relative to
    DIR), bytes, md5 (and its source), etag, attempts, status (complete, failed or pending)
    and error. It is rewritten as files finish (at most every 2 s) and at the end.

    Progress goes to stderr: a bar on a terminal, else one line per event plus a summary
    every 10 s. Exit codes: 0 all files complete, 1 some failed (listed), 2 usage error.

    With --languages: only the records Common Crawl's columnar index selects (all of the crawl,
    or of the files --segments/--select choose), one NAME.CODES.warc.gz of their original bytes
    per source file, and NAME.CODES.records.jsonl mapping its offsets to the source's (README).
    """
    from curate.fetch_cc import RetryPolicy

    policy = RetryPolicy(retries=retries, backoff=backoff, max_backoff=max_backoff, timeout=timeout)
    common = {"out_dir": out_dir or os.path.join("cc", crawl), "segments": segments, "select": select}
    common.update(base_url=base_url, parallel=parallel, policy=policy)
    if records["languages"] is not None:
        _fetch_records_command(crawl, common, **records)
        return
    if records["domains"] or records["url_prefixes"] or records["index_parts"] is not None or records["audit"]:
        raise click.UsageError("--domain, --url-prefix, --index-parts and --audit go with --languages")
    _check_fetch_choice(crawl, segments, select)
    _report_fetch(crawl, _fetch_or_exit(crawl, **common))


def _fetch_records_command(
    crawl: str,
    common: dict[str, typing.Any],
    languages: str,
    domains: tuple[str, ...],
    url_prefixes: tuple[str, ...],
    index_parts: int | None,
    max_gap: int,
    audit: int | None,
) -> None:
    """fetch-cc --languages: check the options, fetch, report (exits like fetch-cc)."""
    codes = [code.strip() for code in languages.split(",") if code.strip()]
    if not codes:
        raise click.UsageError("--languages takes ISO 639-3 codes like zho (comma-separated)")
    if audit and (domains or url_prefixes):
        raise click.UsageError("--audit compares whole files: not with --domain or --url-prefix")
    if audit:
        from curate.cc_audit import prefilter_languages

        try:
            prefilter_languages(codes)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--languages") from None
    summary = _fetch_or_exit(
        crawl,
        records=True,
        languages=codes,
        domains=list(domains),
        url_prefixes=list(url_prefixes),
        index_parts=index_parts,
        max_gap=max_gap,
        audit=audit,
        **common,
    )
    if summary.audit is not None:
        _report_audit(summary.audit)
    _report_fetch(crawl, summary)


def _check_fetch_choice(crawl: str, segments: int | None, select: tuple[str, ...]) -> None:
    """Usage errors fetch-cc can tell before it asks the network for the listing."""
    from curate.fetch_cc import SelectionError, check_crawl

    try:
        check_crawl(crawl)
    except SelectionError as error:
        raise click.BadParameter(str(error), param_hint="--crawl") from None
    if segments is None and not select:
        raise click.UsageError(
            "give --segments N and/or --select (a crawl lists tens of thousands of ~1 GB WARC files)"
        )


def _fetch_or_exit(crawl: str, records: bool = False, **options: typing.Any) -> FetchSummary:
    """fetch_crawl's (or with ``records`` fetch_records') FetchSummary; a selection the listing does
    not fit is a usage error, a listing or index that cannot be had exits 1."""
    from curate.fetch_cc import FetchError, SelectionError, check_crawl, fetch_crawl
    from curate.fetch_records import fetch_records

    try:
        if records:
            check_crawl(crawl)
        return (fetch_records if records else fetch_crawl)(crawl, **options)
    except SelectionError as error:
        raise click.UsageError(str(error)) from None
    except FetchError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)


def _report_audit(report: dict[str, typing.Any]) -> None:
    """The audit's totals and the pages the index missed, in a few lines."""
    totals = report["totals"]
    saved = "n/a" if totals["bandwidth_saved"] is None else f"{totals['bandwidth_saved']:.1%}"
    recall = "n/a" if totals["recall"] is None else f"{totals['recall']:.1%}"
    click.echo(
        f"audit: {totals['files']} whole files, {totals['pages']} pages; curate's pre-pass keeps "
        f"{totals['curate_selected']}, the index selects {totals['index_selected']}, both {totals['both']}: "
        f"recall {recall}, {totals['missed']} missed; the selected records are "
        f"{totals['bytes_selected']} of {totals['bytes_whole']} bytes (bandwidth saved {saved})"
    )
    if not report["complete_index"]:
        click.echo("audit: only --index-parts of the index was queried: records in the rest count as missed", err=True)
    for file in report["files"]:
        for page in file["missed"][:20]:
            click.echo(f"audit: missed {page['url']} ({file['source']} at {page['offset']})")
    for failed in report["failed"]:
        click.echo(f"audit: not audited, download failed: {failed['url']}: {failed['error']}", err=True)
    click.echo(f"audit: report {report['report']}")


def _report_fetch(crawl: str, summary: FetchSummary) -> None:
    """Print what a FetchSummary says; exit 1 unless every file is complete."""
    results = summary.results
    complete = [r for r in results if r.status == "complete"]
    fetched = sum(r.bytes or 0 for r in complete if r.attempts)
    click.echo(
        f"{crawl}: {len(complete)} of {len(results)} files complete "
        f"({sum(1 for r in complete if not r.attempts)} already there, {fetched} bytes downloaded); "
        f"manifest: {summary.manifest_path}"
    )
    failed = [r for r in results if r.status == "failed"]
    for result in failed:
        where = "" if result.url in (result.error or "") else f"{result.url}: "  # errors mostly name it
        click.echo(f"failed: {where}{result.error}", err=True)
    pending = len(results) - len(complete) - len(failed)
    if summary.interrupted:
        click.echo(f"interrupted: {pending} file(s) not finished; re-run the same command to resume", err=True)
    if failed:
        click.echo(f"error: {len(failed)} file(s) failed; re-run the same command to retry them", err=True)
    if failed or pending:
        sys.exit(1)


@cli.command("train-quality")
@click.option(
    "--positive",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="Files of good documents (repeatable): .txt (one per line), .jsonl (text field), .parquet (text column); "
    ".gz/.zst allowed.",
)
@click.option(
    "--negative",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="Files of bad documents (repeatable), same formats.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the model (.bin, or .ftz to quantize).",
)
@click.option(
    "--holdout",
    type=click.FloatRange(0.01, 0.5),
    default=0.1,
    show_default=True,
    help="Share of each class held back for evaluation.",
)
@click.option("--epoch", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def train_quality(
    positive: tuple[str, ...], negative: tuple[str, ...], out: str, holdout: float, epoch: int, seed: int
) -> None:
    """Train a fastText quality classifier for the quality_model stage and print held-back precision/recall."""
    from curate.quality_training import TrainingError, train_quality_model

    try:
        result = train_quality_model(list(positive), list(negative), out, holdout=holdout, epoch=epoch, seed=seed)
    except TrainingError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    click.echo(
        f"trained on {result.train_positive} good / {result.train_negative} bad documents; "
        f"held back {result.test_positive} / {result.test_negative}"
    )
    click.echo(
        f"precision {result.precision:.3f}  recall {result.recall:.3f}  accuracy {result.accuracy:.3f}  (label hq)"
    )
    click.echo(f"model: {out}")


def main() -> None:
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    cli()


if __name__ == "__main__":
    main()
