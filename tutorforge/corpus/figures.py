"""The vector figures of the bundled corpus: `[figure: Caption | shape: arg]` in a source -> simple line drawings.

    FIGURES["chain"](lay, pymupdf.Rect(128, 300, 467, 370), "grass > rabbit > fox")   # boxes joined by arrows

Each figure draws into `rect` on the layout's current page with PyMuPDF's vector API; labels go through the layout's
text layer (embedded Helvetica, 8.5-9 pt). FIG_HEIGHT: the figure's height in pt where it is not the default 215.
Shapes: cell, chain (a > b > c), atom (shells "2,8,1"), graph (x label | y label | line/curve/parabola/decay/sine),
particles, forces, circuit, wave, triangle, phscale, bars (name=value, ...).
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import pymupdf

from tutorforge.pdf.writer import text_width

if TYPE_CHECKING:
    from tutorforge.corpus.layout import Layout

PointLike = pymupdf.Point | tuple[float, float]


def _label(lay: Layout, x: float, y: float, text: str, size: float = 8.5) -> None:
    lay.put(x, y, text, "helv", size, color=(0.1, 0.1, 0.1))


def _arrow(page: pymupdf.Page, p: PointLike, q: PointLike, w: float = 1.2) -> None:
    page.draw_line(p, q, color=(0, 0, 0), width=w)
    ang = math.atan2(q[1] - p[1], q[0] - p[0])
    for d in (2.6, -2.6):
        page.draw_line(
            q, (q[0] - 7 * math.cos(ang + d / 6), q[1] - 7 * math.sin(ang + d / 6)), color=(0, 0, 0), width=w
        )


def fig_cell(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    c = r.tl + (r.width / 2, r.height / 2)
    cell = pymupdf.Rect(c.x - 120, r.y0 + 5, c.x + 120, r.y1 - 5)
    page.draw_oval(cell, color=(0, 0, 0), fill=(0.95,) * 3, width=1.5)
    page.draw_circle((c.x - 20, c.y), 28, color=(0, 0, 0), fill=(0.75,) * 3, width=1)
    page.draw_circle((c.x - 20, c.y), 9, color=(0, 0, 0), fill=(0.45,) * 3)
    for dx, dy in ((55, -30), (60, 25), (-80, 35)):
        page.draw_oval(
            pymupdf.Rect(c.x + dx - 16, c.y + dy - 7, c.x + dx + 16, c.y + dy + 7), color=(0, 0, 0), fill=(0.85,) * 3
        )
    for text, p, q in (
        ("cell membrane", (cell.x1 - 10, c.y - 40), (cell.x1 + 10, c.y - 55)),
        ("nucleus", (c.x - 20, c.y - 28), (c.x - 20, r.y0 - 2)),
        ("mitochondrion", (c.x + 70, c.y + 25), (cell.x1 + 12, c.y + 40)),
        ("cytoplasm", (c.x - 90, c.y - 20), (cell.x0 - 20, c.y - 40)),
    ):
        page.draw_line(p, q, color=(0.3,) * 3, width=0.6)
        _label(lay, q[0] + 2 if q[0] > c.x else q[0] - text_width(text, "helv", 8.5) - 2, q[1] + 3, text)


def fig_chain(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    items = [s.strip() for s in arg.split(">")]
    bw = 86.0
    gap = (r.width - bw * len(items)) / max(1, len(items) - 1)
    y = r.y0 + r.height / 2
    for i, item in enumerate(items):
        x = r.x0 + i * (bw + gap)
        page.draw_rect(pymupdf.Rect(x, y - 20, x + bw, y + 20), color=(0, 0, 0), fill=(0.92,) * 3, width=1)
        _label(lay, x + (bw - text_width(item, "helv", 9)) / 2, y + 3, item, 9)
        if i < len(items) - 1:
            _arrow(page, (x + bw + 4, y), (x + bw + gap - 4, y))


def fig_atom(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    c = (r.x0 + r.width / 2, r.y0 + r.height / 2)
    page.draw_circle(c, 14, color=(0, 0, 0), fill=(0.6,) * 3)
    shells = [int(s) for s in (arg or "2,8,1").split(",")]
    for k, n in enumerate(shells):
        rad = 30 + 22 * k
        page.draw_circle(c, rad, color=(0.3,) * 3, width=0.8)
        for j in range(n):
            a = 2 * math.pi * j / n + k * 0.4
            page.draw_circle((c[0] + rad * math.cos(a), c[1] + rad * math.sin(a)), 3.2, color=(0, 0, 0), fill=(0, 0, 0))
    _label(lay, c[0] + 30 + 22 * len(shells), c[1] - 20, "electron shells")
    _label(lay, c[0] - 150, c[1] + 4, "nucleus (protons + neutrons)")
    page.draw_line((c[0] - 14, c[1]), (c[0] - 40, c[1]), color=(0.3,) * 3, width=0.6)


def fig_graph(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    """graph: x label | y label | kind (line, curve, parabola, decay)"""
    page = lay.doc[lay.pno]
    xl, yl, kind = ([s.strip() for s in arg.split("|")] + ["", "", "line"])[:3]
    o = pymupdf.Point(r.x0 + 70, r.y1 - 18)
    x1, y1 = r.x1 - 60, r.y0 + 5
    _arrow(page, o, (x1, o.y), 1)
    _arrow(page, o, (o.x, y1), 1)
    _label(lay, (o.x + x1) / 2 - text_width(xl, "helv", 8.5) / 2, o.y + 14, xl)
    _label(lay, o.x - text_width(yl, "helv", 8.5) - 6, y1 + 10, yl)
    pts = []
    for i in range(41):
        t = i / 40
        if kind == "curve":
            v = t * t
        elif kind == "parabola":
            v = 0.9 - 3.2 * (t - 0.5) ** 2
        elif kind == "decay":
            v = math.exp(-3 * t)
        elif kind == "sine":
            v = 0.5 + 0.4 * math.sin(4 * math.pi * t)
        else:
            v = 0.9 * t
        pts.append((o.x + 8 + t * (x1 - o.x - 20), o.y - 4 - v * (o.y - y1 - 12)))
    page.draw_polyline(pts, color=(0, 0, 0), width=1.6)


def fig_particles(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    rng = random.Random(7)
    bw = 110.0
    for i, name in enumerate(("solid", "liquid", "gas")):
        x = r.x0 + 20 + i * (bw + 30)
        box = pymupdf.Rect(x, r.y0 + 10, x + bw, r.y1 - 25)
        page.draw_rect(box, color=(0, 0, 0), width=1)
        if i == 0:
            pts = [(box.x0 + 12 + 14 * a, box.y1 - 10 - 14 * b) for a in range(7) for b in range(6)]
        elif i == 1:
            pts = [
                (box.x0 + 12 + 14 * a + rng.uniform(-3, 3), box.y1 - 10 - 14 * b + rng.uniform(-3, 3))
                for a in range(7)
                for b in range(4)
                if rng.random() < 0.85
            ]
        else:
            pts = [(rng.uniform(box.x0 + 8, box.x1 - 8), rng.uniform(box.y0 + 8, box.y1 - 8)) for _ in range(9)]
        for p in pts:
            page.draw_circle(p, 5, color=(0, 0, 0), fill=(0.7,) * 3, width=0.5)
        _label(lay, x + (bw - text_width(name, "helv", 9)) / 2, r.y1 - 8, name, 9)


def fig_forces(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    c = pymupdf.Point(r.x0 + r.width / 2, r.y0 + r.height / 2)
    page.draw_rect(pymupdf.Rect(c.x - 40, c.y - 28, c.x + 40, c.y + 28), color=(0, 0, 0), fill=(0.85,) * 3)
    _label(lay, c.x - 18, c.y + 3, "5 kg", 9)
    page.draw_line((r.x0, c.y + 28), (r.x1, c.y + 28), color=(0, 0, 0), width=1)
    _arrow(page, (c.x + 40, c.y), (c.x + 150, c.y), 2)
    _label(lay, c.x + 70, c.y - 8, "push 30 N", 9)
    _arrow(page, (c.x - 40, c.y), (c.x - 110, c.y), 2)
    _label(lay, c.x - 145, c.y - 8, "friction 10 N", 9)
    _arrow(page, (c.x, c.y - 28), (c.x, c.y - 70), 1.5)
    _label(lay, c.x + 6, c.y - 60, "normal force", 8.5)
    _arrow(page, (c.x, c.y + 28), (c.x, c.y + 66), 1.5)
    _label(lay, c.x + 6, c.y + 60, "weight", 8.5)


def fig_circuit(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    b = pymupdf.Rect(r.x0 + 90, r.y0 + 20, r.x1 - 90, r.y1 - 20)
    mx = (b.x0 + b.x1) / 2
    page.draw_polyline(
        [(mx - 8, b.y0), (b.x0, b.y0), (b.x0, b.y1), (b.x1, b.y1), (b.x1, b.y0), (mx + 8, b.y0)],
        color=(0, 0, 0),
        width=1.3,
    )
    page.draw_line((mx - 8, b.y0 - 14), (mx - 8, b.y0 + 14), color=(0, 0, 0), width=1.5)
    page.draw_line((mx + 8, b.y0 - 7), (mx + 8, b.y0 + 7), color=(0, 0, 0), width=3)
    _label(lay, mx - 28, b.y0 - 20, "cell 6 V")
    page.draw_circle((mx, b.y1), 13, color=(0, 0, 0), fill=(1, 1, 1), width=1.3)
    page.draw_line((mx - 9, b.y1 - 9), (mx + 9, b.y1 + 9), color=(0, 0, 0))
    page.draw_line((mx - 9, b.y1 + 9), (mx + 9, b.y1 - 9), color=(0, 0, 0))
    _label(lay, mx + 18, b.y1 + 14, "lamp")
    page.draw_rect(
        pymupdf.Rect(b.x1 - 10, (b.y0 + b.y1) / 2 - 22, b.x1 + 10, (b.y0 + b.y1) / 2 + 22),
        color=(0, 0, 0),
        fill=(1, 1, 1),
        width=1.3,
    )
    _label(lay, b.x1 + 16, (b.y0 + b.y1) / 2 + 3, "resistor 12 Ω")
    page.draw_circle((b.x0, (b.y0 + b.y1) / 2), 13, color=(0, 0, 0), fill=(1, 1, 1), width=1.3)
    _label(lay, b.x0 - 4, (b.y0 + b.y1) / 2 + 3, "A", 10)


def fig_wave(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    y0 = r.y0 + r.height / 2
    page.draw_line((r.x0, y0), (r.x1, y0), color=(0.5,) * 3, width=0.5, dashes="[3] 0")
    lam = (r.width - 20) / 2
    pts = [(r.x0 + 10 + i, y0 - 45 * math.sin(2 * math.pi * i / lam)) for i in range(0, int(r.width - 20), 2)]
    page.draw_polyline(pts, color=(0, 0, 0), width=1.6)
    xa, xb = r.x0 + 10 + lam / 4, r.x0 + 10 + 5 * lam / 4
    page.draw_line((xa, y0 - 58), (xb, y0 - 58), color=(0, 0, 0), width=0.8)
    _label(lay, (xa + xb) / 2 - 30, y0 - 62, "wavelength λ")
    page.draw_line((xa, y0), (xa, y0 - 45), color=(0, 0, 0), width=0.8)
    _label(lay, xa + 4, y0 - 20, "amplitude")


def fig_triangle(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    a, b, c = (r.x0 + 110, r.y1 - 15), (r.x1 - 110, r.y1 - 15), (r.x0 + 110, r.y0 + 10)
    page.draw_polyline([a, b, c, a], color=(0, 0, 0), width=1.5, closePath=True, fill=(0.93,) * 3)
    page.draw_rect(pymupdf.Rect(a[0], a[1] - 12, a[0] + 12, a[1]), color=(0, 0, 0), width=0.8)
    _label(lay, (a[0] + b[0]) / 2, a[1] + 12, "b = 4 cm", 9)
    _label(lay, a[0] - 55, (a[1] + c[1]) / 2, "a = 3 cm", 9)
    _label(lay, (b[0] + c[0]) / 2 + 10, (b[1] + c[1]) / 2 - 6, "c = 5 cm (hypotenuse)", 9)


def fig_phscale(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    cw = (r.width - 20) / 15
    y = r.y0 + 45
    for i in range(15):
        x = r.x0 + 10 + i * cw
        g = 0.35 + 0.6 * abs(i - 7) / 7
        page.draw_rect(pymupdf.Rect(x, y, x + cw, y + 34), color=(0, 0, 0), fill=(1 - g * 0.8,) * 3, width=0.6)
        _label(lay, x + cw / 2 - text_width(str(i), "helv", 9) / 2, y + 48, str(i), 9)
    _label(lay, r.x0 + 10, y - 10, "strong acid", 9)
    _label(lay, r.x0 + 10 + 7 * cw - 8, y - 10, "neutral", 9)
    _label(lay, r.x1 - 60, y - 10, "strong alkali", 9)
    for name, v in (("lemon juice", 2), ("pure water", 7), ("soap", 10)):
        x = r.x0 + 10 + (v + 0.5) * cw
        _arrow(lay.doc[lay.pno], (x, y + 85), (x, y + 58), 0.8)
        _label(lay, x - text_width(name, "helv", 8.5) / 2, y + 96, name)


def fig_bars(lay: Layout, r: pymupdf.Rect, arg: str) -> None:
    page = lay.doc[lay.pno]
    pairs = [p.split("=") for p in arg.split(",")]
    o = pymupdf.Point(r.x0 + 60, r.y1 - 18)
    page.draw_line(o, (r.x1 - 40, o.y), color=(0, 0, 0))
    page.draw_line(o, (o.x, r.y0), color=(0, 0, 0))
    top = max(float(v) for _, v in pairs)
    bw = (r.x1 - 40 - o.x) / len(pairs)
    for i, (k, v) in enumerate(pairs):
        h = (o.y - r.y0 - 10) * float(v) / top
        x = o.x + i * bw + bw * 0.2
        page.draw_rect(pymupdf.Rect(x, o.y - h, x + bw * 0.6, o.y), color=(0, 0, 0), fill=(0.6,) * 3, width=0.6)
        _label(lay, x + bw * 0.3 - text_width(k.strip(), "helv", 8.5) / 2, o.y + 12, k.strip())
        _label(lay, x + bw * 0.3 - text_width(v.strip(), "helv", 8.5) / 2, o.y - h - 4, v.strip())


FIG_HEIGHT = {"chain": 70.0, "phscale": 150.0, "triangle": 120.0}
FIGURES = {
    "cell": fig_cell,
    "chain": fig_chain,
    "atom": fig_atom,
    "graph": fig_graph,
    "particles": fig_particles,
    "forces": fig_forces,
    "circuit": fig_circuit,
    "wave": fig_wave,
    "triangle": fig_triangle,
    "phscale": fig_phscale,
    "bars": fig_bars,
}
