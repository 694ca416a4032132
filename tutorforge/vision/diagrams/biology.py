"""Biology diagrams: cells, DNA, the heart, a neuron, a flower, a food chain; one `draw_<label>(c) -> facts` each.

Each function draws one variant in the local 100 x 100 square (canvas.py), takes every random choice from `c.rng`
and returns the facts it drew (counts, names, optional parts) as plain JSON values.
"""

from __future__ import annotations

import math
from typing import Any

from tutorforge.vision.diagrams.canvas import (
    Canvas,
    Color,
    Frame,
    Point,
    blend,
    frame,
    lens_shape,
    rounded_rect,
    smooth,
)

CYTOPLASM: tuple[Color, ...] = ((250, 214, 200), (246, 226, 180), (236, 210, 236), (214, 230, 246))
NUCLEUS: tuple[Color, ...] = ((150, 110, 200), (120, 130, 210), (190, 110, 160))
MITO: Color = (240, 140, 90)
GREEN: Color = (80, 170, 80)
DARK_GREEN: Color = (40, 120, 50)
BLUE: Color = (80, 120, 220)
RED: Color = (215, 50, 50)


def _inside_spots(
    c: Canvas, f: Frame, rx: float, ry: float, n: int, keep_out: list[tuple[Point, float]], gap: float
) -> list[Point]:
    """Up to n random points inside the ellipse (axes rx, ry in frame f), `gap` apart, clear of the keep-out circles."""
    spots: list[Point] = []
    for _ in range(60 * n):
        if len(spots) == n:
            break
        a, d = c.rng.uniform(0, 2 * math.pi), math.sqrt(c.rng.random()) * 0.78
        p = f(rx * d * math.cos(a), ry * d * math.sin(a))
        if all(math.dist(p, q) > r + gap for q, r in keep_out) and all(math.dist(p, q) > gap * 1.6 for q in spots):
            spots.append(p)
    return spots


def _mitochondrion(c: Canvas, at: Point, angle: float, length: float = 7.0) -> None:
    c.ellipse(at, length, length * 0.45, angle, fill=MITO, width=0.9)
    f = frame(at, angle)
    zig = [f(-length * 0.75 + i * length * 0.25, (-1) ** i * length * 0.25) for i in range(7)]
    c.line(zig, width=0.6)


def draw_animal_cell(c: Canvas) -> dict[str, Any]:
    r = c.rng
    center = (50 + r.uniform(-4, 4), 50 + r.uniform(-4, 4))
    rx = r.uniform(36, 43)
    oval = r.random() < 0.5
    ry = rx * (r.uniform(0.68, 0.8) if oval else r.uniform(0.9, 0.98))
    tilt = r.uniform(-30, 30)
    waves = [(r.randint(2, 6), r.uniform(0.015, 0.05), r.uniform(0, 2 * math.pi)) for _ in range(3)]
    f = frame(center, tilt)
    outline = []
    for i in range(72):
        t = 2 * math.pi * i / 72
        rho = 1 + sum(a * math.sin(k * t + ph) for k, a, ph in waves)
        outline.append(f(rx * rho * math.cos(t), ry * rho * math.sin(t)))
    c.polygon(outline, fill=r.choice(CYTOPLASM), width=1.5)

    nr = r.uniform(9.5, 13)
    na, nd = r.uniform(0, 2 * math.pi), r.uniform(0, 0.3)
    nucleus = f(rx * nd * math.cos(na), ry * nd * math.sin(na))
    c.circle(nucleus, nr, fill=r.choice(NUCLEUS), width=1.2)
    nucleolus = (nucleus[0] + r.uniform(-3, 3), nucleus[1] + r.uniform(-3, 3))
    c.circle(nucleolus, nr * 0.3, fill=(90, 50, 120), solid=True)

    n_mito = r.randint(2, 5)
    spots = _inside_spots(c, f, rx * 0.85, ry * 0.85, n_mito, [(nucleus, nr + 3)], 8)
    for p in spots:
        _mitochondrion(c, p, r.uniform(0, 180))
    golgi = r.random() < 0.6
    keep = [(nucleus, nr + 1)] + [(p, 8.0) for p in spots]
    if golgi:
        gspots = _inside_spots(c, f, rx * 0.7, ry * 0.7, 1, keep, 7) or [center]
        g = frame(gspots[0], r.uniform(0, 180))
        for i in range(3):
            c.line([g(x, -2.2 * i + 0.04 * x * x) for x in range(-5, 6)], width=1.0)
        keep.append((gspots[0], 7.0))
    ribosomes = _inside_spots(c, f, rx * 0.95, ry * 0.95, r.randint(6, 16), keep, 1.2)
    for p in ribosomes:
        c.circle(p, 0.9, fill=(60, 60, 60), solid=True, outline=False)

    c.label("cell membrane", outline[(18 + round(tilt / 5)) % 72])
    c.label("nucleus", nucleus)
    if spots:
        c.label("mitochondrion", spots[0])
    c.label("cytoplasm", f(rx * 0.55 * math.cos(na + math.pi), ry * 0.55 * math.sin(na + math.pi)))
    return {
        "shape": "oval" if oval else "round",
        "nucleus": 1,
        "mitochondria": len(spots),
        "ribosomes_drawn": len(ribosomes),
        "golgi_apparatus": golgi,
        "cell_wall": False,
    }


def draw_plant_cell(c: Canvas) -> dict[str, Any]:
    r = c.rng
    wide = r.random() < 0.5
    long, short = r.uniform(74, 86), r.uniform(52, 64)
    w, h = (long, short) if wide else (short, long)
    x0, y0 = 50 - w / 2 + r.uniform(-3, 3), 50 - h / 2 + r.uniform(-3, 3)
    x1, y1 = x0 + w, y0 + h
    skew = [r.uniform(-2, 2) for _ in range(8)]
    wall = [(x0 + skew[0], y0 + skew[1]), (x1 + skew[2], y0 + skew[3]), (x1 + skew[4], y1 + skew[5])]
    wall.append((x0 + skew[6], y1 + skew[7]))
    c.polygon(wall, fill=(150, 200, 110), width=1.5)
    inset = 3.2
    cx0, cy0, cx1, cy1 = x0 + inset + 1, y0 + inset + 1, x1 - inset - 1, y1 - inset - 1
    c.polygon(rounded_rect(cx0, cy0, cx1, cy1, 3), fill=(214, 240, 190), width=1.0)

    # A large central vacuole, pushed away from the side where the nucleus sits.
    side = r.choice(["left", "right", "top", "bottom"])
    band = 10.0
    vx0, vy0, vx1, vy1 = cx0 + band, cy0 + band, cx1 - band, cy1 - band
    push = 9.0
    if side == "left":
        vx0 += push
        nucleus = (cx0 + (band + push) / 2, (cy0 + cy1) / 2 + r.uniform(-8, 8))
    elif side == "right":
        vx1 -= push
        nucleus = (cx1 - (band + push) / 2, (cy0 + cy1) / 2 + r.uniform(-8, 8))
    elif side == "top":
        vy0 += push
        nucleus = ((cx0 + cx1) / 2 + r.uniform(-8, 8), cy0 + (band + push) / 2)
    else:
        vy1 -= push
        nucleus = ((cx0 + cx1) / 2 + r.uniform(-8, 8), cy1 - (band + push) / 2)
    c.polygon(rounded_rect(vx0, vy0, vx1, vy1, r.uniform(5, 10)), fill=(190, 220, 250), width=1.0)
    nr = r.uniform(6.5, 8)
    c.circle(nucleus, nr, fill=r.choice(NUCLEUS), width=1.1)
    c.circle(nucleus, nr * 0.32, fill=(90, 50, 120), solid=True, outline=False)

    # Chloroplasts around the cytoplasm band, clear of the nucleus.
    n_chl = r.randint(3, 8)
    perim = 2 * (cx1 - cx0 + cy1 - cy0)
    placed: list[Point] = []
    for _ in range(80 * n_chl):
        if len(placed) == n_chl:
            break
        t, m = r.uniform(0, perim), band / 2
        if t < cx1 - cx0:
            p, ang = (cx0 + t, cy0 + m), 0.0
        elif t < cx1 - cx0 + cy1 - cy0:
            p, ang = (cx1 - m, cy0 + t - (cx1 - cx0)), 90.0
        elif t < 2 * (cx1 - cx0) + cy1 - cy0:
            p, ang = (cx1 - (t - (cx1 - cx0 + cy1 - cy0)), cy1 - m), 0.0
        else:
            p, ang = (cx0 + m, cy1 - (t - 2 * (cx1 - cx0) - (cy1 - cy0))), 90.0
        ok_corner = cx0 + 4 < p[0] < cx1 - 4 and cy0 + 4 < p[1] < cy1 - 4
        if ok_corner and math.dist(p, nucleus) > nr + 6 and all(math.dist(p, q) > 10 for q in placed):
            placed.append(p)
            c.ellipse(p, 5.2, 2.6, ang, fill=GREEN, width=0.9)
            g = frame(p, ang)
            for u in (-2.5, 0.0, 2.5):
                c.line([g(u, -1.4), g(u, 1.4)], color=DARK_GREEN, width=0.7)

    c.label("cell wall", wall[0])
    c.label("vacuole", ((vx0 + vx1) / 2, (vy0 + vy1) / 2))
    c.label("nucleus", nucleus)
    if placed:
        c.label("chloroplast", placed[0])
    return {
        "shape": "rectangular",
        "orientation": "wide" if wide else "tall",
        "cell_wall": True,
        "vacuole": "large",
        "chloroplasts": len(placed),
        "nucleus": 1,
    }


BASE_COLOURS: dict[str, Color] = {"A": (230, 80, 70), "T": (70, 140, 230), "G": (70, 180, 90), "C": (240, 190, 50)}
PAIR = {"A": "T", "T": "A", "G": "C", "C": "G"}
STRAND_COLOURS: tuple[tuple[Color, Color], ...] = (
    ((60, 90, 200), (210, 60, 60)),
    ((120, 70, 170), (230, 130, 40)),
    ((40, 140, 140), (200, 70, 140)),
)


def draw_dna_double_helix(c: Canvas) -> dict[str, Any]:
    r = c.rng
    turns = r.choice([2, 3])
    diagonal = r.random() < 0.4
    angle = (90 + r.choice([-28, 28])) if diagonal else 90 + r.uniform(-6, 6)
    length = 86 if not diagonal else 92
    amp = r.uniform(11, 16)
    per_turn = r.choice([5, 6, 7])
    s1, s2 = r.choice(STRAND_COLOURS)
    f = frame((50, 50), angle)
    phase = r.uniform(0, 2 * math.pi)

    def offset(u: float, shift: float) -> float:
        return amp * math.sin(2 * math.pi * turns * (u + length / 2) / length + phase + shift)

    rungs: list[str] = []
    n = turns * per_turn * 2
    for i in range(n):
        u = -length / 2 + length * (i + 0.5) / n
        a, b = offset(u, 0), offset(u, math.pi)
        if abs(a) < amp * 0.3:
            continue
        base = r.choice("ATGC")
        rungs.append(base)
        mid = (a + b) / 2
        c.line([f(u, a), f(u, mid)], color=BASE_COLOURS[base], width=1.6)
        c.line([f(u, mid), f(u, b)], color=BASE_COLOURS[PAIR[base]], width=1.6)
    steps = [(-length / 2 + length * i / 120) for i in range(121)]
    c.line([f(u, offset(u, 0)) for u in steps], color=s1, width=2.6)
    c.line([f(u, offset(u, math.pi)) for u in steps], color=s2, width=2.6)

    u_lab = -length / 2 + length * 0.16
    c.label("sugar-phosphate backbone", f(u_lab, offset(u_lab, 0)))
    u_bp = -length / 2 + length * (0.5 + 0.5 / n)
    c.label("base pair", f(u_bp, (offset(u_bp, 0) + offset(u_bp, math.pi)) / 2))
    return {
        "turns": turns,
        "base_pairs": len(rungs),
        "sequence": "".join(rungs),
        "orientation": "diagonal" if diagonal else "vertical",
    }


HEART_OUTLINE: list[Point] = [(-31, -16), (-12, -25), (10, -25), (31, -17), (35, 3), (22, 27), (5, 39), (-17, 24)]
HEART_OUTLINE.append((-34, 2))
CHAMBERS: dict[str, list[Point]] = {
    "right atrium": [(-27, -14), (-4, -19), (-4, -4), (-28, -3)],
    "left atrium": [(4, -19), (27, -14), (29, -3), (4, -4)],
    "right ventricle": [(-28, 2), (-4, 2), (-3, 28), (-15, 20)],
    "left ventricle": [(4, 2), (29, 3), (19, 25), (5, 33)],
}


def draw_human_heart(c: Canvas) -> dict[str, Any]:
    r = c.rng
    scale = r.uniform(0.95, 1.12)
    tilt = r.uniform(-14, 14)
    f = frame((50 + r.uniform(-3, 3), 54 + r.uniform(-2, 3)), tilt, scale)
    muscle = r.choice([(225, 150, 140), (235, 170, 150), (210, 130, 130)])
    oxy, deoxy = r.choice([(RED, BLUE), ((230, 70, 60), (90, 110, 200)), ((200, 40, 60), (70, 90, 190))])

    # Vessels behind the body: vena cava (left of the figure), pulmonary artery, aorta arch, pulmonary veins.
    inferior = r.random() < 0.5
    veins = r.random() < 0.6
    c.tube([f(-22, -10), f(-22, -44)], 9 * scale, deoxy)
    if inferior:
        c.tube([f(-22, 10), f(-24, 44)], 8 * scale, deoxy)
    c.tube(smooth([f(-4, -12), f(-6, -30), f(-14, -40)], 2, closed=False), 8 * scale, deoxy)
    c.tube(smooth([f(6, -12), f(8, -40), f(22, -44), f(30, -32)], 2, closed=False), 10 * scale, oxy)
    if veins:
        c.tube([f(24, -12), f(42, -16)], 6 * scale, oxy)
        c.tube([f(26, -4), f(43, -2)], 6 * scale, oxy)
    c.polygon(smooth([f(*p) for p in HEART_OUTLINE], 3), fill=muscle, width=1.5)
    for name, pts in CHAMBERS.items():
        colour = deoxy if name.startswith("right") else oxy
        c.polygon(smooth([f(*p) for p in pts], 2), fill=colour, width=1.1)
    valves = r.random() < 0.5
    if valves:
        for x in (-16, 16):
            c.polygon([f(x - 4, -4), f(x + 4, -4), f(x, 2)], fill=(245, 240, 230), width=0.8)
    arrows = r.random() < 0.5
    if arrows:
        c.arrow(f(-16, -14), f(-16, 12), color=(255, 255, 255) if c.style else None, width=1.2)
        c.arrow(f(16, -14), f(16, 12), color=(255, 255, 255) if c.style else None, width=1.2)
        c.arrow(f(12, 18), f(8, -30), width=1.0)

    c.label("aorta", f(20, -44))
    c.label("vena cava", f(-22, -36))
    c.label("right atrium", f(-16, -11))
    c.label("left atrium", f(16, -11))
    c.label("right ventricle", f(-14, 14))
    c.label("left ventricle", f(16, 14))
    vessels = ["aorta", "pulmonary artery", "superior vena cava"]
    vessels += ["inferior vena cava"] if inferior else []
    vessels += ["pulmonary veins"] if veins else []
    return {"chambers": 4, "vessels": vessels, "valves_drawn": valves, "blood_flow_arrows": arrows}


def _branch(c: Canvas, start: Point, angle: float, length: float, depth: int, width: float) -> None:
    end = (start[0] + length * math.cos(math.radians(angle)), start[1] + length * math.sin(math.radians(angle)))
    c.line([start, end], width=width)
    if depth > 0:
        for turn in (-28, 26):
            _branch(
                c, end, angle + turn + c.rng.uniform(-8, 8), length * c.rng.uniform(0.5, 0.7), depth - 1, width * 0.7
            )


def draw_neuron(c: Canvas) -> dict[str, Any]:
    r = c.rng
    angle = r.uniform(-22, 22) + (180 if r.random() < 0.2 else 0)
    f = frame((50, 50), angle)
    soma = f(-22, r.uniform(-4, 4))
    body_colour = r.choice([(240, 180, 200), (200, 190, 240), (250, 210, 160)])
    n_dend = r.randint(4, 7)
    for i in range(n_dend):
        a = angle + 180 + (-110 + 220 * (i + 0.5) / n_dend) + r.uniform(-10, 10)
        start = (soma[0] + 7 * math.cos(math.radians(a)), soma[1] + 7 * math.sin(math.radians(a)))
        _branch(c, start, a, r.uniform(6.5, 9), r.choice([1, 2]), 1.6)
    body = [
        (soma[0] + rr * math.cos(2 * math.pi * i / 10), soma[1] + rr * math.sin(2 * math.pi * i / 10))
        for i, rr in enumerate(r.uniform(8, 11) for _ in range(10))
    ]
    start_u = -14.0
    end_u = 36.0
    axon = [f(u, 2.5 * math.sin(u / 9)) for u in (start_u + (end_u - start_u) * i / 40 for i in range(41))]
    c.line(axon, width=1.6)
    n_myelin = r.randint(3, 6)
    seg = (end_u - start_u - 6) / n_myelin
    myelin = r.choice([(250, 220, 120), (245, 200, 150), (200, 230, 250)])
    for i in range(n_myelin):
        u = start_u + 4 + seg * (i + 0.5)
        c.ellipse(
            f(u, 2.5 * math.sin(u / 9)),
            seg * 0.42,
            3.2,
            angle + math.degrees(math.atan(math.cos(u / 9) * 2.5 / 9)),
            fill=myelin,
            width=1.0,
        )
    tip = axon[-1]
    n_term = r.randint(3, 5)
    knobs = []
    for i in range(n_term):
        a = angle - 50 + 100 * (i + 0.5) / n_term
        end = (tip[0] + 9 * math.cos(math.radians(a)), tip[1] + 9 * math.sin(math.radians(a)))
        c.line([tip, end], width=1.2)
        c.circle(end, 1.8, fill=body_colour, solid=True)
        knobs.append(end)
    c.polygon(smooth(body, 2), fill=body_colour, width=1.4)
    nucleus = (soma[0] + r.uniform(-1.5, 1.5), soma[1] + r.uniform(-1.5, 1.5))
    c.circle(nucleus, 3.2, fill=(120, 80, 160), width=1.0)

    c.label("cell body", (soma[0], soma[1] + 6))
    c.label("nucleus", nucleus)
    c.label("dendrite", _polar(soma, angle + 180 + 50, 14))
    c.label("myelin sheath", f(start_u + 4 + seg * 1.5, 2.5))
    c.label("axon", f(start_u + 4 + seg * 1.0, 0))
    c.label("axon terminal", knobs[0])
    return {"dendrites": n_dend, "myelin_segments": n_myelin, "axon_terminals": n_term}


def _polar(p: Point, angle: float, d: float) -> Point:
    return (p[0] + d * math.cos(math.radians(angle)), p[1] + d * math.sin(math.radians(angle)))


PETALS: dict[str, Color] = {
    "pink": (240, 130, 180),
    "yellow": (245, 210, 60),
    "purple": (160, 100, 210),
    "red": (225, 60, 60),
    "orange": (245, 150, 50),
    "white": (250, 250, 250),
}


def draw_flower(c: Canvas) -> dict[str, Any]:
    r = c.rng
    base = (50 + r.uniform(-4, 4), r.uniform(44, 52))
    colour = r.choice(sorted(PETALS))
    n_pet = r.randint(4, 7)
    n_sta = r.randint(3, 6)
    n_leaf = r.randint(1, 2)
    stem_bottom = (base[0] + r.uniform(-5, 5), 97.0)
    c.tube(smooth([stem_bottom, ((stem_bottom[0] + base[0]) / 2 + r.uniform(-3, 3), 75), base], 2, False), 3.2, GREEN)
    leaf_side = r.choice([-1, 1])
    leaves = []
    for i in range(n_leaf):
        side = leaf_side * (-1) ** i
        y = r.uniform(68, 86)
        x = stem_bottom[0] + (base[0] - stem_bottom[0]) * (97 - y) / (97 - base[1])
        tip = (x + side * r.uniform(17, 23), y - r.uniform(6, 12))
        c.polygon(lens_shape((x, y), tip, r.uniform(7, 9)), fill=GREEN, width=1.0)
        c.line([(x, y), ((x + tip[0]) / 2, (y + tip[1]) / 2)], color=DARK_GREEN, width=0.7)
        leaves.append(((x + tip[0]) / 2, (y + tip[1]) / 2))
    petal_len, petal_w = r.uniform(26, 33), r.uniform(11, 15)
    petal_pts = []
    for i in range(n_pet):
        a = math.radians(-172 + 164 * i / (n_pet - 1))
        tip = (base[0] + petal_len * math.cos(a), base[1] + petal_len * math.sin(a))
        c.polygon(lens_shape(base, tip, petal_w), fill=PETALS[colour], width=1.1)
        petal_pts.append(((base[0] + tip[0] * 2) / 3, (base[1] + tip[1] * 2) / 3))
    for side in (-1, 1):
        c.polygon(lens_shape((base[0], base[1] + 2), (base[0] + side * 12, base[1] + 6), 5), fill=DARK_GREEN, width=0.9)
    style_top = (base[0], base[1] - petal_len * 0.72)
    anthers = []
    for i in range(n_sta):
        a = math.radians(-150 + 120 * i / max(1, n_sta - 1))
        top = (base[0] + petal_len * 0.62 * math.cos(a), base[1] + petal_len * 0.62 * math.sin(a))
        c.line([base, top], color=(120, 100, 40), width=1.0)
        c.ellipse(top, 2.4, 1.5, math.degrees(a), fill=(230, 160, 30), solid=True)
        anthers.append(top)
    c.ellipse((base[0], base[1] - 3), 4.2, 5, fill=(150, 200, 110), width=1.0)
    c.line([(base[0], base[1] - 7), style_top], color=(90, 150, 60), width=1.6)
    c.ellipse(style_top, 3.2, 2.0, fill=(120, 170, 60), solid=True)

    c.label("petal", petal_pts[0])
    c.label("stigma", style_top)
    c.label("anther", anthers[-1])
    c.label("sepal", (base[0] + 8, base[1] + 5))
    c.label("stem", (stem_bottom[0] + (base[0] - stem_bottom[0]) * 0.3, 88))
    return {"petals": n_pet, "petal_colour": colour, "stamens": n_sta, "leaves": n_leaf}


FOOD_CHAINS: tuple[tuple[str, ...], ...] = (
    ("grass", "rabbit", "fox"),
    ("grass", "grasshopper", "frog", "snake", "hawk"),
    ("leaves", "caterpillar", "bird", "cat"),
    ("algae", "small fish", "big fish"),
    ("seeds", "mouse", "owl"),
    ("grass", "cow", "human"),
    ("plankton", "fish", "seal", "shark"),
    ("leaves", "caterpillar", "frog", "snake"),
    ("grass", "mouse", "snake", "hawk"),
)
ICONS: dict[str, str] = {
    "grass": "plant", "leaves": "leaf", "algae": "plant", "seeds": "seeds", "plankton": "seeds",
    "rabbit": "mammal", "fox": "mammal", "cow": "mammal", "mouse": "mammal", "cat": "mammal", "seal": "fish",
    "grasshopper": "insect", "caterpillar": "insect", "frog": "frog", "snake": "snake", "hawk": "bird",
    "bird": "bird", "owl": "bird", "small fish": "fish", "big fish": "fish", "fish": "fish", "shark": "fish",
    "human": "human",
}  # fmt: skip
ICON_COLOURS: dict[str, Color] = {
    "plant": GREEN, "leaf": GREEN, "seeds": (200, 160, 80), "mammal": (200, 140, 90), "insect": (120, 190, 60),
    "frog": (90, 180, 90), "snake": (150, 120, 60), "bird": (140, 110, 90), "fish": (90, 150, 210),
    "human": (230, 180, 150),
}  # fmt: skip


def _icon(c: Canvas, kind: str, name: str, at: Point, s: float) -> None:
    """A small organism icon of half-size s centred at `at`."""
    x, y = at
    col = ICON_COLOURS[kind]
    if kind == "plant":
        for i in range(5):
            dx = (i - 2) * s * 0.3
            c.polygon(
                lens_shape((x + dx, y + s), (x + dx * 1.8, y - s * (0.6 + 0.2 * (i % 2))), s * 0.3), fill=col, width=0.8
            )
    elif kind == "leaf":
        c.polygon(lens_shape((x - s, y + s * 0.6), (x + s, y - s * 0.6), s * 0.9), fill=col, width=0.9)
        c.line([(x - s, y + s * 0.6), (x + s * 0.8, y - s * 0.45)], color=DARK_GREEN, width=0.7)
    elif kind == "seeds":
        for i in range(6):
            c.ellipse(
                (x + (i % 3 - 1) * s * 0.6, y + (i // 3 - 0.5) * s * 0.7), s * 0.28, s * 0.18, 30, fill=col, width=0.7
            )
    elif kind == "mammal":
        ears = 0.9 if name == "rabbit" else 0.4
        c.ellipse((x, y + s * 0.2), s * 0.8, s * 0.45, fill=col, width=0.9)
        head = (x + s * 0.8, y - s * 0.25)
        for dx in (-0.1, 0.15):
            c.ellipse((head[0] + dx * s, head[1] - s * (0.25 + ears / 2)), s * 0.12, s * ears / 2, fill=col, width=0.8)
        c.circle(head, s * 0.32, fill=col, width=0.9)
        for dx in (-0.5, 0.45):
            c.line([(x + dx * s, y + s * 0.55), (x + dx * s, y + s)], width=0.9)
        c.line(
            [(x - s * 0.8, y + s * 0.1), (x - s * 1.15, y - s * (0.4 if name in ("fox", "cat") else 0.1))], width=1.0
        )
    elif kind == "bird":
        c.polygon([(x - s * 0.6, y), (x - s * 1.15, y - s * 0.2), (x - s * 1.1, y + s * 0.25)], fill=col, width=0.8)
        for dx in (-0.15, 0.2):
            c.line([(x + dx * s, y + s * 0.35), (x + dx * s, y + s * 0.75)], width=0.8)
        c.ellipse((x, y), s * 0.72, s * 0.42, -10, fill=col, width=0.9)
        c.circle((x + s * 0.68, y - s * 0.38), s * 0.3, fill=col, width=0.9)
        c.polygon(
            [(x + s * 0.93, y - s * 0.45), (x + s * 1.25, y - s * 0.33), (x + s * 0.93, y - s * 0.26)],
            fill=(240, 180, 40),
            width=0.7,
        )
        c.circle((x + s * 0.75, y - s * 0.45), s * 0.06, fill=(0, 0, 0), solid=True, outline=False)
        c.polygon(
            lens_shape((x + s * 0.3, y - s * 0.12), (x - s * 0.75, y - s * 0.05), s * 0.38),
            fill=blend(col, (0, 0, 0), 0.25),
            width=0.8,
        )
    elif kind == "fish":
        c.ellipse((x, y), s * 0.8, s * 0.42, fill=col, width=0.9)
        c.polygon([(x - s * 0.7, y), (x - s * 1.2, y - s * 0.4), (x - s * 1.2, y + s * 0.4)], fill=col, width=0.9)
        c.circle((x + s * 0.45, y - s * 0.08), s * 0.08, fill=(0, 0, 0), solid=True, outline=False)
    elif kind == "insect":
        for i in range(3):
            c.circle((x - s * 0.6 + i * s * 0.55, y), s * 0.3, fill=col, width=0.8)
        for i in range(3):
            c.line([(x - s * 0.5 + i * s * 0.45, y), (x - s * 0.7 + i * s * 0.45, y + s * 0.7)], width=0.7)
        c.line([(x + s * 0.5, y - s * 0.2), (x + s * 0.9, y - s * 0.8)], width=0.7)
    elif kind == "frog":
        c.ellipse((x, y + s * 0.15), s * 0.75, s * 0.5, fill=col, width=0.9)
        for dx in (-0.35, 0.35):
            c.circle((x + dx * s, y - s * 0.35), s * 0.2, fill=col, width=0.8)
        for dx in (-1, 1):
            c.line([(x + dx * s * 0.5, y + s * 0.5), (x + dx * s * 1.0, y + s * 0.8)], width=0.9)
    elif kind == "snake":
        pts = [(x - s + 2 * s * i / 20, y + s * 0.35 * math.sin(i * 0.9)) for i in range(21)]
        c.tube(pts, s * 0.3, col)
        c.circle(pts[-1], s * 0.2, fill=col, width=0.8)
    else:  # human
        c.circle((x, y - s * 0.65), s * 0.28, fill=col, width=0.9)
        c.line([(x, y - s * 0.35), (x, y + s * 0.35)], width=1.1)
        c.line([(x - s * 0.5, y - s * 0.1), (x + s * 0.5, y - s * 0.1)], width=1.0)
        c.line([(x - s * 0.4, y + s), (x, y + s * 0.35), (x + s * 0.4, y + s)], width=1.0)


def draw_food_chain(c: Canvas) -> dict[str, Any]:
    r = c.rng
    chain = list(r.choice(FOOD_CHAINS))
    sun = r.random() < 0.35
    n = len(chain) + (1 if sun else 0)
    # Long chains zigzag over two rows instead of a straight row or column, so the icons stay big enough.
    layout = r.choice(["row", "row", "diagonal", "column"] if n <= 4 else ["zigzag", "zigzag", "diagonal"])
    if layout == "row":
        y = 50 + r.uniform(-8, 8)
        spots = [(12 + 76 * i / (n - 1), y) for i in range(n)]
    elif layout == "column":
        x = 38 + r.uniform(-8, 8)
        spots = [(x, 90 - 80 * i / (n - 1)) for i in range(n)]
    elif layout == "zigzag":
        up = r.choice([-1, 1])
        spots = [(12 + 76 * i / (n - 1), 50 + up * (17 if i % 2 else -17)) for i in range(n)]
    else:
        spots = [(13 + 72 * i / (n - 1), 86 - 72 * i / (n - 1)) for i in range(n)]
    gap = math.dist(spots[0], spots[1])
    s = min(10.0, gap * 0.3)
    arrow_colour = r.choice([(200, 80, 40), (40, 110, 190), (60, 60, 60)])
    if sun:
        sx, sy = spots[0]
        c.circle((sx, sy), s * 0.6, fill=(250, 210, 50), width=0.9)
        for i in range(8):
            a = math.pi * i / 4
            c.line(
                [
                    (sx + s * 0.8 * math.cos(a), sy + s * 0.8 * math.sin(a)),
                    (sx + s * 1.05 * math.cos(a), sy + s * 1.05 * math.sin(a)),
                ],
                width=0.8,
            )
        spots = spots[1:]
        c.arrow(
            _towards((sx, sy), spots[0], s * 1.15),
            _towards(spots[0], (sx, sy), s * 1.2),
            arrow_colour,
            width=1.1,
            head=3,
        )
    text_size = min(6.0, gap * 0.24)
    for i, (name, at) in enumerate(zip(chain, spots, strict=True)):
        _icon(c, ICONS[name], name, at, s)
        if layout == "column":  # names beside the icons, else under them (above them on a zigzag's top row)
            c.text(name, (at[0] + s * 1.5, at[1]), size=text_size, anchor="lm")
        elif layout == "zigzag" and at[1] < 50:
            c.text(name, (at[0], at[1] - s * 1.1 - text_size * 0.6), size=text_size)
        else:
            c.text(name, (at[0], at[1] + s * 1.25 + text_size * 0.6), size=text_size)
        if i + 1 < len(chain):
            c.arrow(
                _towards(at, spots[i + 1], s * 1.3),
                _towards(spots[i + 1], at, s * 1.35),
                arrow_colour,
                width=1.3,
                head=3.5,
            )
    c.label("producer", (spots[0][0], spots[0][1] - s * 0.6))
    c.label("consumer", (spots[1][0], spots[1][1] - s * 0.4))
    c.label("energy flow", _towards(spots[-2], spots[-1], gap * 0.5))
    return {
        "organisms": chain,
        "producer": chain[0],
        "top_consumer": chain[-1],
        "length": len(chain),
        "layout": layout,
        "sun": sun,
    }


def _towards(a: Point, b: Point, d: float) -> Point:
    """The point d units from a towards b."""
    dist = math.dist(a, b) or 1.0
    return (a[0] + (b[0] - a[0]) * d / dist, a[1] + (b[1] - a[1]) * d / dist)


__all__ = [
    "draw_animal_cell",
    "draw_plant_cell",
    "draw_dna_double_helix",
    "draw_human_heart",
    "draw_neuron",
    "draw_flower",
    "draw_food_chain",
]
