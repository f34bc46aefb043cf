"""``fetch-cc --languages ... --audit N``: what the index's language field misses.

The index's ``content_languages`` is CLD2's verdict at crawl time. The audit downloads N whole
WARC files, runs curate's own pre-pass (the ``langid_prefilter`` stage: Han share of the page's
text, then lid.176) on every page, and compares: pages curate would keep that the index did not
select are the recall lost; the bytes of the selected records against the whole files are the
bandwidth saved. The pre-pass runs without headers (``use_headers: false``): Common Crawl writes
CLD2's verdict into ``WARC-Identified-Content-Language``, and letting it vote would make the
comparison circular.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from curate.cc_index import Record
from curate.stage import StageStats
from stages.langid_prefilter import ISO_639_3, LangIdPrefilter, LangIdPrefilterConfig
from stages.readers import InputConfig, ReadResult
from stages.readers.warc import WarcReader

REPORT_NAME = "report.json"


def prefilter_languages(codes: list[str]) -> list[str]:
    """The ISO 639-1 languages of the pre-pass for Common Crawl's ISO 639-3 ``codes``; ValueError
    for a code the pre-pass has no language for."""
    by_code = {code: short for short, codes3 in ISO_639_3.items() for code in codes3}
    missing = [code for code in codes if code not in by_code]
    if missing:
        raise ValueError(f"--audit knows no pre-pass language for {', '.join(missing)} (knows {sorted(by_code)})")
    return sorted({by_code[code] for code in codes})


@dataclass
class FileAudit:
    source: str
    """The WARC file's path in the crawl."""
    bytes: int
    pages: int
    """HTML pages read (responses curate's reader keeps)."""
    curate_selected: int
    """Pages curate's pre-pass keeps."""
    index_selected: int
    """Records the index query selected."""
    index_selected_bytes: int
    both: int
    missed: list[dict] = field(default_factory=list)
    """Pages the pre-pass keeps and the index did not select: url, offset."""
    index_only: list[dict] = field(default_factory=list)
    """Records the index selected that the pre-pass drops (or that are no HTML page)."""


@dataclass
class AuditReport:
    languages: list[str]
    files: list[FileAudit]
    complete_index: bool
    """False when only some index files were queried (--index-parts): then records in the others
    count as missed too."""

    @property
    def totals(self) -> dict[str, float | int | None]:
        whole = sum(f.bytes for f in self.files)
        selected = sum(f.index_selected_bytes for f in self.files)
        curate = sum(f.curate_selected for f in self.files)
        both = sum(f.both for f in self.files)
        return {
            "files": len(self.files),
            "bytes_whole": whole,
            "bytes_selected": selected,
            "bandwidth_saved": 1 - selected / whole if whole else None,
            "pages": sum(f.pages for f in self.files),
            "curate_selected": curate,
            "index_selected": sum(f.index_selected for f in self.files),
            "both": both,
            "missed": curate - both,
            "recall": both / curate if curate else None,
        }

    def as_dict(self) -> dict:
        return {
            "languages": self.languages,
            "complete_index": self.complete_index,
            "totals": self.totals,
            "files": [asdict(f) for f in self.files],
        }


def audit_file(path: str, source: str, records: list[Record], prefilter: LangIdPrefilter) -> FileAudit:
    """Compare the pre-pass on the whole WARC file ``path`` with the index's ``records`` of it."""
    kept: dict[int, str | None] = {}
    pages = 0
    for batch in WarcReader(InputConfig(paths=[path])).read(path, ReadResult()):
        pages += batch.num_rows
        batch = prefilter.apply(batch, StageStats("langid_prefilter"))
        for offset, url in zip(batch.column("source_offset").to_pylist(), batch.column("url").to_pylist()):
            kept[offset] = url
    selected = {r.offset: r for r in records}
    return FileAudit(
        source=source,
        bytes=os.path.getsize(path),
        pages=pages,
        curate_selected=len(kept),
        index_selected=len(selected),
        index_selected_bytes=sum(r.length for r in records),
        both=len(kept.keys() & selected.keys()),
        missed=[{"url": kept[o], "offset": o} for o in sorted(kept.keys() - selected.keys())],
        index_only=[{"url": selected[o].url, "offset": o} for o in sorted(selected.keys() - kept.keys())],
    )


def audit(
    files: dict[str, str], by_file: dict[str, list[Record]], languages: list[str], complete_index: bool
) -> AuditReport:
    """Audit the whole WARC files ``files`` (source path in the crawl -> local path)."""
    config = LangIdPrefilterConfig(languages=prefilter_languages(languages), use_headers=False)
    prefilter = LangIdPrefilter(config)
    audits = [audit_file(local, source, by_file.get(source, []), prefilter) for source, local in files.items()]
    return AuditReport(list(languages), audits, complete_index)
