"""Shared fixtures: the real data in ../shared/data, one local Ray per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLE_WARC = REPO / "samples" / "zh_web_sample.warc.gz"
CC_EXCERPT = SHARED_DATA / "warc" / "commoncrawl_excerpt" / "warcfile.warc.gz"
CC_CLIPPED = SHARED_DATA / "warc" / "commoncrawl_excerpt" / "clipped.warc.gz"


def require_shared(*relative: str) -> Path:
    """Path into ../shared/data; missing data fails under CI and skips (with the reason) elsewhere."""
    path = SHARED_DATA.joinpath(*relative)
    if not path.exists():
        message = f"real test data missing: {path} (the shared/ folder must sit next to the repo)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (startup costs seconds)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()
