"""Fixture sections (segment contract) of school-textbook prose for the synth tests and benchmark.

from tests.support.sections import SECTIONS      # section records (tutorforge/core/records.py contract)
"""

from __future__ import annotations

from tutorforge.core.ids import stable_id


def _section(doc: str, chapter: str, heading: str, subject: str, page: int, text: str) -> dict:
    sid = stable_id(doc, chapter, heading)
    return {
        "section_id": sid,
        "doc_id": doc,
        "file": f"{doc}.pdf",
        "chapter": chapter,
        "heading_path": [chapter, heading],
        "level": 2,
        "page_start": page,
        "page_end": page + 1,
        "subject": subject,
        "subject_confidence": 1.0,
        "subject_source": "map",
        "text": text,
        "spans": [
            {"page": page, "start": 0, "end": len(text) // 2},
            {"page": page + 1, "start": 0, "end": len(text) - len(text) // 2},
        ],
        "n_chars": len(text),
        "method": "outline",
        "part": 1,
        "n_parts": 1,
    }


BIO_CELLS = """2.1 Cells and their structure
A cell is the basic unit of all living organisms. Every animal cell is surrounded by a thin cell membrane that
controls which substances enter and leave the cell. The nucleus is the part of the cell that contains the genetic
material. Mitochondria are organelles that release energy from glucose during respiration. Plant cells have a rigid
cell wall made of cellulose, so that the cell keeps its shape when it takes in water. The cytoplasm is a jelly-like
fluid in which most chemical reactions of the cell take place.
Water moves into a plant cell by osmosis because the cytoplasm contains more dissolved substances than the water
outside. Osmosis is defined as the movement of water molecules from a dilute solution to a more concentrated solution
through a partially permeable membrane. A lack of water causes the cells of a plant to lose their firmness, and the
plant wilts."""

BIO_PHOTO = """2.2 Photosynthesis
The process by which green plants make glucose from carbon dioxide and water using light energy is called
photosynthesis. Photosynthesis takes place in the chloroplasts, which contain the green pigment chlorophyll.
Chlorophyll absorbs light energy, therefore leaves that receive more light can make more glucose. Enzymes are proteins
that speed up the chemical reactions of photosynthesis. A higher temperature leads to faster enzyme activity up to
an optimum temperature. Plants store the glucose they make as starch in their leaves and roots."""

PHYS_SPEED = """3.1 Speed and velocity
Speed is the distance travelled by an object per unit of time. The average speed of an object is calculated with the
formula v = d / t, where v is the speed in m/s, d is the distance in metres and t is the time in seconds.
Velocity is defined as the speed of an object in a given direction. A car that travels the same distance in less
time has a greater speed, because speed depends on both distance and time. Acceleration is the rate at which the
velocity of an object changes."""

PHYS_FORCE = """3.2 Forces and Newton's second law
A force is a push or a pull that acts on an object. The resultant force on an object is given by F = m × a, where F is
the force in newtons, m is the mass in kilograms and a is the acceleration in m/s². Friction is a force that opposes
the motion of two surfaces that slide over each other. Friction causes the surfaces to heat up as kinetic energy is
transferred to thermal energy. Because the Moon has a smaller mass than the Earth, the weight of an object on the Moon
is smaller than on the Earth."""

CHEM_DENSITY = """4.1 Atoms and density
An atom is the smallest particle of a chemical element that can exist. Every atom has a small nucleus made of protons
and neutrons, surrounded by electrons in shells. The density of a substance is calculated as ρ = m / V, where m is the
mass in grams and V is the volume in cm³. Ice floats on water because ice is less dense than liquid water. An
isotope is an atom of the same element with a different number of neutrons. Methane is a compound in which one carbon
atom forms a covalent bond with each of four hydrogen atoms."""

MATH_TRIANGLE = """5.1 Right-angled triangles
A right-angled triangle is a triangle with one angle of exactly 90 degrees. The longest side of a right-angled
triangle is called the hypotenuse. Pythagoras' theorem states that c² = a² + b², where c is the hypotenuse and a and b
are the two shorter sides. The area of a triangle is A = 0.5 × b × h, where b is the base and h is the height. The
perimeter is the total distance around the outside of a shape."""

SECTIONS = [
    _section("biology-book", "Chapter 2: Cells", "2.1 Cells and their structure", "biology", 12, BIO_CELLS),
    _section("biology-book", "Chapter 2: Cells", "2.2 Photosynthesis", "biology", 14, BIO_PHOTO),
    _section("physics-book", "Chapter 3: Motion and forces", "3.1 Speed and velocity", "physics", 30, PHYS_SPEED),
    _section(
        "physics-book", "Chapter 3: Motion and forces", "3.2 Forces and Newton's second law", "physics", 32, PHYS_FORCE
    ),
    _section("chemistry-book", "Chapter 4: Matter", "4.1 Atoms and density", "chemistry", 40, CHEM_DENSITY),
    _section("maths-book", "Chapter 5: Geometry", "5.1 Right-angled triangles", "mathematics", 50, MATH_TRIANGLE),
]
