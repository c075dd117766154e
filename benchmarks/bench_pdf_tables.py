"""PDF tables from pdfminer's reading of a page (pdfplumber's own) vs PDFium's (ingest.loaders.pdf_geometry).

The same table finder (``ingest.loaders.pdf_tables.find_tables``: pdfplumber's TableFinder and
the banded-table reader) runs on the two readings of the same page, side by side in one run:

- pdfminer: ``pdfplumber.open(path).pages[i]`` (what the loader used before): pdfminer parses
  the page's content stream in pure Python when the finder first asks for its objects;
- PDFium: ``read_layout(pdfium_page)``: characters and edges read from PDFium's parse.

Pages: SAMPLE_PAGES spread evenly over each file (all pages of shorter files); of those, the
pages each table mode would search (PDFium's rule count >= TABLE_MIN_PATHS). Per mode: pages
searched, seconds per searched page for each reading (finder included), tables and data rows
found by each (rows holding a value), pages whose rows are identical, and the share of the pdfminer reading's cells
(multiset of cell strings) that the PDFium reading also has.

Results are cached per file in ``benchmarks/out/cache/bench_pdf_tables.jsonl`` (rerun to resume;
``--fresh`` starts over). Usage::

    python benchmarks/bench_pdf_tables.py [--limit N] [--sample-pages 10] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from common import (
    OUT_DIR,
    cached_records,
    dataset_path,
    header,
    header_markdown,
    loadavg_note,
    markdown_table,
    spread_pages,
    write_json,
)

from ingest.loaders.pdf import TABLE_MIN_PATHS, _open, _rule_count
from ingest.loaders.pdf_geometry import read_layout
from ingest.loaders.pdf_tables import PdfTable, find_tables

CACHE = OUT_DIR / "cache" / "bench_pdf_tables.jsonl"
SAMPLE_PAGES = 10
MODES = ("ruled", "all")


def _timed_tables(read: Any) -> tuple[list[PdfTable], float]:
    t0 = time.perf_counter()
    try:
        tables = find_tables(read())
    except Exception:
        tables = []
    return tables, time.perf_counter() - t0


def _cells(tables: list[PdfTable]) -> Counter[str]:
    return Counter(c for t in tables for row in t.rows for c in row if c)


def _data_rows(tables: list[PdfTable]) -> int:
    """Rows below the header that hold a value (an all-blank spacer row becomes no record)."""
    return sum(any(row) for t in tables for row in t.rows[max(t.header_rows, 1) :])


def file_record(path: Path, sample: int) -> dict[str, Any]:
    import pdfplumber

    document = _open(path)
    pages: list[dict[str, Any]] = []
    try:
        n = len(document)
        picks = spread_pages(n, sample)
        with pdfplumber.open(path) as plumber:
            for index in picks:
                page = document[index]
                try:
                    counts = {mode: _rule_count(page, mode) for mode in MODES}
                    if counts["all"] < TABLE_MIN_PATHS:
                        continue
                    ours, ours_s = _timed_tables(lambda page=page: read_layout(page))
                    theirs, theirs_s = _timed_tables(lambda index=index: plumber.pages[index])
                finally:
                    page.close()
                a, b = _cells(theirs), _cells(ours)
                pages.append({
                    "page": index + 1, "modes": [m for m in MODES if counts[m] >= TABLE_MIN_PATHS],
                    "pdfminer_s": theirs_s, "pdfium_s": ours_s,
                    "pdfminer_tables": len(theirs), "pdfium_tables": len(ours),
                    "pdfminer_rows": _data_rows(theirs), "pdfium_rows": _data_rows(ours),
                    "identical": [t.rows for t in theirs] == [t.rows for t in ours],
                    "pdfminer_cells": sum(a.values()), "shared_cells": sum((a & b).values()),
                })  # fmt: skip
    finally:
        document.close()
    return {"file": path.name, "sample_pages": sample, "pages_in_file": n, "pages": pages}


def summary_rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for mode in MODES:
        pages = [p for r in records for p in r["pages"] if mode in p["modes"]]
        n = max(len(pages), 1)
        with_tables = [p for p in pages if p["pdfminer_tables"] or p["pdfium_tables"]]
        cells = sum(p["pdfminer_cells"] for p in pages)
        rows.append([
            mode, len(pages), sum(p["pdfminer_s"] for p in pages) / n, sum(p["pdfium_s"] for p in pages) / n,
            sum(p["pdfminer_s"] for p in pages) / max(sum(p["pdfium_s"] for p in pages), 1e-9),
            f"{sum(p['pdfminer_tables'] for p in pages)} / {sum(p['pdfium_tables'] for p in pages)}",
            f"{sum(p['pdfminer_rows'] for p in pages)} / {sum(p['pdfium_rows'] for p in pages)}",
            f"{sum(p['identical'] for p in with_tables)} / {len(with_tables)}",
            sum(p["shared_cells"] for p in pages) / max(cells, 1),
        ])  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N filings in name order")
    ap.add_argument("--sample-pages", type=int, default=SAMPLE_PAGES)
    ap.add_argument("--fresh", action="store_true", help="ignore the cache of earlier runs")
    args = ap.parse_args()
    files = sorted(dataset_path("financebench/pdfs").glob("*.pdf"))[: args.limit]
    cached = cached_records(CACHE, fresh=args.fresh, sample_pages=args.sample_pages)
    head = header(["pypdfium2", "pdfplumber", "pdfminer.six"])
    records = []
    with CACHE.open("a", encoding="utf-8") as cache:
        for i, path in enumerate(files, 1):
            if path.name not in cached:
                record = file_record(path, args.sample_pages)
                cache.write(json.dumps(record) + "\n")
                cache.flush()
                cached[path.name] = record
                print(f"[{i}/{len(files)}] {path.name}: {len(record['pages'])} pages searched", file=sys.stderr, flush=True)
            records.append(cached[path.name])
    table = markdown_table(
        ["mode", "pages searched", "pdfminer s/page", "PDFium s/page", "speed-up",
         "tables (pdfminer / PDFium)", "data rows (pdfminer / PDFium)",
         "pages with tables, rows identical", "pdfminer cells also in PDFium's"],
        summary_rows(records),
    )  # fmt: skip
    sampled = sum(min(args.sample_pages, r["pages_in_file"]) for r in records)
    print(header_markdown(head) + loadavg_note() + f"\n\n{len(records)} filings, {sampled} pages sampled\n\n" + table)
    write_json("bench_pdf_tables", {"header": head, "records": records})


if __name__ == "__main__":
    main()
