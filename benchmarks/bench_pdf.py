"""PDF parsing on real filings: the old path (pypdf only) vs the PDFium loader, with and without tables.

Over the 74 FinanceBench filings and the 9 mixed_formats PDFs, per file:

- old: pypdf ``PdfReader(strict=False)`` and ``extract_text()`` of every page (what the loader did
  before issue #14); the file "parses" when every page's text comes back without an exception.
- new: ``load_pdf(path, tables="off")`` end to end (PDFium text, boilerplate removal, blocks):
  parse count, pages, seconds per page, boilerplate lines removed (counted with the loader's own
  functions in a separate, untimed pass).
- tables: pdfplumber costs ~0.7 s a page, so the table variants are measured on SAMPLE_PAGES pages
  spread evenly over each file (all pages of shorter files): the PDFium rule count, then
  ``find_tables`` on the page when the mode's detection selects it. Seconds per page with tables =
  new s/page + the sampled extra cost per page; table rows are those found on the sampled pages.

Results are cached per file in ``benchmarks/out/cache/bench_pdf.jsonl`` (rerun to resume;
``--fresh`` starts over). Usage::

    python benchmarks/bench_pdf.py [--limit N] [--sample-pages 8] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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

from ingest.boilerplate import find_boilerplate, strip_boilerplate
from ingest.loaders.base import LoadError
from ingest.loaders.pdf import TABLE_MIN_PATHS, _open, _page_lines, _rule_count, load_pdf
from ingest.loaders.pdf_tables import find_tables

CACHE = OUT_DIR / "cache" / "bench_pdf.jsonl"
SAMPLE_PAGES = 8


def old_path(path: Path) -> dict[str, Any]:
    from pypdf import PdfReader

    t0 = time.perf_counter()
    try:
        reader = PdfReader(path, strict=False)
        for page in reader.pages:
            page.extract_text()
        return {"ok": True, "s": time.perf_counter() - t0}
    except Exception as e:
        return {"ok": False, "s": time.perf_counter() - t0, "error": f"{type(e).__name__}: {e}"[:200]}


def new_path(path: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        blocks = list(load_pdf(path, tables="off"))
    except LoadError as e:
        return {"ok": False, "s": time.perf_counter() - t0, "error": e.reason[:200]}
    seconds = time.perf_counter() - t0
    document = _open(path)
    try:
        pages = [_page_lines(document[i]) for i in range(len(document))]
    finally:
        document.close()
    found = find_boilerplate(pages)
    removed = sum(len(p) - len(strip_boilerplate(p, found)) for p in pages)
    return {"ok": True, "s": seconds, "pages": len(pages), "blocks": len(blocks),
            "boilerplate_keys": len(found), "boilerplate_lines": removed}  # fmt: skip


def sampled_tables(path: Path, n_pages: int, sample: int) -> dict[str, Any]:
    import pdfplumber

    picks = spread_pages(n_pages, sample)
    out: dict[str, Any] = {"sampled": len(picks)}
    for mode in ("ruled", "all"):
        out[mode] = {"s": 0.0, "pages_searched": 0, "tables": 0, "rows": 0}
    document = _open(path)
    try:
        with pdfplumber.open(path) as plumber:
            for index in picks:
                page = document[index]
                counts = {}
                for mode in ("ruled", "all"):
                    t0 = time.perf_counter()
                    counts[mode] = _rule_count(page, mode)
                    out[mode]["s"] += time.perf_counter() - t0
                page.close()
                if counts["all"] < TABLE_MIN_PATHS:
                    continue
                t0 = time.perf_counter()
                try:
                    tables = find_tables(plumber.pages[index])
                except Exception:
                    tables = []
                cost = time.perf_counter() - t0
                rows = sum(max(len(t.rows) - max(t.header_rows, 1), 0) for t in tables)
                for mode in ("ruled", "all"):
                    if counts[mode] >= TABLE_MIN_PATHS:
                        m = out[mode]
                        m["s"] += cost
                        m["pages_searched"] += 1
                        m["tables"] += len(tables)
                        m["rows"] += rows
    finally:
        document.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N files of each folder")
    ap.add_argument("--sample-pages", type=int, default=SAMPLE_PAGES)
    ap.add_argument("--fresh", action="store_true", help="ignore the cache of earlier runs")
    args = ap.parse_args()
    folders = {"FinanceBench": dataset_path("financebench/pdfs"), "mixed_formats": dataset_path("mixed_formats/pdf")}
    cached = cached_records(CACHE, fresh=args.fresh, sample_pages=args.sample_pages)
    head = header(["pypdf", "pypdfium2", "pdfplumber"])
    results: dict[str, list[dict[str, Any]]] = {}
    with CACHE.open("a", encoding="utf-8") as cache:
        for name, folder in folders.items():
            files = sorted(folder.glob("*.pdf"))[: args.limit]
            results[name] = []
            for i, path in enumerate(files, 1):
                key = f"{name}/{path.name}"
                if key not in cached:
                    record: dict[str, Any] = {"file": key, "sample_pages": args.sample_pages,
                                              "old": old_path(path), "new": new_path(path)}  # fmt: skip
                    if record["new"]["ok"]:
                        record["tables"] = sampled_tables(path, record["new"]["pages"], args.sample_pages)
                    cache.write(json.dumps(record) + "\n")
                    cache.flush()
                    cached[key] = record
                    print(f"[{name} {i}/{len(files)}] {path.name}: old {record['old']['s']:.1f}s "
                          f"new {record['new']['s']:.2f}s", file=sys.stderr, flush=True)  # fmt: skip
                results[name].append(cached[key])
    rows = []
    for name, records in results.items():
        ok = [r for r in records if r["new"]["ok"]]
        pages = sum(r["new"]["pages"] for r in ok)
        new_s = sum(r["new"]["s"] for r in ok) / max(pages, 1)
        old_ok = [r for r in records if r["old"]["ok"]]
        old_pages = sum(r["new"].get("pages", 0) for r in old_ok)
        old_s = sum(r["old"]["s"] for r in old_ok) / max(old_pages, 1)
        sampled = sum(r["tables"]["sampled"] for r in ok)
        extra = {m: sum(r["tables"][m]["s"] for r in ok) / max(sampled, 1) for m in ("ruled", "all")}
        rows.append([
            name, len(records), f"{len(old_ok)}/{len(records)}", f"{len(ok)}/{len(records)}", pages,
            old_s, new_s, sampled,
            f"{sum(r['tables']['ruled']['pages_searched'] for r in ok)} / {sum(r['tables']['all']['pages_searched'] for r in ok)}",
            new_s + extra["ruled"], new_s + extra["all"],
            f"{sum(r['tables']['ruled']['rows'] for r in ok)} / {sum(r['tables']['all']['rows'] for r in ok)}",
            sum(r["new"]["boilerplate_lines"] for r in ok),
        ])  # fmt: skip
    table = markdown_table(
        ["folder", "files", "parse: old (pypdf)", "parse: new (PDFium)", "pages", "old s/page",
         "new s/page, no tables", "pages sampled for tables", "sampled pages searched (ruled / all)",
         "s/page, tables=ruled", "s/page, tables=all", "table rows on sampled pages (ruled / all)",
         "boilerplate lines removed"],
        rows,
    )  # fmt: skip
    failures = [f"- {r['file']}: old path: {r['old']['error']}" for rs in results.values() for r in rs
                if not r["old"]["ok"]] + [f"- {r['file']}: new path: {r['new']['error']}"
                                          for rs in results.values() for r in rs if not r["new"]["ok"]]  # fmt: skip
    print(header_markdown(head) + loadavg_note() + "\n\n" + table + "\n\n" + "\n".join(failures))
    write_json("bench_pdf", {"header": head, "results": results})


if __name__ == "__main__":
    main()
