"""Mathematics diagrams: a right-angled triangle for Pythagoras' theorem and the unit circle.

Each `draw_<label>(c) -> facts` draws one variant in the local 100 x 100 square (canvas.py) with `c.rng` only.
"""

from __future__ import annotations

import math
from typing import Any

from tutorforge.vision.diagrams.canvas import Canvas, Point, arc, frame

TRIPLES = ((3, 4, 5), (5, 12, 13), (6, 8, 10), (8, 15, 17), (7, 24, 25), (9, 12, 15), (20, 21, 29))
SQUARE_COLOURS = ((250, 190, 110), (140, 200, 240), (170, 220, 140))


def _fit(points: list[Point], box: float) -> tuple[float, float, float]:
    """Scale and offsets that centre `points` in the square (50 +- box/2)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    s = box / max(max(xs) - min(xs), max(ys) - min(ys))
    return s, 50 - s * (max(xs) + min(xs)) / 2, 50 - s * (max(ys) + min(ys)) / 2


def draw_pythagoras_triangle(c: Canvas) -> dict[str, Any]:
    r = c.rng
    a, b, hyp = r.choice(TRIPLES)
    if r.random() < 0.5:
        a, b = b, a
    squares = r.random() < 0.35
    # Mostly the textbook pose (right angle at the bottom, one leg upright), sometimes turned a quarter.
    turn = (0 if r.random() < 0.8 else r.choice([90, 270])) + r.uniform(-10, 10)
    mirror = -1  # leg a points up from leg b
    if r.random() < 0.35:  # right angle at the bottom right instead of the bottom left
        turn += 180
        mirror = 1
    unknown = r.choice(["c", "?"])
    # The triangle with the right angle at the origin: leg b along u, leg a along v (mirrored or not).
    f = frame((0, 0), turn)
    corner, pb, pa = f(0, 0), f(b, 0), f(0, mirror * a)
    tri = [corner, pb, pa]

    def outward_square(p: Point, q: Point) -> list[Point]:
        """The square on side pq, on the side away from the triangle's third vertex."""
        cx, cy = sum(t[0] for t in tri) / 3, sum(t[1] for t in tri) / 3
        nx, ny = -(q[1] - p[1]), q[0] - p[0]
        mx, my = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
        if nx * (cx - mx) + ny * (cy - my) > 0:
            nx, ny = -nx, -ny
        return [p, q, (q[0] + nx, q[1] + ny), (p[0] + nx, p[1] + ny)]

    sides = [(corner, pb), (corner, pa), (pb, pa)]
    outline = tri + ([pt for s in sides for pt in outward_square(*s)] if squares else [])
    s, ox, oy = _fit(outline, 62 if squares else 74)

    def m(p: Point) -> Point:
        return (ox + s * p[0], oy + s * p[1])

    fill = r.choice([(250, 220, 130), (190, 220, 250), (220, 200, 240)])
    if squares:
        for (p, q), colour in zip(sides, SQUARE_COLOURS, strict=True):
            c.polygon([m(t) for t in outward_square(p, q)], fill=colour, width=1.0)
    c.polygon([m(t) for t in tri], fill=fill, width=1.8)
    # Right-angle marker.
    unit = 6 / s
    e1, e2 = f(unit, 0), f(0, mirror * unit)
    c.line([m(e1), m((e1[0] + e2[0], e1[1] + e2[1])), m(e2)], width=1.0)
    centroid = (sum(t[0] for t in tri) / 3, sum(t[1] for t in tri) / 3)

    def side_text(p: Point, q: Point, text: str) -> None:
        mid = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
        away = (mid[0] - centroid[0], mid[1] - centroid[1])
        d = math.hypot(*away) or 1.0
        off = math.dist(p, q) * s / 2 if squares else 6.0
        at = m(mid)
        at = (at[0] + away[0] / d * off, at[1] + away[1] / d * off)
        c.text(text, at, size=6.5)

    side_text(corner, pb, str(b))
    side_text(corner, pa, str(a))
    side_text(pb, pa, unknown)
    c.label("hypotenuse", m(((pb[0] + pa[0]) / 2, (pb[1] + pa[1]) / 2)))
    c.label("right angle", m(corner))
    return {"a": a, "b": b, "c": hyp, "squares_on_sides": squares, "hypotenuse_marked": unknown}


ANGLES = (30, 45, 60, 120, 135, 150, 210, 225, 240, 300, 315, 330)


def draw_unit_circle(c: Canvas) -> dict[str, Any]:
    r = c.rng
    theta = r.choice(ANGLES)
    radius = r.uniform(31, 37)
    o = (50 + r.uniform(-3, 3), 50 + r.uniform(-3, 3))
    c.arrow((o[0] - radius - 9, o[1]), (o[0] + radius + 10, o[1]), width=1.0, head=3)
    c.arrow((o[0], o[1] + radius + 9), (o[0], o[1] - radius - 10), width=1.0, head=3)
    c.text("x", (o[0] + radius + 11, o[1] + 4), size=5, anchor="lm")
    c.text("y", (o[0] + 4, o[1] - radius - 11), size=5, anchor="lm")
    circle_colour = r.choice([(40, 90, 220), (60, 60, 60), (150, 60, 170)])
    c.line(arc(o, radius, radius, 0, 360, 96), color=circle_colour, width=1.8)
    for v, (dx, dy) in (
        ("1", (radius + 3, 4)),
        ("-1", (-radius - 4, 4)),
        ("1", (3, -radius - 3)),
        ("-1", (3, radius + 4)),
    ):
        c.text(v, (o[0] + dx, o[1] + dy), size=4.4, anchor="lm" if dx > 0 and dy > 0 else "mm")
    t = math.radians(theta)
    p = (o[0] + radius * math.cos(t), o[1] - radius * math.sin(t))
    c.line([o, p], width=1.6)
    colour_cos, colour_sin = (220, 60, 40), (30, 140, 70)
    project = r.random() < 0.75
    if project:
        c.line([p, (p[0], o[1])], color=colour_sin, width=1.4, dashed=True)
        c.line([o, (p[0], o[1])], color=colour_cos, width=2.2)
    ar = 8.0
    c.line(
        [
            (o[0] + ar * math.cos(math.radians(a)), o[1] - ar * math.sin(math.radians(a)))
            for a in range(0, theta + 1, 3)
        ],
        width=1.0,
    )
    mid = math.radians(theta / 2)
    c.text(f"{theta}°", (o[0] + (ar + 7) * math.cos(mid), o[1] - (ar + 7) * math.sin(mid)), size=4.6)
    c.circle(p, 1.8, fill=(0, 0, 0), solid=True, outline=False)
    cos_v, sin_v = math.cos(t), math.sin(t)
    point = f"({cos_v:.2f}, {sin_v:.2f})"
    show_point = r.random() < 0.6
    if show_point:
        at = (min(max(p[0] + 8 * cos_v, 20), 80), p[1] - 6 * (1 if sin_v > 0 else -1) - 3 * sin_v)
        c.text(point, at, size=4.4)
    c.label("radius = 1", ((o[0] + p[0]) / 2, (o[1] + p[1]) / 2))
    c.label("angle", (o[0] + ar * math.cos(mid), o[1] - ar * math.sin(mid)))
    if project:
        c.label("cos", ((o[0] + p[0]) / 2, o[1]))
        c.label("sin", (p[0], (o[1] + p[1]) / 2))
    return {
        "angle_degrees": theta,
        "quadrant": 1 + theta // 90,
        "cos": round(cos_v, 3),
        "sin": round(sin_v, 3),
        "point": point,
        "projections_drawn": project,
        "point_written": show_point,
    }


__all__ = ["draw_pythagoras_triangle", "draw_unit_circle"]
