"""Physics diagrams: the Bohr atom, a lens ray diagram, series and parallel circuits, a transverse wave, a bar
magnet's field, the solar system and a lever; one `draw_<label>(c) -> facts` each, random choices from `c.rng`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tutorforge.vision.diagrams.canvas import Canvas, Color, Frame, Point, arc, frame, lens_shape

# (name, symbol, electrons per shell)
ATOMS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("hydrogen", "H", (1,)),
    ("helium", "He", (2,)),
    ("lithium", "Li", (2, 1)),
    ("beryllium", "Be", (2, 2)),
    ("boron", "B", (2, 3)),
    ("carbon", "C", (2, 4)),
    ("nitrogen", "N", (2, 5)),
    ("oxygen", "O", (2, 6)),
    ("fluorine", "F", (2, 7)),
    ("neon", "Ne", (2, 8)),
    ("sodium", "Na", (2, 8, 1)),
    ("magnesium", "Mg", (2, 8, 2)),
    ("aluminium", "Al", (2, 8, 3)),
    ("silicon", "Si", (2, 8, 4)),
    ("phosphorus", "P", (2, 8, 5)),
    ("sulfur", "S", (2, 8, 6)),
    ("chlorine", "Cl", (2, 8, 7)),
    ("argon", "Ar", (2, 8, 8)),
    ("potassium", "K", (2, 8, 8, 1)),
    ("calcium", "Ca", (2, 8, 8, 2)),
)


def draw_atom_bohr(c: Canvas) -> dict[str, Any]:
    r = c.rng
    name, symbol, shells = r.choice(ATOMS[2:] if r.random() < 0.85 else ATOMS[:2])
    protons = sum(shells)
    centre = (50 + r.uniform(-3, 3), 50 + r.uniform(-3, 3))
    outer = r.uniform(36, 42)  # the outer shell nearly fills the figure, whatever the number of shells
    first = outer if len(shells) == 1 else r.uniform(13, 16) if len(shells) > 2 else r.uniform(18, 22)
    gap = (outer - first) / (len(shells) - 1) if len(shells) > 1 else 0.0
    e_colour = r.choice([(40, 90, 230), (230, 120, 30), (30, 160, 90)])
    nucleus = r.uniform(6, 8)
    detailed = r.random() < 0.5
    rings = []
    for i, count in enumerate(shells):
        rad = first + i * gap
        rings.append(rad)
        c.circle(centre, rad, width=1.4, color=(90, 90, 100))
        phase = r.uniform(0, 360)
        for j in range(count):
            a = math.radians(phase + 360 * j / count)
            c.circle((centre[0] + rad * math.cos(a), centre[1] + rad * math.sin(a)), 2.8, fill=e_colour, solid=True)
    c.circle(centre, nucleus, fill=(230, 90, 80), width=1.1)
    if detailed:  # protons (+) and neutrons in the nucleus
        for k in range(7):
            a = 2 * math.pi * k / 7
            d = 0 if k == 0 else nucleus * 0.55
            p = (centre[0] + d * math.cos(a), centre[1] + d * math.sin(a))
            c.circle(p, nucleus * 0.3, fill=(240, 60, 60) if k % 2 else (170, 170, 180), width=0.6)
    else:
        c.text(symbol, centre, size=nucleus * 1.1, color=(255, 255, 255) if c.style == 1 else None)
    c.label("nucleus", centre)
    c.label(
        "electron",
        (centre[0] + rings[-1] * math.cos(math.radians(phase)), centre[1] + rings[-1] * math.sin(math.radians(phase))),
    )
    c.label("electron shell", (centre[0] - rings[0] * 0.71, centre[1] + rings[0] * 0.71))
    return {
        "element": name,
        "symbol": symbol,
        "protons": protons,
        "shells": len(shells),
        "electrons": list(shells),
        "nucleus_detail": "protons and neutrons" if detailed else "symbol",
    }


LENS_CASES = {
    "beyond 2F": "real, inverted and diminished",
    "at 2F": "real, inverted and the same size",
    "between F and 2F": "real, inverted and magnified",
    "inside F": "virtual, upright and magnified",
}


def _clip_ray(p: Point, q: Point, x_end: float) -> Point:
    """The point on the ray from p through q at x = x_end."""
    t = (x_end - p[0]) / (q[0] - p[0])
    return (x_end, p[1] + (q[1] - p[1]) * t)


def draw_lens_ray_diagram(c: Canvas) -> dict[str, Any]:
    r = c.rng
    case = r.choice(sorted(LENS_CASES))
    axis, lx = 52 + r.uniform(-4, 4), 50.0
    if case == "beyond 2F":
        f, h = r.uniform(12, 14.5), r.uniform(10, 15)
        u = 2 * f + r.uniform(4, 9)
    elif case == "at 2F":
        f, h = r.uniform(13, 16), r.uniform(10, 14)
        u = 2 * f
    elif case == "between F and 2F":
        f, h = r.uniform(11, 12.5), r.uniform(8, 11)
        u = f * r.uniform(1.45, 1.75)
    else:
        f, h = r.uniform(15, 17), r.uniform(8, 10)
        u = f * r.uniform(0.5, 0.62)
    v = u * f / (u - f)  # image distance (negative: virtual, same side as the object)
    m = -v / u  # magnification: image height = m * h (up positive)
    ray_colours = r.choice([((220, 50, 50), (40, 100, 220)), ((230, 120, 20), (30, 150, 90))])
    three = case != "inside F" and r.random() < 0.5

    c.line([(3, axis), (97, axis)], width=0.9)
    c.polygon(lens_shape((lx, axis - 30), (lx, axis + 30), 9), fill=(170, 215, 245), width=1.2)
    for sign in (-1, 1):
        for mult, name in ((1, "F"), (2, "2F")):
            x = lx + sign * mult * f
            c.line([(x, axis - 1.8), (x, axis + 1.8)], width=1.0)
            c.text(name, (x, axis + 5), size=4.6)
    obj_x, top = lx - u, axis - h
    c.arrow((obj_x, axis), (obj_x, top), color=(30, 120, 40), width=2.0, head=3.5)
    img_x, img_top = lx + v, axis - m * h

    r1, r2 = ray_colours
    # Ray 1: parallel to the axis, then through the far focal point.
    c.line([(obj_x, top), (lx, top)], color=r1, width=1.2)
    c.head((obj_x, top), ((obj_x + lx) / 2, top), r1, 3)
    far1 = _clip_ray((lx, top), (lx + f, axis), 97)
    c.line([(lx, top), far1], color=r1, width=1.2)
    # Ray 2: straight through the centre of the lens.
    far2 = _clip_ray((obj_x, top), (lx, axis), 97)
    c.line([(obj_x, top), far2], color=r2, width=1.2)
    c.head((obj_x, top), ((obj_x + lx) / 2, (top + axis) / 2), r2, 3)
    if three:  # Ray 3: through the near focal point, then parallel.
        at_lens = _clip_ray((obj_x, top), (lx - f, axis), lx)
        c.line([(obj_x, top), at_lens, (97, at_lens[1])], color=(120, 60, 170), width=1.1)
    if v > 0:
        c.arrow((img_x, axis), (img_x, img_top), color=(150, 60, 150), width=2.0, head=3.5)
    else:
        c.line([(lx, top), (img_x, img_top)], color=r1, width=0.9, dashed=True)
        c.line([(obj_x, top), (img_x, img_top)], color=r2, width=0.9, dashed=True)
        c.arrow((img_x, axis), (img_x, img_top), color=(150, 60, 150), width=1.6, head=3.5, dashed=True)
    c.label("converging lens", (lx, axis - 24))
    c.label("object", (obj_x, axis - h * 0.6))
    c.label("image", (img_x, axis - m * h * 0.6))
    c.label("principal axis", (92, axis))
    return {
        "object_distance": case,
        "image": LENS_CASES[case],
        "image_side": "same side as the object" if v < 0 else "opposite side to the object",
        "rays": 3 if three else 2,
    }


# -- circuits ------------------------------------------------------------------------------------------------------
Symbol = Callable[[Canvas, Frame], None]


def _cell(c: Canvas, f: Frame) -> None:
    c.line([f(-1.6, -6.5), f(-1.6, 6.5)], width=1.3)
    c.line([f(1.6, -3.2), f(1.6, 3.2)], width=3.0)


def _resistor_box(c: Canvas, f: Frame) -> None:
    c.polygon([f(-6, -2.6), f(6, -2.6), f(6, 2.6), f(-6, 2.6)], fill=(250, 250, 250), width=1.2)


def _resistor_zigzag(c: Canvas, f: Frame) -> None:
    c.line([f(-6 + i, (0 if i in (0, 12) else (2.6 if i % 2 else -2.6))) for i in range(13)], width=1.2)


def _bulb(c: Canvas, f: Frame) -> None:
    c.polygon(
        [f(4.5 * math.cos(t * math.pi / 12), 4.5 * math.sin(t * math.pi / 12)) for t in range(24)],
        fill=(255, 230, 90),
        width=1.2,
    )
    d = 4.5 * 0.707
    c.line([f(-d, -d), f(d, d)], width=1.0)
    c.line([f(-d, d), f(d, -d)], width=1.0)


def _ammeter(c: Canvas, f: Frame) -> None:
    c.polygon(
        [f(4.5 * math.cos(t * math.pi / 12), 4.5 * math.sin(t * math.pi / 12)) for t in range(24)],
        fill=(250, 250, 250),
        width=1.2,
    )
    c.text("A", f(0, 0), size=5.5)


def _switch(closed: bool) -> Symbol:
    def draw(c: Canvas, f: Frame) -> None:
        for u in (-5.0, 5.0):
            c.circle(f(u, 0), 1.1, fill=(0, 0, 0), solid=True, outline=False)
        c.line([f(-5, 0), f(5, 0) if closed else f(4, -5)], width=1.3)

    return draw


GAP = {"cell": 2.4, "resistor": 6.5, "bulb": 4.7, "ammeter": 4.7, "switch": 5.2}


def _wire(c: Canvas, a: Point, b: Point, parts: list[tuple[str, Symbol]]) -> list[Point]:
    """A straight wire from a to b with parts spread along it (the wire breaks around each); their centres."""
    length = math.dist(a, b)
    ang = math.degrees(math.atan2(b[1] - a[1], b[0] - a[0]))
    f = frame(a, ang)
    cuts, centres = [0.0], []
    for i, (kind, draw) in enumerate(parts):
        u = length * (i + 1) / (len(parts) + 1)
        g = frame(f(u, 0), ang)
        draw(c, g)
        cuts += [u - GAP[kind], u + GAP[kind]]
        centres.append(f(u, 0))
    cuts.append(length)
    for s, e in zip(cuts[::2], cuts[1::2], strict=True):
        c.line([f(s, 0), f(e, 0)], width=1.2)
    return centres


def draw_series_circuit(c: Canvas) -> dict[str, Any]:
    r = c.rng
    x0, x1 = r.uniform(12, 20), r.uniform(80, 88)
    y0, y1 = r.uniform(18, 30), r.uniform(70, 82)
    cells = r.choice([1, 1, 2])
    resistors = r.randint(1, 4)
    resistor = _resistor_box if r.random() < 0.5 else _resistor_zigzag
    bulbs = r.choice([0, 0, 1])
    switch = r.choice(["none", "open", "closed"])
    ammeter = r.random() < 0.35
    edges = {
        "top": ((x0, y0), (x1, y0)),
        "right": ((x1, y0), (x1, y1)),
        "bottom": ((x1, y1), (x0, y1)),
        "left": ((x0, y1), (x0, y0)),
    }
    battery_edge = r.choice(["left", "top"])
    others = [e for e in ("top", "right", "bottom", "left") if e != battery_edge]
    slots: dict[str, list[tuple[str, Symbol]]] = {e: [] for e in edges}
    slots[battery_edge] = [("cell", _cell)] * cells
    items: list[tuple[str, Symbol]] = [("resistor", resistor)] * resistors + [("bulb", _bulb)] * bulbs
    items += [("ammeter", _ammeter)] if ammeter else []
    items += [("switch", _switch(switch == "closed"))] if switch != "none" else []
    r.shuffle(items)
    for i, item in enumerate(items):
        slots[others[i % 3] if i < 3 else r.choice(others)].append(item)
    where: dict[str, list[Point]] = {}
    for e, (a, b) in edges.items():
        for (kind, _), p in zip(slots[e], _wire(c, a, b, slots[e]), strict=True):
            where.setdefault(kind, []).append(p)
    arrow = switch != "open" and r.random() < 0.5
    if arrow:  # conventional current, from the + (long) plate round the loop
        c.arrow((x1 - 3, y0 + (y1 - y0) * 0.2), (x1 - 3, y0 + (y1 - y0) * 0.32), width=0.9, head=3)
    c.label("cell", where["cell"][0])
    c.label("resistor", where["resistor"][0])
    if "switch" in where:
        c.label("switch", where["switch"][0])
    if "bulb" in where:
        c.label("lamp", where["bulb"][0])
    c.label("wire", (x1, y1))
    return {
        "cells": cells,
        "resistors": resistors,
        "bulbs": bulbs,
        "switch": switch,
        "ammeter": ammeter,
        "resistor_symbol": "rectangle" if resistor is _resistor_box else "zigzag",
        "loops": 1,
    }


def draw_parallel_circuit(c: Canvas) -> dict[str, Any]:
    r = c.rng
    branches = r.randint(2, 4)
    x0, x1 = r.uniform(10, 18), r.uniform(82, 90)
    y0, y1 = r.uniform(16, 26), r.uniform(74, 84)
    resistor = _resistor_box if r.random() < 0.5 else _resistor_zigzag
    cells = r.choice([1, 1, 2])
    switch = r.choice(["none", "none", "open", "closed"])
    kinds = [r.choice(["resistor", "resistor", "bulb"]) for _ in range(branches)]
    ammeter = r.random() < 0.3
    # Main line: the cell(s) on the left side, the rails along the top and bottom.
    _wire(c, (x0, y1), (x0, y0), [("cell", _cell)] * cells)
    bx = [x0 + (x1 - x0) * (i + 1) / branches for i in range(branches)]
    bx[-1] = x1
    top_parts: list[tuple[str, Symbol]] = [("switch", _switch(switch == "closed"))] if switch != "none" else []
    first = bx[0]
    _wire(c, (x0, y0), (first, y0), top_parts)
    _wire(c, (x0, y1), (first, y1), [("ammeter", _ammeter)] if ammeter else [])
    c.line([(first, y0), (x1, y0)], width=1.2)
    c.line([(first, y1), (x1, y1)], width=1.2)
    centres = []
    for x, kind in zip(bx, kinds, strict=True):
        symbol = {"resistor": resistor, "bulb": _bulb}[kind]
        centres += _wire(c, (x, y0), (x, y1), [(kind, symbol)])
        if x != x1:
            for y in (y0, y1):
                c.circle((x, y), 1.5, fill=(0, 0, 0), solid=True, outline=False)
    c.label("cell", (x0, (y0 + y1) / 2))
    c.label("junction", (bx[0], y0))
    c.label("branch", centres[-1])
    if switch != "none":
        c.label("switch", ((x0 + first) / 2, y0))
    return {
        "branches": branches,
        "cells": cells,
        "resistors": kinds.count("resistor"),
        "bulbs": kinds.count("bulb"),
        "switch": switch,
        "ammeter": ammeter,
        "resistor_symbol": "rectangle" if resistor is _resistor_box else "zigzag",
    }


def draw_transverse_wave(c: Canvas) -> dict[str, Any]:
    r = c.rng
    n = r.choice([2, 3, 4])
    amp = r.uniform(12, 20)
    axis = 52 + r.uniform(-5, 5)
    x0, x1 = r.uniform(6, 10), r.uniform(88, 94)
    flip = r.random() < 0.5
    colour = r.choice([(30, 100, 220), (220, 60, 60), (40, 150, 80), (140, 60, 180)])
    lam = (x1 - x0) / n
    sign = -1 if flip else 1

    def y(x: float) -> float:
        return axis - sign * amp * math.sin(2 * math.pi * (x - x0) / lam)

    c.line([(x0 - 2, axis), (x1 + 2, axis)], width=0.8, dashed=True)
    c.line([(x0 + (x1 - x0) * i / 240, y(x0 + (x1 - x0) * i / 240)) for i in range(241)], color=colour, width=2.4)
    crest0 = x0 + lam * (0.25 if not flip else 0.75)
    mark_l, mark_a = r.random() < 0.8, r.random() < 0.7
    if mark_l:
        ym = axis - amp - 6
        c.arrow((crest0, ym), (crest0 + lam, ym), width=0.9, head=2.8, both=True)
        for x in (crest0, crest0 + lam):
            c.line([(x, ym - 2.5), (x, y(x) - 1.5)], width=0.7, dashed=True)
    trough = crest0 + lam / 2 + (lam if n > 2 else 0)
    if mark_a:
        c.arrow((trough, axis), (trough, axis + amp), width=0.9, head=2.8, both=True)
    direction = r.choice(["right", "left"])
    ya = axis + amp + 10
    if direction == "right":
        c.arrow((x1 - 22, ya), (x1 - 2, ya), color=colour, width=1.6, head=3.5)
    else:
        c.arrow((x0 + 22, ya), (x0 + 2, ya), color=colour, width=1.6, head=3.5)
    c.label("crest", (crest0 + lam, y(crest0 + lam)))
    c.label("trough", (trough, y(trough)))
    if mark_l:
        c.label("wavelength", (crest0 + lam / 2, axis - amp - 6))
    if mark_a:
        c.label("amplitude", (trough, axis + amp / 2))
    return {
        "wavelengths": n,
        "crests": n,
        "troughs": n,
        "wavelength_marked": mark_l,
        "amplitude_marked": mark_a,
        "direction": f"to the {direction}",
    }


def _dipole(p: Point, centre: Point, axis_angle: float) -> tuple[float, float]:
    """Direction of a dipole field (north along +axis) at p, in local coordinates."""
    a = math.radians(axis_angle)
    mx, my = math.cos(a), math.sin(a)
    dx, dy = p[0] - centre[0], p[1] - centre[1]
    d = math.hypot(dx, dy) or 1.0
    ux, uy = dx / d, dy / d
    dot = mx * ux + my * uy
    return (3 * dot * ux - mx, 3 * dot * uy - my)


def draw_bar_magnet_field(c: Canvas) -> dict[str, Any]:
    r = c.rng
    vertical = r.random() < 0.25
    angle = (90 if vertical else 0) + r.uniform(-8, 8)
    north_first = r.random() < 0.5  # north at the left (or top) end
    north = ("top" if north_first else "bottom") if vertical else ("left" if north_first else "right")
    length, thick = r.uniform(36, 44), r.uniform(10, 13)
    centre = (50 + r.uniform(-3, 3), 50 + r.uniform(-3, 3))
    f = frame(centre, angle)
    loops = r.choice([2, 3, 4])
    line_colour = r.choice([(60, 60, 60), (40, 90, 200), (150, 60, 160)])
    # Field lines: r = C sin^2(theta) about the magnet's centre, outside the bar, both sides, arrows N -> S.
    n_sign = -1 if north_first else 1  # north end at u = n_sign * length / 2
    tops: list[Point] = []
    for i in range(loops):
        big = length * (0.95 + 0.55 * i) * r.uniform(0.95, 1.05)
        for side in (-1, 1):
            pts = []
            for k in range(1, 120):
                th = math.pi * k / 120
                rho = big * math.sin(th) ** 2
                u, v = rho * math.cos(th), side * rho * math.sin(th)
                if abs(u) < length / 2 + 0.5 and abs(v) < thick / 2 + 0.5:
                    continue
                pts.append((u, v))
            if len(pts) > 2:
                c.line([f(u, v) for u, v in pts], color=line_colour, width=1.1)
                top = max(pts, key=lambda p: abs(p[1]))
                tops.append(f(*top))
                c.head(f(top[0] + 2 * n_sign, top[1]), f(top[0] - 2 * n_sign, top[1]), line_colour, 3.2)
    for end in (-1, 1):  # straight lines along the axis
        a, b = f(end * (length / 2 + 1), 0), f(end * (length / 2 + 16), 0)
        c.line([a, b], color=line_colour, width=1.1)
        mid = f(end * (length / 2 + 9), 0)
        out = end == n_sign
        c.head(a if out else b, mid, line_colour, 3.2)
    n_col, s_col = (220, 50, 50), (50, 90, 220)
    nu0, su0 = (-length / 2, 0.0) if north_first else (0.0, -length / 2)
    c.polygon(
        [f(nu0, -thick / 2), f(nu0 + length / 2, -thick / 2), f(nu0 + length / 2, thick / 2), f(nu0, thick / 2)],
        fill=n_col,
        width=1.3,
    )
    c.polygon(
        [f(su0, -thick / 2), f(su0 + length / 2, -thick / 2), f(su0 + length / 2, thick / 2), f(su0, thick / 2)],
        fill=s_col,
        width=1.3,
    )
    white = (255, 255, 255) if c.style == 1 else None
    c.text("N", f(nu0 + length / 4, 0), size=thick * 0.7, color=white)
    c.text("S", f(su0 + length / 4, 0), size=thick * 0.7, color=white)
    compasses = r.choice([0, 0, 2, 3])
    for k in range(compasses):
        p = f(r.uniform(-length * 0.7, length * 0.7), (1 if k % 2 else -1) * r.uniform(thick, thick + 12))
        bx, by = _dipole(p, centre, angle + (180 if north_first else 0))
        a = math.degrees(math.atan2(by, bx))
        g = frame(p, a)
        c.circle(p, 4.2, fill=(250, 250, 250), width=0.9)
        c.polygon([g(3.4, 0), g(0, 1.1), g(0, -1.1)], fill=(220, 50, 50), solid=True, outline=False)
        c.polygon([g(-3.4, 0), g(0, 1.1), g(0, -1.1)], fill=(200, 200, 200), width=0.5)
    c.label("north pole", f(nu0 + length / 4, thick / 2))
    c.label("south pole", f(su0 + length / 4, thick / 2))
    c.label("magnetic field line", tops[0])
    return {
        "north_pole": north,
        "orientation": "vertical" if vertical else "horizontal",
        "field_lines": 2 * loops + 2,
        "compasses": compasses,
    }


PLANETS: tuple[tuple[str, float, Color], ...] = (
    ("Mercury", 1.6, (170, 160, 150)),
    ("Venus", 2.5, (230, 190, 110)),
    ("Earth", 2.6, (60, 130, 220)),
    ("Mars", 2.0, (210, 90, 50)),
    ("Jupiter", 6.0, (210, 160, 110)),
    ("Saturn", 5.0, (230, 200, 130)),
    ("Uranus", 3.6, (140, 210, 220)),
    ("Neptune", 3.5, (70, 100, 220)),
)


def _planet(c: Canvas, name: str, at: Point, size: float, colour: Color) -> None:
    if name == "Saturn":
        c.ellipse(at, size * 2.0, size * 0.6, -15, width=1.0, color=(150, 120, 70))
    c.circle(at, size, fill=colour, width=1.0)


def draw_solar_system(c: Canvas) -> dict[str, Any]:
    r = c.rng
    layout = r.choice(["orbits", "orbits", "row"])
    n = r.choice([4, 6, 8, 8])
    planets = PLANETS[:n]
    sun_colour = r.choice([(250, 200, 40), (250, 170, 40)])
    orbit_colour = (120, 120, 130)
    where: dict[str, Point] = {}
    if layout == "orbits":
        squash = r.uniform(0.38, 0.55)
        tilt = r.uniform(-12, 12)
        sun = (50.0, 50.0)
        c.circle(sun, 7.5, fill=sun_colour, width=1.2)
        for i, (name, size, colour) in enumerate(planets):
            rx = 12 + 34 * (i + 1) / n
            pts = arc(sun, rx, rx * squash, 0, 360, 64, tilt)
            c.line(pts, color=orbit_colour, width=0.8)
            a = r.uniform(0, 360)
            p = pts[int(a / 360 * 64)]
            _planet(c, name, p, size * (0.8 if n == 8 else 1.0), colour)
            where[name] = p
    else:
        sun = (-24.0, 50.0)
        c.circle(sun, 36, fill=sun_colour, width=1.4)
        for i, (name, size, colour) in enumerate(planets):
            x = 18 + 78 * (i + 0.5) / n
            c.line(arc(sun, x - sun[0], x - sun[0], -22, 22, 16), color=orbit_colour, width=0.8)
            wobble = r.uniform(-10, 10)
            p = (
                sun[0] + (x - sun[0]) * math.cos(math.radians(wobble)),
                sun[1] + (x - sun[0]) * math.sin(math.radians(wobble)),
            )
            _planet(c, name, p, size * (0.8 if n == 8 else 1.0), colour)
            where[name] = p
    c.label("Sun", (sun[0] + 5, sun[1]) if layout == "orbits" else (8, 50))
    c.label("Earth", where["Earth"])
    c.label(planets[-1][0], where[planets[-1][0]])
    return {"planets": n, "names": [p[0] for p in planets], "layout": layout, "sun": True}


LOADS = (10, 20, 30, 40, 50, 60, 80, 100)


def draw_lever(c: Canvas) -> dict[str, Any]:
    r = c.rng
    klass = r.choice([1, 2, 3])
    flip = r.random() < 0.5
    beam_y = 56 + r.uniform(-4, 4)
    ground = beam_y + 14
    x_left, x_right = 8.0, 92.0
    length_m = r.choice([1.0, 2.0, 3.0])
    # Positions along the beam (0..1): fulcrum, load, effort.
    if klass == 1:
        fpos = r.choice([0.3, 0.4, 0.5])
        lpos, epos = 0.04, 0.96
    elif klass == 2:
        fpos, lpos, epos = 0.04, r.choice([0.3, 0.4, 0.5]), 0.96
    else:
        fpos, epos, lpos = 0.04, r.choice([0.3, 0.4, 0.5]), 0.96
    if flip:
        fpos, lpos, epos = 1 - fpos, 1 - lpos, 1 - epos
    load = r.choice(LOADS)
    d_load = round(abs(lpos - fpos) * length_m, 2)
    d_effort = round(abs(epos - fpos) * length_m, 2)
    effort = round(load * d_load / d_effort, 1)

    def x(pos: float) -> float:
        return x_left + (x_right - x_left) * pos

    wood = r.choice([(200, 150, 90), (170, 120, 70), (150, 150, 160)])
    c.line([(3, ground), (97, ground)], width=1.0)
    for i in range(12):
        gx = 6 + 8 * i
        c.line([(gx, ground), (gx - 3, ground + 3)], width=0.6)
    fx = x(fpos)
    c.polygon([(fx, beam_y + 1.5), (fx - 7, ground), (fx + 7, ground)], fill=(120, 120, 130), width=1.2)
    c.rect(x_left, beam_y - 1.8, x_right, beam_y + 1.8, fill=wood, width=1.2)
    lx = x(lpos)
    box = r.uniform(10, 14)
    c.rect(lx - box / 2, beam_y - 1.8 - box, lx + box / 2, beam_y - 1.8, fill=(110, 140, 200), width=1.2)
    c.text(f"{load} N", (lx, beam_y - 1.8 - box / 2), size=box * 0.3, color=(255, 255, 255) if c.style == 1 else None)
    ex = x(epos)
    if klass == 1:  # push down on the far end
        c.arrow((ex, beam_y - 24), (ex, beam_y - 2.5), color=(220, 60, 40), width=2.2, head=4)
        ey = beam_y - 27
    else:  # lift up
        c.arrow((ex, beam_y + 22), (ex, beam_y + 2.5), color=(220, 60, 40), width=2.2, head=4)
        ey = beam_y + 25
    c.text(f"{effort:g} N", (ex + (-6 if ex > 80 else 6), ey), size=4.4)
    c.label("fulcrum", (fx, beam_y + 8))
    c.label("load", (lx, beam_y - 4 - box / 2))
    c.label("effort", (ex, ey + (3 if klass == 1 else -3)))
    order = {
        1: "between the load and the effort",
        2: "at one end and the load in the middle",
        3: "at one end and the effort in the middle",
    }
    return {
        "class": klass,
        "fulcrum": order[klass],
        "load_newtons": load,
        "effort_newtons": effort,
        "load_distance_m": d_load,
        "effort_distance_m": d_effort,
    }


__all__ = [
    "draw_atom_bohr",
    "draw_lens_ray_diagram",
    "draw_series_circuit",
    "draw_parallel_circuit",
    "draw_transverse_wave",
    "draw_bar_magnet_field",
    "draw_solar_system",
    "draw_lever",
]
