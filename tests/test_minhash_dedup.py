"""MinHash near-duplicate removal: shingles, signatures, LSH, components, keep policy, phases on Ray."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO, peoples_daily_documents
from near_duplicates import near_duplicate_set

from curate.config import load_config
from curate.global_stage import GlobalJob, decisions_path
from curate.inspect_manifest import render
from curate.runner import run_pipeline
from curate.shuffle import part_name
from curate.warc_writer import write_response
from curate.workdir import write_parquet_atomically
from stages.minhash import MinHashDedup, MinHashDedupConfig, exact_jaccard, phases
from stages.minhash.signatures import (
    MinHasher,
    band_keys,
    bands_for_threshold,
    char_shingles,
    collision_probability,
    normalise,
)


def brute_signature(hasher: MinHasher, shingles: np.ndarray) -> np.ndarray:
    """One permutation at a time, as the definition says."""
    values = []
    for a, b in zip(hasher.a.tolist(), hasher.b.tolist()):
        values.append(min(((a * int(x) + b) % 2**64) >> 32 for x in shingles.tolist()))
    return np.array(values, dtype=np.uint32)


def test_normalisation_folds_width_case_punctuation_and_script() -> None:
    assert normalise("這是，ＡＢＣ  測試！\n") == "这是abc测试"
    assert normalise("這是測試", fold_traditional=False) == "這是測試"
    assert normalise("气温 25℃。") == "气温25"  # symbols go before their compatibility forms could spell letters


def test_short_texts_are_one_shingle_and_empty_texts_none() -> None:
    assert len(char_shingles("你好", 5)) == 1
    assert len(char_shingles("你好世界啊", 5)) == 1
    assert len(char_shingles("你好世界啊呀", 5)) == 2
    assert len(char_shingles("", 5)) == 0


def test_vectorised_signatures_equal_the_definition() -> None:
    hasher = MinHasher(16, seed=3)
    texts = peoples_daily_documents(12)
    # Many small documents and one longer than a hashing chunk (16,384 shingles).
    sets = [char_shingles(normalise(t), 5) for t in texts] + [
        np.arange(40_000, dtype=np.uint32) * np.uint32(2654435761)
    ]
    signatures = hasher.signatures(sets)
    for shingles, signature in zip(sets[:3] + sets[-1:], np.concatenate([signatures[:3], signatures[-1:]])):
        assert np.array_equal(signature, brute_signature(hasher, shingles))


def test_signature_agreement_estimates_jaccard() -> None:
    hasher = MinHasher(112, seed=1)
    originals = peoples_daily_documents(30)
    errors = []
    for copy in near_duplicate_set(originals, 2, seed=5):
        a, b = char_shingles(normalise(originals[copy.original]), 5), char_shingles(normalise(copy.text), 5)
        estimate = float((hasher.signatures([a])[0] == hasher.signatures([b])[0]).mean())
        errors.append(abs(estimate - exact_jaccard(a, b)))
    assert np.mean(errors) < 0.04 and max(errors) < 0.2


def test_band_layout_and_s_curve() -> None:
    assert collision_probability(0.8, 14, 8) == pytest.approx(0.9235, abs=1e-4)
    assert collision_probability(0.5, 14, 8) == pytest.approx(0.0533, abs=1e-4)
    bands, rows = bands_for_threshold(0.8, 112)
    assert bands * rows <= 112 and collision_probability(0.9, bands, rows) > 0.8 > collision_probability(
        0.7, bands, rows
    )
    assert MinHashDedupConfig(threshold=0.8).band_layout() == (bands, rows)
    signatures = np.tile(np.arange(112, dtype=np.uint32), (2, 1))
    signatures[1, 8:] += 1  # only the first band agrees
    keys = band_keys(signatures, 14, 8)
    assert keys[0, 0] == keys[1, 0] and (keys[0, 1:] != keys[1, 1:]).all()
    assert (
        len(set(band_keys(np.zeros((1, 112), np.uint32), 14, 8)[0].tolist())) == 14
    )  # bands never collide with each other


def random_graph(rng: random.Random, nodes: int, edges: int) -> tuple[np.ndarray, np.ndarray]:
    src = np.array([rng.randrange(nodes) for _ in range(edges)], dtype=np.int64) * 7 + 3
    dst = np.array([rng.randrange(nodes) for _ in range(edges)], dtype=np.int64) * 7 + 3
    return src, dst


def python_components(src: np.ndarray, dst: np.ndarray) -> dict[int, int]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(src.tolist(), dst.tolist()):
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def test_array_union_find_labels_components_by_their_smallest_node() -> None:
    rng = random.Random(1)
    for nodes, edges in ((10, 4), (200, 150), (2000, 1900), (500, 3000)):
        src, dst = random_graph(rng, nodes, edges)
        labelled, labels = phases.component_labels(src, dst)
        assert dict(zip(labelled.tolist(), labels.tolist())) == python_components(src, dst)
    chain = np.arange(1000, dtype=np.int64)  # a long path: the worst case for label propagation
    assert set(phases.component_labels(chain[1:], chain[:-1])[1].tolist()) == {0}


def test_distributed_propagation_equals_the_local_union_find(tmp_path: Path) -> None:
    rng = random.Random(2)
    src, dst = random_graph(rng, 3000, 2500)
    chain = np.arange(100_000, 100_060, dtype=np.int64)  # apart from the random graph's nodes
    src, dst = np.concatenate([src, chain[1:]]), np.concatenate([dst, chain[:-1]])
    partitions = 4
    for p in range(partitions):
        mine = phases.node_partition(src, partitions) == p
        write_parquet_atomically(
            pa.table({"src": src[mine], "dst": dst[mine]}, schema=phases.EDGE_SCHEMA),
            str(tmp_path / "edges" / part_name(p)),
        )
    for p in range(partitions):
        phases.adjacency_partition(str(tmp_path), "edges", p, partitions)
    iteration = 0
    while True:
        changed = sum(
            phases.propagation_round(str(tmp_path), p, partitions, iteration)["changed"] for p in range(partitions)
        )
        if iteration > 0 and changed == 0:
            break
        iteration += 1
    assert iteration >= 59  # the 60-node chain needs one round per link
    distributed = {}
    for p in range(partitions):
        phases.publish_labels(str(tmp_path), iteration, p)
        table = pq.read_table(tmp_path / "labels" / part_name(p))
        assert set(phases.node_partition(table.column("node").to_numpy(), partitions).tolist()) <= {p}
        distributed.update(zip(table.column("node").to_pylist(), table.column("label").to_pylist()))
    nodes, labels = phases.component_labels(src, dst)
    assert distributed == dict(zip(nodes.tolist(), labels.tolist()))


def test_candidate_edges_are_stars_from_each_buckets_first_node() -> None:
    keys = np.array([5, 5, 5, 9, 9, 7], dtype=np.uint64)
    nodes = np.array([30, 10, 20, 20, 10, 40], dtype=np.int64)
    src, dst = phases.candidate_edges(keys, nodes)
    assert sorted(zip(src.tolist(), dst.tolist())) == [(10, 20), (10, 30)]


# --- through the pipeline on Ray -----------------------------------------------------------------


def page(title: str, text: str) -> bytes:
    paragraphs = "".join(f"<p>{line}</p>" for line in text.split("\n") if line.strip())
    head = f"<head><meta charset='utf-8'><title>{title}</title></head>"
    return f"<html>{head}<body><article><h1>{title}</h1>{paragraphs}</article></body></html>".encode()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    """Two WARC files of real news: 60 originals, near copies of 20 of them (a kind of edit each,
    spread over both files), and 20 originals without copies."""
    folder = tmp_path_factory.mktemp("near")
    originals = peoples_daily_documents(80, paragraphs=10)
    stage = MinHashDedup(MinHashDedupConfig())
    copies = [c for c in near_duplicate_set(originals[:20], 3, seed=11, strengths=(0.02, 0.05)) if c.edit != "shuffle"]
    truth = []
    with open(folder / "a.warc.gz", "wb") as a, open(folder / "b.warc.gz", "wb") as b:
        for i, text in enumerate(originals):
            write_response(a if i % 2 else b, f"http://news.test/{i}", page(f"新闻{i}", text))
        for k, copy in enumerate(copies):
            write_response(b if k % 2 else a, f"http://mirror.test/{k}", page(f"新闻{copy.original}", copy.text))
            truth.append(
                (copy.original, k, exact_jaccard(stage.shingles(originals[copy.original]), stage.shingles(copy.text)))
            )
    return {"folder": folder, "originals": originals, "copies": copies, "truth": truth}


def config_for(corpus: dict, out: Path, local_phases_max_documents: int = 100_000, **minhash: object):
    text = f"""
name: near
input:
  paths: ["{corpus["folder"]}/*.warc.gz"]
stages:
  - extract: {{}}
  - langid: {{}}
  - minhash_dedup: {json.dumps(minhash)}
output:
  path: {out}
run:
  local_phases_max_documents: {local_phases_max_documents}
"""
    path = out.parent / f"{out.name}.yaml"
    path.write_text(text)
    return load_config(str(path))


def kept_urls(out: Path) -> dict[str, tuple]:
    table = pq.read_table(out / "data")
    return {
        url: (cluster, size)
        for url, cluster, size in zip(
            table.column("url").to_pylist(),
            table.column("dup_cluster_id").to_pylist(),
            table.column("dup_cluster_size").to_pylist(),
        )
    }


def test_near_copies_are_removed_and_distinct_news_kept(ray_session, corpus: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = run_pipeline(config_for(corpus, out, verify=True, partitions=4, local_phases_max_documents=0))
    assert summary.manifest["minhash_dedup"]["phases_in"] == "ray tasks"
    kept = kept_urls(out)
    report = summary.manifest["minhash_dedup"]
    # Every original survives: copies are shorter or equal... unless the copy is longer (insert,
    # boilerplate), and then the copy is the one kept: exactly one of each cluster stays.
    originals_kept = {int(u.rsplit("/", 1)[1]) for u in kept if u.startswith("http://news.test/")}
    assert set(range(20, 80)) <= originals_kept  # originals without copies are never merged
    found = [
        (o, k, j) for o, k, j in corpus["truth"] if not (o in originals_kept and f"http://mirror.test/{k}" in kept)
    ]
    missed = [(o, k, j) for o, k, j in corpus["truth"] if (o, k, j) not in found]
    assert all(j < 0.8 for _, _, j in missed), missed  # every copy at Jaccard >= 0.8 is caught
    assert len(found) >= 0.9 * len(corpus["truth"])
    assert report["documents_removed"] == len(corpus["originals"]) + len(corpus["copies"]) - len(kept)
    assert report["verified_pairs"] <= report["candidate_pairs"]
    assert sum(int(size) * count for size, count in report["cluster_sizes"].items()) == report["components"]["nodes"]
    assert report["parameters"]["candidate_probability"]["0.8"] == pytest.approx(0.9235, abs=1e-4)
    # Kept cluster members carry the cluster; the removed ones are sampled with the kept id.
    clustered = {u: v for u, v in kept.items() if v[0] is not None}
    assert len(clustered) == report["clusters"] and all(size >= 2 for _, size in clustered.values())
    samples = pq.read_table(out / "samples" / "samples.parquet", filters=[("reason", "=", "dedup.minhash")])
    kept_ids = set(pq.read_table(out / "data").column("id").to_pylist())
    assert samples.num_rows > 0 and set(samples.column("kept_id").to_pylist()) <= kept_ids
    stages = {s["name"]: s for s in summary.manifest["stages"]}
    assert stages["minhash_dedup"]["drops"]["dedup.minhash"] == report["documents_removed"]
    shown = render(summary.manifest)
    assert (
        "Near-duplicates (MinHash)" in shown
        and "14 bands x 8 rows of 112 permutations; P(candidate) J=0.5 0.053" in shown
    )


def test_validate_prints_the_band_layout_and_s_curve(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from curate.cli import cli

    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: c\ninput:\n  paths: [{REPO / 'samples' / 'zh_web_sample.warc.gz'}]\n"
        "stages:\n  - extract: {}\n  - minhash_dedup: {threshold: 0.8}\n"
        f"output:\n  path: {tmp_path / 'out'}\n"
    )
    result = CliRunner().invoke(cli, ["validate", str(config)])
    assert result.exit_code == 0
    bands, rows = bands_for_threshold(0.8, 112)
    assert f"minhash_dedup: {bands} bands x {rows} rows of 112 permutations; P(candidate) J=0.5" in result.output


def test_same_result_with_one_or_four_partitions_and_either_component_method(corpus: dict, tmp_path: Path) -> None:
    results = []
    for name, options in (
        ("one", {"partitions": 1}),
        ("four", {"partitions": 4, "local_phases_max_documents": 0}),
        ("distributed", {"partitions": 4, "local_phases_max_documents": 0, "local_components_max_edges": 0}),
    ):
        out = tmp_path / name
        summary = run_pipeline(config_for(corpus, out, **options), executor="local")
        results.append(kept_urls(out))
        report = summary.manifest["minhash_dedup"]
        assert report["components"]["method"] == ("distributed" if name == "distributed" else "local")
        assert report["phases_in"] == "driver"  # every task ran in this process
    assert results[0] == results[1] == results[2]


def test_keep_policy_longest_keeps_the_longer_copy(corpus: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_pipeline(config_for(corpus, out), executor="local")
    table = pq.read_table(out / "data")
    by_cluster: dict[str, list[int]] = {}
    for cluster, text in zip(table.column("dup_cluster_id").to_pylist(), table.column("text").to_pylist()):
        if cluster:
            by_cluster.setdefault(cluster, []).append(len(text))
    assert by_cluster and all(len(lengths) == 1 for lengths in by_cluster.values())  # one survivor per cluster
    samples = pq.read_table(
        out / "samples" / "samples.parquet", filters=[("reason", "=", "dedup.minhash")]
    ).to_pylist()
    kept_text = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))
    assert all(len(kept_text[s["kept_id"]]) >= len(s["text"]) for s in samples)


def test_rerun_after_a_lost_partition_redoes_only_that_partition(corpus: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = config_for(corpus, out, partitions=4, local_phases_max_documents=0)
    run_pipeline(config, executor="local")
    first = kept_urls(out)
    [run] = list((out / "_work" / "runs").iterdir())
    work = run / "pass-0" / "minhash_dedup"
    done = sorted((work / "keepers").glob("part-*.parquet.done.json"))
    lost_record, lost_partition = done[0], done[0].name.split(".")[0]
    lost = sorted((work / "decisions").glob(f"unit-*/{lost_partition}.parquet"))
    others = [p for p in (work / "decisions").glob("unit-*/part-*.parquet") if p not in lost]
    assert lost and others
    for path in lost:
        path.unlink()
    lost_record.unlink()
    before = {p: p.stat().st_mtime_ns for p in others}
    run_pipeline(config, executor="local")
    assert all(path.is_file() for path in lost)
    assert {p: p.stat().st_mtime_ns for p in others} == before
    assert kept_urls(out) == first


def test_traditional_copies_match_only_when_folded_and_word_shingles_work() -> None:
    news = peoples_daily_documents(5)
    copies = [c for c in near_duplicate_set(news, 6, seed=3) if c.edit == "traditional"]
    assert copies
    folded, plain = MinHashDedup(MinHashDedupConfig()), MinHashDedup(MinHashDedupConfig(fold_traditional=False))
    words = MinHashDedup(MinHashDedupConfig(shingle="word", ngram=3))
    for copy in copies:
        original = news[copy.original]
        assert exact_jaccard(folded.shingles(original), folded.shingles(copy.text)) > 0.9
        assert exact_jaccard(plain.shingles(original), plain.shingles(copy.text)) < 0.5
        assert exact_jaccard(words.shingles(original), words.shingles(copy.text)) > 0.8
    assert exact_jaccard(words.shingles(news[0]), words.shingles(news[1])) < 0.05


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        ("longest", {1: 20, 2: 40}),  # node 20 and 40 are longest; node 40 ties with 50 and wins by input order
        ("highest_quality", {1: 30, 2: 50}),  # quality first; a missing quality never wins
        ("earliest", {1: 10, 2: 40}),  # fetch time first; nulls last
    ],
)
def test_keep_policies_and_their_tie_breaks(tmp_path: Path, keep: str, expected: dict[int, int]) -> None:
    members = pa.table(
        {
            "node": [10, 20, 30, 40, 50, 60],
            "label": [10, 10, 10, 40, 40, 40],
            "id": ["a", "b", "c", "d", "e", "f"],
            "length": [100, 300, 200, 500, 500, 100],
            "quality": [0.5, 0.1, 0.9, None, 0.8, 0.2],
            "fetch_time": [5, 9, 7, 3, 3, None],
        }
    )
    write_parquet_atomically(members, str(tmp_path / "members" / "from-00000" / part_name(0)))
    job = GlobalJob(None, (), {}, str(tmp_path))
    record = phases.keepers_partition(job, 0, keep, MinHashDedup.decision_schema())
    assert record == {"clusters": 2, "removed": 4, "cluster_sizes": {"3": 2}}
    decisions = pq.read_table(decisions_path(str(tmp_path), 0, 0)).to_pylist()
    kept = {d["row"] for d in decisions if not d["drop"]}
    assert kept == set(expected.values())
    by_row = {d["row"]: d for d in decisions}
    ids = dict(zip([10, 20, 30, 40, 50, 60], "abcdef"))
    for row, decision in by_row.items():
        keeper = expected[1] if row in (10, 20, 30) else expected[2]
        assert decision["dup_cluster_id"] == ids[keeper] and decision["dup_cluster_size"] == 3
        assert decision["evidence"] == (ids[keeper] if decision["drop"] else None)
