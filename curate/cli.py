"""The ``curate`` command line.

Exit codes: 0 success, 2 bad usage or config (nothing written), 1 the run failed.
"""

from __future__ import annotations

import logging
import json
import os
import sys

import click

from curate import __version__
from curate.config import load_config
from curate.config_schema import ConfigError
from curate.manifest import ManifestError, load_manifest


def _fail_config(error: ConfigError) -> None:
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
@click.option("--input", "inputs", multiple=True, metavar="PATH_OR_GLOB", help="Input files or globs, replacing the config's input.paths (repeatable).")
@click.option("--output", metavar="DIR", help="Output folder, replacing the config's output.path.")
@click.option("--address", metavar="ADDR", help="Ray cluster to run on (auto, ray://host:10001, host:port). Default: $RAY_ADDRESS, else a local Ray.")
@click.option("--workers", type=click.IntRange(min=1), help="Parallel tasks (default: one per CPU).")
@click.option("--fresh", is_flag=True, help="Delete the output folder first instead of resuming completed units.")
@click.option("--profile", is_flag=True, help="Also write OUT/profile.txt: CPU and wall time per stage, per document and as a share.")
def run(config: str, inputs: tuple[str, ...], output: str | None, address: str | None, workers: int | None, fresh: bool, profile: bool) -> None:
    """Run the pipeline in CONFIG and write Parquet shards plus manifest.json.

    Re-running the same config resumes: inputs whose units completed are skipped.
    """
    from curate.runner import RunError, run_pipeline

    try:
        pipeline = load_config(config, input_override=list(inputs) or None, output_override=output)
    except ConfigError as error:
        _fail_config(error)
    try:
        summary = run_pipeline(pipeline, address=address, workers=workers, fresh=fresh)
    except (RunError, ManifestError, OSError) as error:
        click.echo(f"error: run failed: {error}", err=True)
        sys.exit(1)
    manifest = summary.manifest
    failed = [i["path"] for i in manifest["inputs"] if i["status"] == "failed"]
    stages = manifest["stages"]
    click.echo(
        f"{stages[0]['docs_in']} records in, {manifest['outputs']['rows']} documents out, "
        f"{len(manifest['outputs']['shards'])} shards in {manifest['seconds']:.1f} s; manifest: {summary.manifest_path}"
    )
    for path in failed:
        click.echo(f"warning: input failed and was skipped: {path}", err=True)
    if profile:
        from curate.inspect_manifest import profile_table

        path = os.path.join(pipeline.output.path, "profile.txt")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(profile_table(manifest) + "\n")
        click.echo(f"profile: {path}")


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
def validate(config: str) -> None:
    """Check CONFIG (keys, types, ranges, stages, inputs) without running anything."""
    try:
        pipeline = load_config(config)
    except ConfigError as error:
        _fail_config(error)
    stage_names = ", ".join(spec.name for spec in pipeline.stages)
    click.echo(f"{config}: ok ({len(pipeline.inputs)} input files; stages: {stage_names}; output: {pipeline.output.path})")
    for spec in pipeline.stages:
        if spec.name == "minhash_dedup":
            from stages.minhash_dedup import describe_bands

            click.echo(f"minhash_dedup: {describe_bands(spec.config.parameters())}")


def _manifest_or_exit(out: str) -> dict:
    try:
        return load_manifest(out)
    except ManifestError as error:
        click.echo(f"error: {error}", err=True)
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
@click.option("-n", "count", type=click.IntRange(1, 10_000), default=5, show_default=True, help="Documents per reason.")
@click.option("--seed", type=int, default=None, help="Draw another sample (default: the run's sample_seed).")
@click.option("--format", "output_format", type=click.Choice(["text", "jsonl"]), default="text", show_default=True)
def sample(out: str, reason: str | None, kept: bool, count: int, seed: int | None, output_format: str) -> None:
    """Print sampled documents of OUT, dropped (by reason) or kept, collected during the run."""
    import pyarrow.parquet as pq

    from curate.samples import KEPT, draw

    manifest = _manifest_or_exit(out)
    if "samples" not in manifest:
        click.echo(f"error: {out} has no samples (output.samples_per_reason was 0)", err=True)
        sys.exit(2)
    rows = pq.read_table(os.path.join(out, manifest["samples"]["path"])).to_pylist()
    reasons = sorted({r["reason"] for r in rows} - {KEPT})
    if kept:
        wanted = [KEPT]
    elif reason is not None:
        if reason not in reasons:
            click.echo(f"error: no samples for reason {reason!r} (reasons with samples: {', '.join(reasons)})", err=True)
            sys.exit(2)
        wanted = [reason]
    else:
        wanted = reasons
    seed = manifest["config"]["output"]["sample_seed"] if seed is None else seed
    for name in wanted:
        for row in draw([r for r in rows if r["reason"] == name], count, seed):
            row.pop("priority")
            if output_format == "jsonl":
                click.echo(json.dumps(row, ensure_ascii=False))
                continue
            value = "" if row["value"] is None else f"  value {row['value']:.4g}"
            click.echo(f"== {row['reason']}  ({row['stage']}){value}  {row['url'] or row['id']}")
            if row["evidence"]:
                click.echo(f"evidence: {row['evidence']}")
            if row["kept_id"]:
                click.echo(f"kept instead: {row['kept_id']}")
            text = row["text"] or ""
            click.echo(text[:800] + (" …" if len(text) > 800 else ""))
            click.echo("")


@cli.command()
@click.argument("out", type=click.Path())
@click.option("-n", "per_reason", type=click.IntRange(1, 1000), default=20, show_default=True, help="Sampled documents shown per reason.")
@click.option("--seed", type=int, default=None, help="Draw other samples (default: the run's sample_seed).")
@click.option("--open", "open_browser", is_flag=True, help="Open the report in a browser.")
def report(out: str, per_reason: int, seed: int | None, open_browser: bool) -> None:
    """Write OUT/report.html: funnel, drops, signal histograms, samples, clusters, quarantine, domains."""
    from curate.report import write_report

    manifest = _manifest_or_exit(out)
    path = write_report(out, manifest, per_reason, seed)
    click.echo(f"report: {path}")
    if open_browser:
        import webbrowser

        webbrowser.open(f"file://{os.path.abspath(path)}")


@cli.command()
@click.argument("out", type=click.Path())
def verify(out: str) -> None:
    """Re-hash every shard of OUT against its manifest; check rows and schema. Exit 1 on any mismatch."""
    from curate.verify import verify as verify_output

    manifest = _manifest_or_exit(out)
    problems = verify_output(out, manifest)
    for problem in problems:
        click.echo(problem)
    files = len(manifest["outputs"]["shards"]) + len(manifest.get("quarantine", {}).get("files", [])) + ("samples" in manifest)
    if problems:
        click.echo(f"{len(problems)} mismatches in {out}", err=True)
        sys.exit(1)
    click.echo(f"{out}: {files} files, {manifest['outputs']['rows']} rows match the manifest")


@cli.command("train-quality")
@click.option("--positive", multiple=True, required=True, type=click.Path(dir_okay=False), help="Files of good documents (repeatable): .txt (one per line), .jsonl (text field), .parquet (text column); .gz/.zst allowed.")
@click.option("--negative", multiple=True, required=True, type=click.Path(dir_okay=False), help="Files of bad documents (repeatable), same formats.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="Where to write the model (.bin, or .ftz to quantize).")
@click.option("--holdout", type=click.FloatRange(0.01, 0.5), default=0.1, show_default=True, help="Share of each class held back for evaluation.")
@click.option("--epoch", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
def train_quality(positive: tuple[str, ...], negative: tuple[str, ...], out: str, holdout: float, epoch: int, seed: int) -> None:
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
    click.echo(f"precision {result.precision:.3f}  recall {result.recall:.3f}  accuracy {result.accuracy:.3f}  (label hq)")
    click.echo(f"model: {out}")


def main() -> None:
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    cli()


if __name__ == "__main__":
    main()
