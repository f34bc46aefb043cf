"""URL and domain block lists, by category.

List files have one entry per line (``#`` comments), each ``domain: D``,
``url: S`` or ``token: T``; the file name (without ``.txt``) is the category.
The built-in lists in ``stages/lexicons/blocklist/`` are small and written for
this project; add your own (for example UT1 categories converted to this
format) with ``lists``.

Matching:
- ``domain``: the page's host is D or a subdomain of D. Hosts and entries are
  compared in Unicode, so a punycode host (``xn--...``) matches an IDN entry
  and the reverse;
- ``url``: S is a substring of the percent-decoded, lower-cased URL;
- ``token``: T is a run of ASCII letters in the host (``duchang888.com`` has the
  token ``duchang``), or, for T of five letters or more, inside one: pinyin
  names are often run together (``aomenduchang``).

Rules ``screen.blocked_domain``, ``screen.blocked_url``, ``screen.blocked_token``;
evidence is the category and the matched entry.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from curate.config_schema import ConfigError, describe, path_field
from curate.decoded_columns import column_values
from stages.screens.base import Action, Finding, ScreenStage

BUILTIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lexicons", "blocklist")
_ENTRY = re.compile(r"^(domain|url|token):\s*(\S.*?)\s*$")
_LETTERS = re.compile(r"[a-z]+")
MAX_LINE_BYTES = 8192
"""Longer than any domain or URL entry."""
EXCERPT_CHARS = 16
"""Characters of a bad line an error quotes (escaped): enough to see what is wrong with an
entry, too few to leak much when the file is no list at all (a key file, a .env)."""


@dataclass
class BlocklistScreenConfig:
    action: Action = "drop"
    builtin_lists: bool = True
    lists: list[str] = field(default_factory=list, metadata=path_field())
    """More list files; the file name (without .txt) is the category."""

    def check(self, path: str) -> None:
        if not self.builtin_lists and not self.lists:
            raise ConfigError(f"{path}.lists", "no block lists: set builtin_lists: true or give lists")

    def check_files(self, path: str) -> None:
        """Every list parses: a wrong file fails at load time, not in every worker. Runs once
        the paths are resolved against the config's folder."""
        for i, list_path in enumerate(self.lists):
            try:
                read_list(list_path)
            except OSError as error:
                raise ConfigError(f"{path}.lists[{i}]", f"cannot read {list_path}: {error.strerror}") from None
            except ValueError as error:
                raise ConfigError(f"{path}.lists[{i}]", str(error)) from None


def to_unicode_host(host: str) -> str:
    """A host name lower-cased, without a trailing dot, with punycode labels decoded."""
    host = host.strip().lower().rstrip(".")
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                pass  # not valid punycode: compare it as written
        labels.append(label)
    return ".".join(labels)


def read_list(path: str) -> list[tuple[str, str]]:
    """(kind, entry) pairs of a list file; a line that is not an entry is an error naming the
    file and line. Lines are read bounded and decoded one by one, so a binary file (or any
    file given by mistake) fails on its first bad line without being read whole."""
    entries = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), 1):
            entry = _parse_line(raw, f"{path}:{number}")
            if entry is not None:
                entries.append(entry)
    return entries


def _parse_line(raw: bytes, where: str) -> tuple[str, str] | None:
    if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
        raise ValueError(f"{where}: a line longer than {MAX_LINE_BYTES:,} bytes; not a block list?")
    try:
        line: str | None = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        line = None
    if line is None or "\0" in line:
        raise ValueError(f"{where}: binary data, not UTF-8 text; not a block list?")
    if not line or line.startswith("#"):
        return None
    match = _ENTRY.match(line)
    if not match:
        raise ValueError(
            f"{where}: expected 'domain: ...', 'url: ...' or 'token: ...', got {describe(line, EXCERPT_CHARS)}"
        )
    kind, value = match.groups()
    return kind, to_unicode_host(value) if kind == "domain" else value.lower()


@functools.lru_cache(maxsize=4)
def load_lists(files: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Per kind, entry → category; built once per worker process."""
    table: dict[str, dict[str, str]] = {"domain": {}, "url": {}, "token": {}}
    for path in files:
        category = os.path.basename(path).split(".")[0].lower()
        for kind, value in read_list(path):
            table[kind].setdefault(value, category)
    return table


class BlocklistScreen(ScreenStage):
    name = "screen_blocklist"
    config_class = BlocklistScreenConfig
    reads = ("url",)

    def __init__(self, config: BlocklistScreenConfig) -> None:
        super().__init__(config)
        builtin = (
            sorted(os.path.join(BUILTIN_DIR, f) for f in os.listdir(BUILTIN_DIR) if f.endswith(".txt"))
            if config.builtin_lists
            else []
        )
        self.lists = load_lists(tuple(builtin + list(config.lists)))
        self.long_tokens = [(t, c) for t, c in self.lists["token"].items() if len(t) >= 5]

    def match(self, url: str) -> list[Finding]:
        found: list[Finding] = []
        try:
            host = to_unicode_host(urlsplit(url).hostname or "")
        except ValueError:
            host = ""
        labels = host.split(".")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:])
            if suffix in self.lists["domain"]:
                found.append(("screen.blocked_domain", f"{self.lists['domain'][suffix]}: {suffix}"))
                break
        decoded = unquote(url).lower()
        for entry, category in self.lists["url"].items():
            if entry in decoded:
                found.append(("screen.blocked_url", f"{category}: {entry}"))
                break
        tokens = _LETTERS.findall(host)
        hit = next(((t, self.lists["token"][t]) for t in tokens if t in self.lists["token"]), None)
        if hit is None:
            hit = next(((t, c) for t, c in self.long_tokens if any(t in token for token in tokens)), None)
        if hit is not None:
            found.append(("screen.blocked_token", f"{hit[1]}: {hit[0]} in {host}"))
        return found

    def screen(self, batch: pa.RecordBatch) -> tuple[list[list[Finding]], dict[str, list]]:
        return [self.match(url) if url else [] for url in column_values(batch, "url")], {}
