"""Measuring printed auth cards: a PDF page rendered at 300 dpi, its cut marks and folds found.

A cut mark is a thin straight line (at most 4 px, 0.34 mm, thick: Chromium draws a
0.2 mm border one CSS pixel wide) 3.2–4.5 mm long, with nothing within 3 px beside it.
Text is shorter, the QR code's longest lone runs (its finder patterns, 7 modules) are
shorter too, rules and borders are longer, and the dashed fold line is made of short
dashes, so only the marks remain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium

DPI = 300
PX_PER_MM = DPI / 25.4
MIN_LENGTH = round(3.2 * PX_PER_MM)
MAX_LENGTH = round(4.5 * PX_PER_MM)
MAX_THICKNESS = 4
DARK = 160  # grey levels below this are ink (the fold line is #777 = 119)


@dataclass(frozen=True)
class Segment:
    """A straight mark: ``at`` is its centre line (x of a vertical one, y of a horizontal
    one) in pixels; ``start``/``end`` its extent along the line."""

    at: float
    start: int
    end: int


def render_pages(pdf: bytes) -> list[np.ndarray]:
    """Each page as a 2-D array of grey levels at 300 dpi."""
    document = pdfium.PdfDocument(pdf)
    pages = []
    for page in document:
        bitmap = page.render(scale=DPI / 72, grayscale=True)
        pixels = bitmap.to_numpy()
        pages.append(pixels.reshape(pixels.shape[0], pixels.shape[1], -1)[:, :, 0].copy())
    return pages


def _runs(ink: np.ndarray) -> list[tuple[int, int, int]]:
    """(line, start, end) of every run of ink along axis 1 with a mark's length."""
    padded = np.pad(ink.astype(np.int8), ((0, 0), (1, 1)))
    edges = np.diff(padded, axis=1)
    starts = np.argwhere(edges == 1)
    ends = np.argwhere(edges == -1)
    lengths = ends[:, 1] - starts[:, 1]
    keep = (lengths >= MIN_LENGTH) & (lengths <= MAX_LENGTH)
    return [
        (int(r), int(s), int(e)) for (r, s), (_, e) in zip(starts[keep], ends[keep], strict=True)
    ]


def _segments(ink: np.ndarray) -> list[Segment]:
    """Marks along axis 1: runs on adjacent lines that start and end together, thin and
    with no ink within three pixels on either side."""
    by_line: dict[int, list[tuple[int, int]]] = {}
    for line, start, end in _runs(ink):
        by_line.setdefault(line, []).append((start, end))
    found: list[Segment] = []
    taken: set[tuple[int, int, int]] = set()
    for line in sorted(by_line):
        for start, end in by_line[line]:
            if (line, start, end) in taken:
                continue
            last = line
            while True:
                follow = [
                    (s, e)
                    for s, e in by_line.get(last + 1, ())
                    if abs(s - start) <= 2 and abs(e - end) <= 2
                ]
                if not follow:
                    break
                last += 1
                taken.add((last, *follow[0]))
            if last - line + 1 > MAX_THICKNESS:
                continue
            lo, hi = max(line - 3, 0), min(last + 4, ink.shape[0])
            beside = ink[lo:hi, start:end].sum() - ink[line : last + 1, start:end].sum()
            if not beside:
                found.append(Segment((line + last) / 2, start, end))
    return found


def marks(page: np.ndarray) -> tuple[list[Segment], list[Segment]]:
    """(vertical, horizontal) cut marks on a rendered page."""
    ink = page < DARK
    return _segments(ink.T), _segments(ink)


def mm(pixels: float) -> float:
    return pixels / PX_PER_MM


def ink_between(page: np.ndarray, x: float, y0: float, y1: float) -> int:
    """Dark pixels in the 5 px wide column around ``x`` from ``y0`` to ``y1``."""
    column = page[int(y0) : int(y1), int(round(x)) - 2 : int(round(x)) + 3]
    return int((column < DARK).sum())
