"""The drawing surface of the diagram generator: one PIL image in one style, local 0..100 coordinates, two RNGs.

    c = Canvas(224, style=1, rng=variant_rng, layout_rng=layout_rng, figure=(4, 2))
    c.circle((50, 50), 30, fill=(250, 200, 180))      # outline + flat fill (style 1), outline only (style 0)
    c.label("nucleus", (55, 45))                      # a text label with a leader line (style 2 only)
    image = c.finish()                                # labels, caption bar, downsampled RGB image

Draw functions (biology.py, chemistry.py, ...) work in a 100 x 100 local square, y pointing down, and take every
random choice of their *variant* from `c.rng` only. That RNG is seeded from (label, seed) alone, so one seed draws
the same variant, with the same facts, in every style. Everything that is style-specific (the affine jitter of the
whole figure, the background tint) comes from `layout_rng`, which the draw functions never see.

Styles: 0 line art (black, thin, no fill, white), 1 flat colour (fills, thick outlines, tinted background),
2 textbook (pale fills, off-white page, part labels with leader lines, a "Figure n.m" caption bar, smaller figure).
The image is drawn at SUPERSAMPLE x the size and downsampled once, which anti-aliases lines and text.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

Color = tuple[int, int, int]
Point = tuple[float, float]
Frame = Callable[[float, float], Point]

LINE_ART, FLAT, TEXTBOOK = 0, 1, 2
STYLES = (LINE_ART, FLAT, TEXTBOOK)
SUPERSAMPLE = 2

WHITE: Color = (255, 255, 255)
PAGE: Color = (250, 246, 234)  # style 2 page
CAPTION_BAR: Color = (228, 222, 204)
TINTS: tuple[Color, ...] = ((232, 241, 250), (246, 240, 226), (236, 247, 236), (248, 236, 243), (240, 238, 250))
INK: dict[int, Color] = {LINE_ART: (0, 0, 0), FLAT: (30, 32, 44), TEXTBOOK: (40, 38, 36)}
PEN: dict[int, float] = {LINE_ART: 1.0, FLAT: 2.1, TEXTBOOK: 1.4}  # outline width in output pixels at 224 px
LABEL_PX = 8.5  # label and caption font size in output pixels at 224 px


@lru_cache(maxsize=128)
def font(px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at `px` pixels (no font files; ASCII and Latin-1 signs such as the degree sign)."""
    return ImageFont.load_default(size=max(4, px))


def blend(a: Color, b: Color, t: float) -> Color:
    """`a` moved a fraction `t` of the way towards `b`."""
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def frame(origin: Point, angle: float = 0.0, scale: float = 1.0) -> Frame:
    """A local frame: f(u, v) is the point u along the direction `angle` (degrees) and v to its right, from origin."""
    ca, sa = math.cos(math.radians(angle)) * scale, math.sin(math.radians(angle)) * scale

    def to(u: float, v: float) -> Point:
        return (origin[0] + u * ca - v * sa, origin[1] + u * sa + v * ca)

    return to


def arc(center: Point, rx: float, ry: float, a0: float, a1: float, n: int = 48, angle: float = 0.0) -> list[Point]:
    """Points of an elliptic arc from a0 to a1 degrees (ellipse axes rotated by `angle` degrees)."""
    f = frame(center, angle)
    return [
        f(rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)), ry * math.sin(math.radians(a0 + (a1 - a0) * i / n)))
        for i in range(n + 1)
    ]


def smooth(points: Sequence[Point], rounds: int = 3, closed: bool = True) -> list[Point]:
    """Chaikin corner cutting: a rounded outline through the control points."""
    pts = list(points)
    for _ in range(rounds):
        out: list[Point] = [] if closed else [pts[0]]
        pairs = zip(pts, pts[1:] + pts[:1], strict=True) if closed else zip(pts[:-1], pts[1:], strict=True)
        for (x0, y0), (x1, y1) in pairs:
            out += [(0.75 * x0 + 0.25 * x1, 0.75 * y0 + 0.25 * y1), (0.25 * x0 + 0.75 * x1, 0.25 * y0 + 0.75 * y1)]
        pts = out if closed else [*out, pts[-1]]
    return pts


def rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float) -> list[Point]:
    """Outline of a rectangle with round corners of radius r."""
    r = min(r, (x1 - x0) / 2, (y1 - y0) / 2)
    return (
        arc((x1 - r, y0 + r), r, r, -90, 0, 8)
        + arc((x1 - r, y1 - r), r, r, 0, 90, 8)
        + arc((x0 + r, y1 - r), r, r, 90, 180, 8)
        + arc((x0 + r, y0 + r), r, r, 180, 270, 8)
    )


def lens_shape(start: Point, end: Point, width: float, n: int = 16) -> list[Point]:
    """A pointed leaf / petal outline from start to end, `width` across at its widest."""
    length = math.dist(start, end)
    f = frame(start, math.degrees(math.atan2(end[1] - start[1], end[0] - start[0])))
    side = [(length * i / n, width / 2 * math.sin(math.pi * i / n) ** 0.8) for i in range(n + 1)]
    return [f(u, v) for u, v in side] + [f(u, -v) for u, v in reversed(side[1:-1])]


class Canvas:
    """One diagram being drawn: the PIL image, its style, the variant RNG and the placement of the figure."""

    def __init__(
        self,
        size: int,
        style: int,
        rng: random.Random,
        layout_rng: random.Random,
        figure: tuple[int, int] = (1, 1),
    ) -> None:
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {style!r}")
        if size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {size}")
        self.size, self.style, self.rng, self.figure = size, style, rng, figure
        self.width = size * SUPERSAMPLE
        w = self.width
        self.background: Color = WHITE if style == LINE_ART else layout_rng.choice(TINTS) if style == FLAT else PAGE
        self.ink = INK[style]
        self.image = Image.new("RGB", (w, w), self.background)
        self.draw = ImageDraw.Draw(self.image)
        # The figure's square: the whole canvas, or (style 2) a smaller square above the caption bar.
        cx, cy, span = (w / 2, w * 0.445, w * 0.76) if style == TEXTBOOK else (w / 2, w / 2, w * 0.97)
        jitter = layout_rng.uniform(0.9, 1.03)
        turn = math.radians(layout_rng.uniform(-6.0, 6.0))
        shift = 0.035 * w
        self._origin = (cx + layout_rng.uniform(-shift, shift), cy + layout_rng.uniform(-shift, shift))
        self.k = span / 100 * jitter  # pixels per local unit
        self._ck, self._sk = math.cos(turn) * self.k, math.sin(turn) * self.k
        self.pen = PEN[style] * size / 224 * SUPERSAMPLE
        self._labels: list[tuple[str, Point]] = []
        self._box = [math.inf, math.inf, -math.inf, -math.inf]  # pixel bounds of the figure drawn so far

    # -- coordinates and colours ---------------------------------------------------------------------------------
    def px(self, p: Point) -> Point:
        """Local (0..100) -> supersampled pixels, through the figure's jitter (offset, scale, small rotation)."""
        x, y = p[0] - 50.0, p[1] - 50.0
        q = (self._origin[0] + x * self._ck - y * self._sk, self._origin[1] + x * self._sk + y * self._ck)
        box = self._box
        box[0], box[1], box[2], box[3] = min(box[0], q[0]), min(box[1], q[1]), max(box[2], q[0]), max(box[3], q[1])
        return q

    def fill_of(self, color: Color | None, solid: bool = False) -> Color | None:
        """The fill a style gives `color`: the background in line art (black if `solid`), flat, or pale (textbook)."""
        if color is None:
            return None
        if self.style == LINE_ART:  # no colour, but shapes still hide what is behind them
            return self.ink if solid else self.background
        if self.style == TEXTBOOK and not solid:
            return blend(color, WHITE, 0.35)
        return color

    def ink_of(self, color: Color | None) -> Color:
        """The colour of a coloured line: black in line art, the colour itself otherwise."""
        return self.ink if color is None or self.style == LINE_ART else color

    def _w(self, width: float) -> int:
        return max(1, round(width * self.pen))

    # -- shapes ----------------------------------------------------------------------------------------------------
    def line(
        self, points: Sequence[Point], color: Color | None = None, width: float = 1.0, dashed: bool = False
    ) -> None:
        """A polyline; `dashed` breaks it into dashes of about 3 local units."""
        pts = [self.px(p) for p in points]
        fill, w = self.ink_of(color), self._w(width)
        if not dashed:
            self.draw.line(pts, fill=fill, width=w, joint="curve")
            return
        dash, on, left = 3.0 * self.k, True, 3.0 * self.k
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            seg, pos = math.hypot(x1 - x0, y1 - y0), 0.0
            while seg > 0 and pos < seg:
                step = min(left, seg - pos)
                if on:
                    a, b = pos / seg, (pos + step) / seg
                    self.draw.line(
                        [(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                        fill=fill,
                        width=w,
                    )
                pos += step
                left -= step
                if left <= 1e-9:
                    on, left = not on, dash

    def arrow(
        self,
        start: Point,
        end: Point,
        color: Color | None = None,
        width: float = 1.0,
        head: float = 3.5,
        both: bool = False,
        dashed: bool = False,
    ) -> None:
        """A line with a filled arrowhead at `end` (and at `start` if `both`)."""
        self.line([start, end], color, width, dashed)
        self.head(start, end, color, head)
        if both:
            self.head(end, start, color, head)

    def head(self, start: Point, end: Point, color: Color | None = None, size: float = 3.5) -> None:
        """A filled arrowhead at `end`, pointing away from `start`."""
        ang = math.degrees(math.atan2(end[1] - start[1], end[0] - start[0]))
        f = frame(end, ang)
        self.draw.polygon(
            [self.px(f(0, 0)), self.px(f(-size, size * 0.45)), self.px(f(-size, -size * 0.45))],
            fill=self.ink_of(color),
        )

    def circle(
        self,
        center: Point,
        r: float,
        fill: Color | None = None,
        solid: bool = False,
        width: float = 1.0,
        outline: bool = True,
        color: Color | None = None,
    ) -> None:
        """A circle of local radius r; `solid` fills it in every style (black in line art)."""
        x, y = self.px(center)
        rr = r * self.k
        f = self.fill_of(fill, solid)
        if f is None and not outline:
            return
        self.draw.ellipse(
            [x - rr, y - rr, x + rr, y + rr],
            fill=f,
            outline=self.ink_of(color) if outline else None,
            width=self._w(width) if outline else 0,
        )

    def polygon(
        self,
        points: Sequence[Point],
        fill: Color | None = None,
        solid: bool = False,
        width: float = 1.0,
        outline: bool = True,
        color: Color | None = None,
    ) -> None:
        """A closed polygon (outline and, by style, fill)."""
        pts = [self.px(p) for p in points]
        f = self.fill_of(fill, solid)
        if f is not None:
            self.draw.polygon(pts, fill=f)
        if outline:
            self.draw.line([*pts, pts[0], pts[1]], fill=self.ink_of(color), width=self._w(width), joint="curve")

    def ellipse(self, center: Point, rx: float, ry: float, angle: float = 0.0, **kw) -> None:
        """An ellipse with axes rx, ry turned by `angle` degrees (keywords as for polygon)."""
        self.polygon(arc(center, rx, ry, 0, 360, 40, angle)[:-1], **kw)

    def rect(self, x0: float, y0: float, x1: float, y1: float, **kw) -> None:
        """An axis-aligned rectangle in local coordinates (keywords as for polygon)."""
        self.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], **kw)

    def tube(self, points: Sequence[Point], width: float, fill: Color | None = None) -> None:
        """A vessel / stem: a thick band with an ink outline (an outlined hollow band in line art)."""
        pts = [self.px(p) for p in points]
        outer = max(3, round(width * self.k))
        inner = max(1, outer - 2 * self._w(1.0))
        self.draw.line(pts, fill=self.ink, width=outer, joint="curve")
        inside = self.fill_of(fill) or self.background
        self.draw.line(pts, fill=inside, width=inner, joint="curve")

    def text(self, s: str, at: Point, size: float = 6.0, color: Color | None = None, anchor: str = "mm") -> None:
        """Text that belongs to the figure (atom symbols, F and 2F, side lengths), drawn in every style."""
        self.draw.text(self.px(at), s, font=font(round(size * self.k)), fill=self.ink_of(color), anchor=anchor)

    def label(self, name: str, at: Point) -> None:
        """A part label with a leader line to `at` (drawn by finish(), in the textbook style only)."""
        if self.style == TEXTBOOK:
            self._labels.append((name, self.px(at)))

    # -- finishing -------------------------------------------------------------------------------------------------
    def finish(self) -> Image.Image:
        """Draw the labels and the caption bar (style 2) and return the downsampled RGB image."""
        if self.style == TEXTBOOK:
            self._draw_labels()
            self._draw_caption_bar()
        return self.image.resize((self.size, self.size), Image.Resampling.LANCZOS)

    def _draw_labels(self) -> None:
        """Labels in two columns beside the figure (as close to it as they fit), leader lines to their parts."""
        w = self.width
        fpx = round(LABEL_PX * self.size / 224 * SUPERSAMPLE)
        fnt = font(fpx)
        gap, top, bottom = fpx * 1.25, fpx, w * 0.87 - fpx * 0.6
        pad = fpx * 0.3
        x_lo, x_hi = max(self._box[0], 0.0), min(self._box[2], float(w))
        mid = (x_lo + x_hi) / 2
        left = sorted(((name, p) for name, p in self._labels if p[0] < mid), key=lambda t: t[1][0])
        right = sorted(((name, p) for name, p in self._labels if p[0] >= mid), key=lambda t: t[1][0])
        while len(left) > len(right) + 1:  # balance the columns: move the innermost label across
            right.insert(0, left.pop())
        while len(right) > len(left) + 1:
            left.append(right.pop(0))
        for is_left, column in ((True, left), (False, right)):
            side = sorted(column, key=lambda t: t[1][1])
            ys = [min(max(p[1], top), bottom) for _, p in side]
            for i in range(1, len(ys)):  # push down to clear the previous label, then back up from the bottom
                ys[i] = max(ys[i], ys[i - 1] + gap)
            for i in range(len(ys) - 1, -1, -1):
                ys[i] = min(ys[i], bottom if i == len(ys) - 1 else ys[i + 1] - gap)
            for (name, (ax, ay)), y in zip(side, ys, strict=True):
                tw = self.draw.textlength(name, font=fnt)
                if is_left:
                    x0 = max(pad * 2, min(x_lo - pad * 3, ax - pad * 6) - tw)
                    end = x0 + tw + pad
                else:
                    x0 = min(w - pad * 2 - tw, max(x_hi + pad * 3, ax + pad * 6))
                    end = x0 - pad
                self.draw.line([(end, y), (ax, ay)], fill=self.ink, width=max(1, round(self.pen * 0.8)))
                r = self.pen * 1.1
                self.draw.ellipse([ax - r, ay - r, ax + r, ay + r], fill=self.ink)
                self.draw.rectangle([x0 - pad, y - fpx * 0.62, x0 + tw + pad, y + fpx * 0.62], fill=self.background)
                self.draw.text((x0, y), name, font=fnt, fill=self.ink, anchor="lm")

    def _draw_caption_bar(self) -> None:
        w = self.width
        y0 = w * 0.885
        self.draw.rectangle([0, y0, w, w], fill=CAPTION_BAR)
        self.draw.line([(0, y0), (w, y0)], fill=self.ink, width=max(1, round(self.pen * 0.7)))
        fpx = round(LABEL_PX * 1.15 * self.size / 224 * SUPERSAMPLE)
        n, m = self.figure
        self.draw.text((w * 0.04, (y0 + w) / 2), f"Figure {n}.{m}", font=font(fpx), fill=self.ink, anchor="lm")
