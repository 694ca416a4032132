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
from collections import Counter
from pathlib import PurePath

UNKNOWN = "unknown"
TOKEN_RE = re.compile(r"[a-z0-9]+")


def norm_kw(word: str) -> str:
    return " ".join(TOKEN_RE.findall(word.lower()))


# Default keyword (word-prefix) lists for the four sample subjects; params.yaml `segment.subject_keywords` overrides.
DEFAULT_KEYWORDS = {
    "biology": [
        "cell",
        "tissue",
        "organ",
        "membrane",
        "enzyme",
        "protein",
        "dna",
        "gene",
        "chromosome",
        "mitosis",
        "photosynthe",
        "species",
        "evolution",
        "ecosystem",
        "organism",
        "bacteri",
        "plant",
        "animal",
        "nucleus",
        "respiration",
        "blood",
        "heart",
        "digest",
        "hormone",
        "neuron",
    ],
    "chemistry": [
        "atom",
        "molecul",
        "element",
        "compound",
        "reaction",
        "acid",
        "base",
        "salt",
        "bond",
        "ion",
        "electron",
        "periodic",
        "mole",
        "solution",
        "oxid",
        "catalyst",
        "isotope",
        "valence",
        "carbon",
        "metal",
        "gas",
        "equilibri",
        "organic chemistry",
        "titration",
    ],
    "physics": [
        "force",
        "motion",
        "velocity",
        "acceleration",
        "energy",
        "momentum",
        "newton",
        "gravity",
        "wave",
        "frequency",
        "light",
        "lens",
        "current",
        "voltage",
        "resistance",
        "magnet",
        "charge",
        "pressure",
        "heat",
        "thermodynamic",
        "joule",
        "watt",
        "friction",
        "mass",
        "quantum",
    ],
    "mathematics": [
        "equation",
        "function",
        "theorem",
        "proof",
        "algebra",
        "geometry",
        "triangle",
        "angle",
        "polynomial",
        "fraction",
        "integer",
        "derivative",
        "integral",
        "matrix",
        "vector",
        "probability",
        "statistic",
        "graph",
        "solve",
        "variable",
        "prime",
        "ratio",
        "circle",
        "calculus",
        "lemma",
    ],
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

    def __init__(
        self, subjects: list[str], keywords: dict[str, list[str]], min_confidence: float = 0.5, min_score: float = 2.0
    ) -> None:
        bad = sorted(set(keywords) - set(subjects))
        if bad:
            raise ValueError(f"subject keywords for unknown subject(s) {bad}; subjects are {subjects}")
        self.subjects = list(subjects)
        self.min_confidence, self.min_score = min_confidence, min_score
        df: dict[str, int] = {}
        for words in keywords.values():
            for w in {norm_kw(w) for w in words if w.strip()}:
                df[w] = df.get(w, 0) + 1
        n = max(1, len(subjects))
        # keyword -> [(subject, idf)]; single words are matched as token prefixes, phrases as token sequences
        self.words: dict[str, list[tuple[str, float]]] = {}
        self.phrases: dict[str, list[tuple[str, float]]] = {}
        for s in self.subjects:
            for w in sorted({norm_kw(w) for w in keywords.get(s, []) if w.strip()}):
                (self.phrases if " " in w else self.words).setdefault(w, []).append((s, math.log(1 + n / df[w])))

    def counts(self, text: str) -> dict[str, int]:
        """Keyword -> occurrences (a token counts for keyword k if it starts with k and is <= 4 chars longer)."""
        tokens = TOKEN_RE.findall(text.lower())
        out: dict[str, int] = {}
        for tok, c in Counter(tokens).items():
            for cut in range(max(1, len(tok) - 4), len(tok) + 1):
                if tok[:cut] in self.words:
                    out[tok[:cut]] = out.get(tok[:cut], 0) + c
        if self.phrases:
            joined = f" {' '.join(tokens)} "
            for ph in self.phrases:
                c = len(re.findall(rf" {re.escape(ph)}\w{{0,4}}(?= )", joined))
                if c:
                    out[ph] = c
        return out

    def scores(self, text: str) -> dict[str, float]:
        total = dict.fromkeys(self.subjects, 0.0)
        for kw, c in self.counts(text).items():
            for s, idf in self.words.get(kw) or self.phrases[kw]:
                total[s] += (1 + math.log(c)) * idf
        return {s: round(v, 6) for s, v in total.items()}

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
