"""Subject of a text: a file-glob mapping first, else a deterministic keyword TF-IDF-style scorer.

    clf = SubjectClassifier(subjects, keywords, min_confidence=0.5, min_score=2.0)
    clf.classify("Cells divide by mitosis ...")  # -> ("biology", 0.83) or ("unknown", 0.31)

Each keyword is matched as a word prefix (`cell` matches cell, cells, cellular), counted with a sublinear
tf (1 + log count) and weighted by an idf over the subjects' keyword lists (a keyword listed for several
subjects says less). Confidence = the winner's share of the total score; below `min_confidence`, or with
total evidence below `min_score`, the answer is "unknown". No randomness, no model: same text, same answer.
"""

from __future__ import annotations

import fnmatch
import math
import re
from pathlib import PurePath

UNKNOWN = "unknown"

# Default keyword (word-prefix) lists for the four sample subjects; params.yaml `segment.subject_keywords` overrides.
DEFAULT_KEYWORDS = {
    "biology": ["cell", "tissue", "organ", "membrane", "enzyme", "protein", "dna", "gene", "chromosome", "mitosis",
                "photosynthe", "species", "evolution", "ecosystem", "organism", "bacteri", "plant", "animal",
                "nucleus", "respiration", "blood", "heart", "digest", "hormone", "neuron"],
    "chemistry": ["atom", "molecul", "element", "compound", "reaction", "acid", "base", "salt", "bond", "ion",
                  "electron", "periodic", "mole", "solution", "oxid", "catalyst", "isotope", "valence", "ph",
                  "carbon", "metal", "gas", "equilibri", "organic chemistry", "titration"],
    "physics": ["force", "motion", "velocity", "acceleration", "energy", "momentum", "newton", "gravity", "wave",
                "frequency", "light", "lens", "current", "voltage", "resistance", "magnet", "charge", "pressure",
                "heat", "thermodynamic", "joule", "watt", "friction", "mass", "quantum"],
    "mathematics": ["equation", "function", "theorem", "proof", "algebra", "geometry", "triangle", "angle",
                    "polynomial", "fraction", "integer", "derivative", "integral", "matrix", "vector", "probability",
                    "statistic", "graph", "solve", "variable", "prime", "ratio", "circle", "calculus", "lemma"],
}


def map_subject(file: str, subject_map: dict[str, str]) -> str | None:
    """The subject of the first glob (in insertion order) matching the file's base name, case-insensitive."""
    name = PurePath(file).name.lower()
    for pattern, subject in subject_map.items():
        if fnmatch.fnmatch(name, pattern.lower()):
            return subject
    return None


class SubjectClassifier:
    """Keyword scorer over a fixed subject list (see module docstring)."""

    def __init__(self, subjects: list[str], keywords: dict[str, list[str]], min_confidence: float = 0.5,
                 min_score: float = 2.0) -> None:
        bad = sorted(set(keywords) - set(subjects))
        if bad:
            raise ValueError(f"subject keywords for unknown subject(s) {bad}; subjects are {subjects}")
        self.subjects = list(subjects)
        self.min_confidence, self.min_score = min_confidence, min_score
        df: dict[str, int] = {}
        for words in keywords.values():
            for w in {w.lower().strip() for w in words if w.strip()}:
                df[w] = df.get(w, 0) + 1
        n = max(1, len(subjects))
        self.patterns: dict[str, list[tuple[re.Pattern[str], float]]] = {
            s: [(re.compile(rf"\b{re.escape(w.lower().strip())}\w{{0,4}}\b"), math.log(1 + n / df[w.lower().strip()]))
                for w in sorted(set(keywords.get(s, []))) if w.strip()]
            for s in self.subjects
        }

    def scores(self, text: str) -> dict[str, float]:
        low = text.lower()
        out = {}
        for s, pats in self.patterns.items():
            total = 0.0
            for pat, idf in pats:
                c = len(pat.findall(low))
                if c:
                    total += (1 + math.log(c)) * idf
            out[s] = round(total, 6)
        return out

    def classify(self, text: str) -> tuple[str, float]:
        """(subject, confidence in [0, 1]); ties break by the order of `subjects`."""
        sc = self.scores(text)
        total = sum(sc.values())
        if total <= 0:
            return UNKNOWN, 0.0
        best = max(self.subjects, key=lambda s: (sc[s], -self.subjects.index(s)))
        conf = round(sc[best] / total, 4)
        if conf < self.min_confidence or total < self.min_score:
            return UNKNOWN, conf
        return best, conf
