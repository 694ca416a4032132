"""Chemistry diagrams: water, methane and carbon dioxide molecules, the NaCl lattice, a periodic-table block.

Each `draw_<label>(c) -> facts` draws one variant in the local 100 x 100 square (canvas.py) with `c.rng` only.
Atoms use the usual model-kit (CPK) colours; in line art they are open circles with their symbol.
"""

from __future__ import annotations

import math
from typing import Any

from tutorforge.vision.diagrams.canvas import Canvas, Color, Point, frame

ATOM_COLOURS: dict[str, Color] = {
    "H": (235, 235, 235),
    "O": (225, 45, 45),
    "C": (70, 70, 74),
    "N": (60, 90, 220),
    "Na": (150, 90, 210),
    "Cl": (60, 190, 70),
}
LIGHT_TEXT = {"C", "O", "N", "Na"}  # symbols written in white on a dark flat fill


def _atom(c: Canvas, symbol: str, at: Point, radius: float) -> None:
    c.circle(at, radius, fill=ATOM_COLOURS[symbol], width=1.2)
    white = symbol in LIGHT_TEXT and c.style == 1
    c.text(symbol, at, size=radius * 1.05, color=(255, 255, 255) if white else None)


def _stick(c: Canvas, a: Point, b: Point, order: int = 1, gap: float = 2.6, width: float = 1.6) -> None:
    """A bond of `order` parallel lines between atom centres a and b."""
    ang = math.degrees(math.atan2(b[1] - a[1], b[0] - a[0]))
    length = math.dist(a, b)
    f = frame(a, ang)
    for i in range(order):
        v = (i - (order - 1) / 2) * gap
        c.line([f(0, v), f(length, v)], width=width)


def _lone_pairs(c: Canvas, at: Point, radius: float, angles: list[float]) -> None:
    for a in angles:
        f = frame(at, a)
        for v in (-1.6, 1.6):
            c.circle(f(radius + 2.8, v), 0.9, fill=(40, 40, 40), solid=True, outline=False)


def draw_water_molecule(c: Canvas) -> dict[str, Any]:
    r = c.rng
    model = r.choice(["ball-and-stick", "space-filling"])
    axis = (90 if r.random() < 0.75 else -90) + r.uniform(-20, 20)  # from O towards the H atoms (mostly down)
    centre = (50 + r.uniform(-4, 4), 48 + r.uniform(-4, 4))
    half = 104.5 / 2
    lone = model == "ball-and-stick" and r.random() < 0.5
    show_angle = model == "ball-and-stick" and r.random() < 0.5
    if model == "ball-and-stick":
        ro, rh, bond = r.uniform(11, 13), r.uniform(7, 8.5), r.uniform(29, 33)
    else:
        ro, rh, bond = r.uniform(17, 19), r.uniform(11, 12.5), r.uniform(22, 24)
    o = (centre[0] - bond * 0.3 * math.cos(math.radians(axis)), centre[1] - bond * 0.3 * math.sin(math.radians(axis)))
    hs = [
        (o[0] + bond * math.cos(math.radians(axis + s * half)), o[1] + bond * math.sin(math.radians(axis + s * half)))
        for s in (-1, 1)
    ]
    if model == "ball-and-stick":
        for h in hs:
            _stick(c, o, h, 1, width=2.2)
        if show_angle:
            f = frame(o, axis)
            pts = [
                (o[0] + (ro + 6) * math.cos(math.radians(a)), o[1] + (ro + 6) * math.sin(math.radians(a)))
                for a in [axis - half + 104.5 * i / 16 for i in range(17)]
            ]
            c.line(pts, width=0.9)
            c.text("104.5°", f(ro + 16, 0), size=5)
        _atom(c, "O", o, ro)
        for h in hs:
            _atom(c, "H", h, rh)
        if lone:
            _lone_pairs(c, o, ro, [axis + 180 - 40, axis + 180 + 40])
    else:  # overlapping spheres: the H symbols sit on the parts that show
        for h in hs:
            c.circle(h, rh, fill=ATOM_COLOURS["H"], width=1.2)
        _atom(c, "O", o, ro)
        for h in hs:
            d = math.dist(o, h)
            c.text("H", (h[0] + (h[0] - o[0]) / d * rh * 0.45, h[1] + (h[1] - o[1]) / d * rh * 0.45), size=rh * 0.9)
    c.label("oxygen atom", o)
    c.label("hydrogen atom", hs[0])
    if model == "ball-and-stick":
        c.label("covalent bond", ((o[0] + hs[1][0]) / 2, (o[1] + hs[1][1]) / 2))
    return {
        "formula": "H2O",
        "atoms": {"O": 1, "H": 2},
        "shape": "bent",
        "bond_angle": 104.5,
        "model": model,
        "lone_pairs_drawn": lone,
        "angle_marked": show_angle,
    }


def draw_methane_molecule(c: Canvas) -> dict[str, Any]:
    r = c.rng
    model = r.choice(["ball-and-stick", "ball-and-stick", "flat structural"])
    centre = (50 + r.uniform(-4, 4), 50 + r.uniform(-4, 4))
    rc, rh, bond = r.uniform(10, 12), r.uniform(6.5, 8), r.uniform(28, 33)
    if model == "flat structural":
        turn = r.uniform(-20, 20)
        hs = [
            (
                centre[0] + bond * math.cos(math.radians(turn + 90 * i)),
                centre[1] + bond * math.sin(math.radians(turn + 90 * i)),
            )
            for i in range(4)
        ]
        depth = [0.0] * 4
    else:
        # A tetrahedron: one H up, three below, turned about the vertical axis and tipped towards the viewer.
        spin, tip = math.radians(r.uniform(0, 120)), math.radians(r.uniform(12, 28))
        vecs = [(0.0, 1.0, 0.0)] + [
            (
                math.sqrt(8) / 3 * math.cos(spin + 2 * math.pi * i / 3),
                -1 / 3,
                math.sqrt(8) / 3 * math.sin(spin + 2 * math.pi * i / 3),
            )
            for i in range(3)
        ]
        hs, depth = [], []
        for x, y, z in vecs:
            y2, z2 = y * math.cos(tip) - z * math.sin(tip), y * math.sin(tip) + z * math.cos(tip)
            hs.append((centre[0] + bond * x, centre[1] - bond * y2))
            depth.append(z2)
    order = sorted(range(4), key=lambda i: depth[i])
    back = [i for i in order if depth[i] < 0]
    front = [i for i in order if depth[i] >= 0]
    for i in back:
        _stick(c, centre, hs[i], 1, width=2.0)
        _atom(c, "H", hs[i], rh * (1 + 0.15 * depth[i]))
    for i in front:
        _stick(c, centre, hs[i], 1, width=2.0)
    _atom(c, "C", centre, rc)
    for i in front:
        _atom(c, "H", hs[i], rh * (1 + 0.15 * depth[i]))
    c.label("carbon atom", centre)
    c.label("hydrogen atom", hs[order[-1]])
    c.label("covalent bond", ((centre[0] + hs[order[-2]][0]) / 2, (centre[1] + hs[order[-2]][1]) / 2))
    return {
        "formula": "CH4",
        "atoms": {"C": 1, "H": 4},
        "shape": "tetrahedral",
        "bond_angle": 109.5,
        "model": model,
    }


def draw_carbon_dioxide_molecule(c: Canvas) -> dict[str, Any]:
    r = c.rng
    model = r.choice(["ball-and-stick", "ball-and-stick", "space-filling"])
    angle = (90 if r.random() < 0.12 else 0) + r.uniform(-15, 15)
    centre = (50 + r.uniform(-4, 4), 50 + r.uniform(-5, 5))
    lone = model == "ball-and-stick" and r.random() < 0.4
    if model == "ball-and-stick":
        rc, ro, bond = r.uniform(9, 10.5), r.uniform(10, 12), r.uniform(29, 33)
    else:
        rc, ro, bond = r.uniform(14, 15.5), r.uniform(14.5, 16), r.uniform(21, 23)
    f = frame(centre, angle)
    os_ = [f(-bond, 0), f(bond, 0)]
    if model == "ball-and-stick":
        for o in os_:
            _stick(c, centre, o, 2, gap=3.4, width=1.7)
        for o in os_:
            _atom(c, "O", o, ro)
        _atom(c, "C", centre, rc)
        if lone:
            _lone_pairs(c, os_[0], ro, [angle + 180 - 50, angle + 180 + 50])
            _lone_pairs(c, os_[1], ro, [angle - 50, angle + 50])
    else:
        _atom(c, "C", centre, rc)
        for o in os_:
            _atom(c, "O", o, ro)
    c.label("oxygen atom", os_[0])
    c.label("carbon atom", centre)
    if model == "ball-and-stick":
        c.label("double bond", f(bond / 2, 1.7))
    return {
        "formula": "CO2",
        "atoms": {"C": 1, "O": 2},
        "shape": "linear",
        "bond_angle": 180,
        "double_bonds": 2,
        "model": model,
        "lone_pairs_drawn": lone,
    }


def draw_sodium_chloride_lattice(c: Canvas) -> dict[str, Any]:
    r = c.rng
    n = r.choice([2, 3, 3])
    step = (52 if n == 2 else 30) * r.uniform(0.92, 1.02)
    depth = r.uniform(0.42, 0.55)
    dang = math.radians(r.choice([-1, 1]) * r.uniform(28, 40))
    dx, dy = step * depth * math.cos(dang), -step * depth * math.sin(dang)
    x0, y0 = 50 - (n - 1) * (step + dx) / 2, 50 - (n - 1) * (step + dy) / 2
    na_first = r.random() < 0.5
    na_colour = r.choice([(150, 90, 210), (160, 160, 170), (110, 110, 220)])
    cl_colour = r.choice([(60, 190, 70), (130, 210, 90)])
    r_na, r_cl = step * r.uniform(0.15, 0.18), step * r.uniform(0.27, 0.31)

    def pos(i: int, j: int, k: int) -> Point:
        return (x0 + i * step + k * dx, y0 + j * step + k * dy)

    for k in range(n):
        for j in range(n):
            for i in range(n):
                if i + 1 < n:
                    c.line([pos(i, j, k), pos(i + 1, j, k)], width=0.9)
                if j + 1 < n:
                    c.line([pos(i, j, k), pos(i, j + 1, k)], width=0.9)
                if k + 1 < n:
                    c.line([pos(i, j, k), pos(i, j, k + 1)], width=0.9)
    na = cl = 0
    for k in range(n - 1, -1, -1):
        for j in range(n):
            for i in range(n):
                is_na = ((i + j + k) % 2 == 0) == na_first
                if is_na:
                    na += 1
                    c.circle(pos(i, j, k), r_na, fill=na_colour, solid=True, width=1.0)
                else:
                    cl += 1
                    c.circle(pos(i, j, k), r_cl, fill=cl_colour, width=1.1)
    corner_na = na_first
    front = pos(0, n - 1, 0)
    nxt = pos(1, n - 1, 0)
    c.label("sodium ion (Na+)" if corner_na else "chloride ion (Cl-)", front)
    c.label("chloride ion (Cl-)" if corner_na else "sodium ion (Na+)", nxt)
    c.label("ionic bond", ((front[0] + pos(0, n - 2, 0)[0]) / 2, (front[1] + pos(0, n - 2, 0)[1]) / 2))
    return {"ions_per_edge": n, "ions": n**3, "sodium_ions": na, "chloride_ions": cl, "ratio": "1:1"}


ELEMENTS: dict[int, list[tuple[str, int]]] = {
    1: [("H", 1), ("", 0), ("", 0), ("", 0), ("", 0), ("", 0), ("", 0), ("He", 2)],
    2: [("Li", 3), ("Be", 4), ("B", 5), ("C", 6), ("N", 7), ("O", 8), ("F", 9), ("Ne", 10)],
    3: [("Na", 11), ("Mg", 12), ("Al", 13), ("Si", 14), ("P", 15), ("S", 16), ("Cl", 17), ("Ar", 18)],
    4: [("K", 19), ("Ca", 20), ("Ga", 31), ("Ge", 32), ("As", 33), ("Se", 34), ("Br", 35), ("Kr", 36)],
    5: [("Rb", 37), ("Sr", 38), ("In", 49), ("Sn", 50), ("Sb", 51), ("Te", 52), ("I", 53), ("Xe", 54)],
}
GROUPS = (1, 2, 13, 14, 15, 16, 17, 18)
GROUP_NAMES = {1: "the alkali metals", 2: "the alkaline earth metals", 17: "the halogens", 18: "the noble gases"}
BLOCK_COLOURS: tuple[Color, ...] = ((250, 200, 120), (150, 210, 240), (200, 230, 150), (240, 170, 190))


def draw_periodic_table_block(c: Canvas) -> dict[str, Any]:
    r = c.rng
    first = r.choice([1, 2])
    rows = r.choice([3, 4])
    periods = list(range(first, first + rows))
    group = r.choice(sorted(GROUP_NAMES))
    cell = r.uniform(10.2, 11.2)
    x0 = 50 - 4 * cell
    y0 = 50 - (rows + 1) * cell / 2 + cell * 0.4
    metals, nonmetals = r.sample(BLOCK_COLOURS, 2)
    highlight = (245, 120, 60)
    count = 0
    for col, g in enumerate(GROUPS):
        c.text(str(g), (x0 + (col + 0.5) * cell, y0 - cell * 0.45), size=cell * 0.38)
    for row, p in enumerate(periods):
        c.text(str(p), (x0 - cell * 0.45, y0 + (row + 0.5) * cell), size=cell * 0.38)
        for col, (sym, z) in enumerate(ELEMENTS[p]):
            if not sym:
                continue
            count += 1
            bx, by = x0 + col * cell, y0 + row * cell
            on = GROUPS[col] == group
            colour = highlight if on else metals if col < 2 or (col == 2 and p > 2) else nonmetals
            c.rect(bx, by, bx + cell, by + cell, fill=colour, width=1.0)
            c.text(str(z), (bx + cell * 0.1, by + cell * 0.2), size=cell * 0.28, anchor="lm")
            c.text(sym, (bx + cell / 2, by + cell * 0.6), size=cell * 0.46)
    col = GROUPS.index(group)
    # The highlighted group gets a bold frame in every style (line art has no fills).
    top_row = 0 if periods[0] > 1 or group in (1, 18) else 1
    c.rect(
        x0 + col * cell, y0 + top_row * cell, x0 + (col + 1) * cell, y0 + rows * cell, width=2.6, color=(200, 60, 20)
    )
    c.label(f"group {group}", (x0 + (col + 0.5) * cell, y0 + (rows - 0.5) * cell))
    c.label(f"period {periods[-1]}", (x0 + (0.5 if col > 3 else 7.5) * cell, y0 + (rows - 0.5) * cell))
    c.label("element symbol", (x0 + 3.5 * cell, y0 + (rows - 1.4) * cell))
    return {
        "groups": list(GROUPS),
        "periods": periods,
        "elements": count,
        "highlighted_group": group,
        "group_name": GROUP_NAMES[group],
    }


__all__ = [
    "draw_water_molecule",
    "draw_methane_molecule",
    "draw_carbon_dioxide_molecule",
    "draw_sodium_chloride_lattice",
    "draw_periodic_table_block",
]
