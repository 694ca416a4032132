"""The parts of OCR that are ours, not tesseract's: the page image we hand it and how its TSV becomes lines.

    data = despeckled_bmp(pix, dpi)                 # a grayscale pixmap -> BMP bytes without dust specks
    lines, conf = tsv_lines(tsv, pix.height, dpi)   # tesseract TSV -> lines in reading order, mean confidence

Dust: with automatic page segmentation (psm 3) tesseract glues a speck a few points above a line to the nearest word,
whose box then spans two lines and is read as junk ("algebraical" -> "Soehisieal"). Tiny dark blobs far from any
other ink are not print, so they are painted over with the paper's grey first.

Reading order: tesseract's block order puts a heading centred over two columns after the left one (its box does not
overlap the left column's). Blocks are ordered by recursive cuts instead: full-width horizontal gaps split the page
into bands top to bottom, except between two bands that both have columns at the same gutter (a column's paragraph
break); a band with a vertical gap is read column by column, left to right; what cannot be cut keeps tesseract's
order.
"""

from __future__ import annotations

import io
import re
from typing import Any, cast

import numpy as np
from scipy import ndimage  # at import: forked OCR workers share it instead of each loading it

Line = tuple[str, float, bool, float, float]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels

SPECK_MAX_PT = 1.5
"""A speck is an ink blob of at most this size squared (pt^2): smaller than the full stop of 10-pt type..."""
SPECK_GAP_PT = 3.0
"""... with no other ink within this distance (pt): full stops, i-dots and accents sit closer to their letters."""
MAX_SPECKS = 5000
"""More small blobs than this on a page is noise all over (or a halftone), not dust: no despeckling then."""

# how tesseract reads a bullet; a footnote's "*" is the same glyph but smaller than the page's body lines
_OCR_BULLET = re.compile(r"^[*\u00a2\u00ab\u00bb\u00b0\u00b7] ")
FOOTNOTE_SIZE = 0.9
"""A "* " line whose words are smaller than this share of the page's median word height is a footnote, not a bullet."""


# ---- the image -----------------------------------------------------------------------------------------------------
def _levels(gray: np.ndarray) -> tuple[int, int]:
    """(Otsu's ink/paper threshold, the paper's grey: the commonest level above it), from every 4th row/column."""
    hist = np.bincount(gray[::4, ::4].ravel(), minlength=256).astype(np.float64)
    p = hist / max(1.0, hist.sum())
    w = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * w - mu) ** 2 / (w * (1.0 - w))
    t = int(np.nanargmax(between)) if np.isfinite(between).any() else 127
    return t, t + 1 + int(np.argmax(hist[t + 1 :])) if t < 255 else 255


def despeckle(gray: np.ndarray, dpi: int) -> int:
    """Paint isolated specks (SPECK_MAX_PT, SPECK_GAP_PT) in `gray` (uint8, modified in place) with the paper's
    grey; returns how many went. The blobs are found at half resolution (a 2x2 minimum keeps every speck) to keep
    this a few percent of tesseract's time."""
    t, paper = _levels(gray)
    h, w = gray.shape[0] // 2 * 2, gray.shape[1] // 2 * 2
    g = gray[:h, :w]
    half = np.minimum(np.minimum(g[0::2, 0::2], g[1::2, 0::2]), np.minimum(g[0::2, 1::2], g[1::2, 1::2])) <= t
    labels, n = cast(tuple[np.ndarray, int], ndimage.label(half, structure=np.ones((3, 3), bool)))
    px = dpi / 72.0 / 2  # half-resolution pixels per point
    side = SPECK_MAX_PT * px + 1  # the 2x2 minimum widens a blob by up to one pixel
    gap = max(1, round(SPECK_GAP_PT * px))
    small = np.flatnonzero(np.bincount(labels.ravel(), minlength=n + 1)[1:] <= side * side) + 1
    if len(small) > MAX_SPECKS:  # noise all over, not dust on print: leave the page to tesseract as it is
        return 0
    boxes = ndimage.find_objects(labels)
    removed = 0
    for i in small.tolist():
        ys, xs = boxes[i - 1]
        if ys.stop - ys.start > side + 1 or xs.stop - xs.start > side + 1:
            continue
        near = labels[max(0, ys.start - gap) : ys.stop + gap, max(0, xs.start - gap) : xs.stop + gap]
        if np.any((near != 0) & (near != i)):
            continue
        # the blob's box at full resolution, one pixel wider for its anti-aliased rim (nothing else is that close)
        gray[max(0, 2 * ys.start - 1) : 2 * ys.stop + 1, max(0, 2 * xs.start - 1) : 2 * xs.stop + 1] = paper
        removed += 1
    return removed


def despeckled_bmp(pix: Any, dpi: int) -> bytes:
    """A grayscale PyMuPDF pixmap as 8-bit BMP bytes for tesseract, specks removed.

    Why BMP in a file: tesseract 5 reads stdin a byte at a time and leptonica's PNM reader is slow; on a 300-dpi
    letter page that costs ~0.3 s of the ~1.2 s tesseract spends, while an uncompressed BMP read from a file costs
    nothing measurable and takes 5 ms to write (PNG: 70 ms to encode). Measured with benchmarks/ingest.py."""
    from PIL import Image

    gray = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)[:, :, 0].copy()
    despeckle(gray, dpi)
    buf = io.BytesIO()
    Image.fromarray(gray, "L").save(buf, "BMP")
    return buf.getvalue()


# ---- reading order -------------------------------------------------------------------------------------------------
def _gaps(spans: list[tuple[int, int]]) -> list[int]:
    """Positions where a sweep over sorted (start, end) intervals finds free space: cut points."""
    order = sorted(range(len(spans)), key=lambda k: spans[k])
    cuts, reach = [], None
    for k in order:
        s, e = spans[k]
        if reach is not None and s >= reach:
            cuts.append(s)
        reach = e if reach is None else max(reach, e)
    return cuts


def _split(ids: list[int], boxes: dict[int, Box], axis: int) -> list[list[int]]:
    """Group `ids` between the free gaps along axis (0: x -> columns, 1: y -> bands), in order."""
    cuts = _gaps([(boxes[i][axis], boxes[i][axis + 2]) for i in ids])
    groups: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in ids:
        groups[sum(boxes[i][axis] >= c for c in cuts)].append(i)
    return [g for g in groups if g]


def _gutters(ids: list[int], boxes: dict[int, Box], min_share: float = 0.2) -> list[tuple[int, int]]:
    """Free x ranges between the columns of a band; empty when it is one column or when some "column" is narrower
    than `min_share` of the band (a display formula with its number at the margin is not two columns)."""
    cols = _split(ids, boxes, 0)
    if len(cols) < 2:
        return []
    spans = [(min(boxes[i][0] for i in c), max(boxes[i][2] for i in c)) for c in cols]
    width = spans[-1][1] - spans[0][0]
    if any(e - s < min_share * width for s, e in spans):
        return []
    return [(a[1], b[0]) for a, b in zip(spans, spans[1:], strict=False)]


def reading_order(boxes: dict[int, Box]) -> list[int]:
    """Block ids in reading order (ties and uncuttable groups keep ascending id = tesseract's order)."""

    def order(ids: list[int]) -> list[int]:
        if len(ids) <= 1:
            return ids
        bands = _split(ids, boxes, 1)
        merged: list[list[int]] = []
        for band in bands:  # a paragraph break in every column is not a band break: keep those bands together
            if merged and _shared_gutter(_gutters(merged[-1], boxes), _gutters(band, boxes)):
                merged[-1] += band
            else:
                merged.append(band)
        if len(merged) > 1:
            return [i for band in merged for i in order(band)]
        cols = _split(ids, boxes, 0)
        if len(cols) > 1:
            return [i for col in cols for i in order(col)]
        return sorted(ids)

    return order(sorted(boxes))


def _shared_gutter(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> bool:
    return any(min(e1, e2) > max(s1, s2) for s1, e1 in a for s2, e2 in b)


# ---- TSV -> lines --------------------------------------------------------------------------------------------------
def tsv_lines(tsv: str, height: int, dpi: int) -> tuple[list[Line], float]:
    """tesseract TSV -> lines `(text, size_pt, False, y0, y1)` in reading order, and the mean word confidence.
    size is the line's median word-box height (a skewed scan inflates the line box, not the word boxes)."""
    blocks: dict[int, Box] = {}
    line_box: dict[tuple[int, ...], tuple[float, float]] = {}
    words: dict[tuple[int, ...], list[tuple[str, int]]] = {}
    confs: list[float] = []
    for row in tsv.splitlines()[1:]:
        c = row.split("\t")
        if len(c) < 12:
            continue
        key = (int(c[1]), int(c[2]), int(c[3]), int(c[4]))
        left, top, w, h = int(c[6]), int(c[7]), int(c[8]), int(c[9])
        if c[0] == "2":
            blocks[key[1]] = (left, top, left + w, top + h)
        elif c[0] == "4":
            line_box[key] = (top / height, (top + h) / height)
        elif c[0] == "5" and c[11].strip():
            words.setdefault(key, []).append((c[11].strip(), h))
            if float(c[10]) >= 0:
                confs.append(float(c[10]))
    rank = {b: k for k, b in enumerate(reading_order(blocks))}
    keys = sorted(words, key=lambda k: (rank.get(k[1], len(rank)), k))
    sizes = {k: sorted(h for _, h in words[k])[len(words[k]) // 2] * 72.0 / dpi for k in keys}
    body = sorted(sizes.values())[len(sizes) // 2] if sizes else 0.0
    lines: list[Line] = []
    for k in keys:
        text = " ".join(w for w, _ in words[k])
        if sizes[k] >= FOOTNOTE_SIZE * body:
            text = _OCR_BULLET.sub("\u2022 ", text)
        lines.append((text, round(sizes[k], 1), False, *line_box.get(k, (0.0, 0.0))))
    return lines, (sum(confs) / len(confs) if confs else 0.0)
