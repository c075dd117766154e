"""PPTX via python-pptx: per slide (``page`` = 1-based slide number), the title, then the
other shapes top-to-bottom, left-to-right, then the speaker notes.

``heading_path`` is ``(slide title,)`` when the slide has one. Tables give a header block and
one record per row; group shapes are read recursively. Pictures and charts carry no text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ingest.loaders.base import LoadError, make_block, read_head, sniff_container
from ingest.loaders.tables import table_blocks
from ingest.types import Block


def _reading_order(shapes: Iterable[Any]) -> list[Any]:
    def key(shape: Any) -> tuple[int, int]:
        return (shape.top if shape.top is not None else 0, shape.left if shape.left is not None else 0)

    return sorted(shapes, key=key)


def _is_body_placeholder(shape: Any) -> bool:
    from pptx.enum.shapes import PP_PLACEHOLDER

    if not shape.is_placeholder:
        return False
    return shape.placeholder_format.type in (PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT)


def _shape_blocks(
    shapes: Iterable[Any], *, slide: int, title_shape: Any, heading_path: tuple[str, ...], counter: list[int]
) -> Iterator[Block]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in _reading_order(shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_blocks(
                shape.shapes, slide=slide, title_shape=None, heading_path=heading_path, counter=counter
            )
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
            rows = [r for r in rows if any(c.strip() for c in r)]
            if not rows:
                continue
            counter[0] += 1
            yield from table_blocks(
                rows[0], rows[1:], table_id=f"table-{counter[0]}", page=slide, heading_path=heading_path
            )
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            paragraphs = shape.text_frame.paragraphs
            # Body placeholders show their paragraphs as bullets by default.
            bulleted = len(paragraphs) > 1 and _is_body_placeholder(shape)
            for paragraph in paragraphs:
                text = "".join(run.text for run in paragraph.runs) or paragraph.text
                kind = "list_item" if bulleted or paragraph.level > 0 else "paragraph"
                block = make_block(text, kind, page=slide, heading_path=heading_path)
                if block is not None:
                    yield block


def load_pptx(path: Path) -> Iterator[Block]:
    """Blocks of a .pptx, slide by slide."""
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    sniff_container(path, read_head(path), "pptx")
    try:
        presentation = Presentation(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as e:
        raise LoadError(
            path, f"not a valid .pptx file ({type(e).__name__}: {e}): is it another Office format renamed?"
        ) from e
    except Exception as e:  # zipfile.BadZipFile, lxml.etree.XMLSyntaxError, ...
        raise LoadError(path, f"corrupt .pptx ({type(e).__name__}: {e}): re-save it and retry") from e
    counter = [0]  # tables so far, for table ids unique in the file
    for number, slide in enumerate(presentation.slides, start=1):
        title_shape = slide.shapes.title
        title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
        heading_path = (title,) if title else ()
        if title:
            block = make_block(title, "heading", page=number, heading_path=heading_path)
            if block is not None:
                yield block
        yield from _shape_blocks(
            slide.shapes, slide=number, title_shape=title_shape, heading_path=heading_path, counter=counter
        )
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None:
                block = make_block(notes.text, "text", page=number, heading_path=heading_path)
                if block is not None:
                    yield block
