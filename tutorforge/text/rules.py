"""Rule-based reading of textbook prose: sentences, definitions, causal links, key terms.

    sentences("2.1 Speed\\nSpeed is the distance travelled per unit time. ...")   # heading lines kept apart
    definition("A cell is the basic unit of life.")      # -> Definition(term="cell", body="the basic unit of life", ...)
    causal("Ice floats because it is less dense than water.")  # -> Causal(kind="why", question=..., answer=...)

No model, no randomness: the synth stage's deterministic generator and its filters are built on these.
Formulas in the prose (Formula, variable_names, fmt_num) are read by tutorforge.text.formulas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just may me might more most must my myself
no nor not now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we were what
when where which while who whom why will with would you your yours yourself yourselves one two three also called
used using use known like many much often usually however therefore thus example examples figure table chapter section
page called each every""".split()
)
GENERIC = frozenset(
    """means mean meant exactly fixed makes make made gives give given shows show shown takes take taken
found form forms move moves moving becomes become known need needs needed tells tell keep keeps several different same
small smaller large larger greater higher lower first second third number numbers amount amounts value values time times
way ways part parts thing things result results called contains contain works work working useful important common
total whole order single equal change changes changed quickly slowly always never another there where called describes
describe described""".split()
)
BAD_TERM_START = frozenset(
    "this that these those it they there he she we you which what each such its their our "
    "one some many most all both another other here when where if".split()
)
WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")


def words(text: str) -> list[str]:
    return WORD.findall(text)


def content_tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens minus stopwords (for overlap/grounding)."""
    return [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in STOPWORDS and (len(t) > 1 or t.isdigit())]


def norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def lower_first(s: str) -> str:
    """Lower-case a sentence-initial capital, but keep acronyms and symbols (DNA, pH, F)."""
    first = s.split(" ", 1)[0]
    if first == "A" and " " in s or len(first) > 1 and first[0].isupper() and first[1:].islower():
        return s[0].lower() + s[1:]
    return s


def upper_first(s: str) -> str:
    return s[:1].upper() + s[1:]


def _heading_like(line: str) -> bool:
    s = line.strip()
    return bool(s) and len(s) <= 70 and not re.search(r"[.!?:;,]$", s) and len(s.split()) <= 9


def sentences(text: str) -> list[str]:
    """Sentences of section text: hyphenated line breaks joined, heading-like lines dropped."""
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    blocks: list[list[str]] = [[]]
    for line in text.split("\n"):
        if _heading_like(line) and (not blocks[-1] or re.search(r"[.!?]$", blocks[-1][-1].strip())):
            blocks.append([])
            continue
        blocks[-1].append(line.strip())
    out = []
    for block in blocks:
        para = re.sub(r"\s+", " ", " ".join(block)).strip()
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(\"'])", para):
            s = s.strip()
            if re.match(r"(?:\d+(?:\.\d+)*|Chapter\s+\d+)\s+[A-Z]", s) and (s.endswith("?") or len(s.split()) < 10):
                continue  # a numbered heading glued to the text ("1.1 What Is a Cell?")
            if len(words(s)) >= 4 and s[-1:] in ".!?":
                out.append(s)
    return out


# --- definitions ----------------------------------------------------------------------------------------------
TERM = r"[A-Za-z][A-Za-z'\-]*(?:\s+[A-Za-z][A-Za-z'\-]*){0,3}"
_ART = r"(?:(?P<art>A|An|The)\s+)?"
DEF_PATTERNS = [
    ("defined_as", re.compile(rf"^{_ART}(?P<term>{TERM})\s+(?P<verb>is|are)\s+defined\s+as\s+(?P<body>.+?)\.$")),
    ("refers_to", re.compile(rf"^{_ART}(?P<term>{TERM})\s+(?P<verb>refers|refer|means)\s+(?:to\s+)?(?P<body>.+?)\.$")),
    (
        "called",
        re.compile(
            rf"^(?P<body>[A-Z].+?)\s+(?P<verb>is|are)\s+(?:called|known\s+as|termed)\s+(?:(?P<art>an?|the)\s+)?"
            rf"(?P<term>{TERM})\.$"
        ),
    ),
    ("is_a", re.compile(rf"^{_ART}(?P<term>{TERM})\s+(?P<verb>is|are)\s+(?P<body>(?:an?|the)\s+.+?)\.$")),
    (
        "are_x_that",
        re.compile(rf"^(?P<art>)(?P<term>{TERM})\s+(?P<verb>are)\s+(?P<body>\w+\s+(?:that|which|of|made)\b.+?)\.$"),
    ),
]


@dataclass
class Definition:
    term: str
    body: str
    sentence: str
    pattern: str
    plural: bool
    article: str = ""

    @property
    def phrase(self) -> str:
        """The term as it reads in a sentence: 'an atom', 'the nucleus', 'osmosis', 'enzymes'."""
        return f"{self.article} {self.term}" if self.article and not self.plural else self.term

    @property
    def question(self) -> str:
        if self.plural:
            return f"What are {self.term}?"
        return f"What is {self.article + ' ' if self.article else ''}{self.term}?"


def _term_ok(term: str) -> bool:
    ws = term.split()
    return (
        0 < len(ws) <= 4
        and ws[0].lower() not in BAD_TERM_START
        and len(term) >= 3
        and not all(w.lower() in STOPWORDS for w in ws)
        and ws[-1].lower() not in STOPWORDS
    )


def definition(sentence: str) -> Definition | None:
    for name, pat in DEF_PATTERNS:
        m = pat.match(sentence)
        if not m:
            continue
        term, body = m["term"].strip(), m["body"].strip()
        if not _term_ok(term) or len(words(body)) < 3:
            continue
        if name == "called" and len(words(body)) > 25:
            continue
        if name != "called":
            term = lower_first(term)
        else:
            body = lower_first(body)
        art = (m.groupdict().get("art") or "").lower()
        return Definition(term, body, sentence, name, m["verb"] in ("are", "refer"), art)
    return None


# --- causal sentences ----------------------------------------------------------------------------------------
@dataclass
class Causal:
    qtype: str  # why | how | effect
    marker: str
    question: str
    answer: str
    sentence: str
    cause: str
    effect: str


_MIN_CLAUSE = 3


def _clause(s: str) -> str:
    return s.strip().rstrip(".").strip(" ,;")


PRONOUNS = ("it", "this", "that", "they", "these", "those", "which", "he", "she", "its", "their", "there", "them")


def causal(sentence: str, previous: str | None = None) -> Causal | None:
    s = sentence.strip()
    if re.search(r"[=?]|\d\s*[-+×÷/]\s*\d", s):
        return None  # worked-example arithmetic and questions make poor why-questions
    m = re.match(r"^Because\s+(?P<b>[^,]+),\s+(?P<a>.+?)\.$", s)
    if m:
        a, b = _clause(m["a"]), _clause(m["b"])
        return _mk("why", "because", f"Explain why {lower_first(a)}.", f"Because {b}.", s, b, a)
    for marker, pat, qtype in [
        ("because", r"^(?P<a>.+?),?\s+because\s+(?P<b>.+)$", "why"),
        ("so that", r"^(?P<a>.+?),?\s+so\s+that\s+(?P<b>.+)$", "why"),
        ("therefore", r"^(?P<b>.+?)[,;]\s+(?:and\s+)?(?:therefore|thus|hence|so)\s*,?\s+(?P<a>.+)$", "why"),
        (
            "causes",
            r"^(?P<b>.+?)\s+(?P<v>causes|cause|leads\s+to|lead\s+to|results\s+in|result\s+in)\s+(?P<a>.+)$",
            "effect",
        ),
        ("by", r"^(?P<a>.+?)\s+by\s+(?P<b>\w+ing\b.+)$", "how"),
    ]:
        m = re.match(pat, s.rstrip("."))
        if not m:
            continue
        a, b = _clause(m["a"]), _clause(m["b"])
        if marker == "because":
            return _mk(qtype, marker, f"Explain why {lower_first(a)}.", f"Because {b}.", s, b, a)
        if marker == "so that":
            return _mk(qtype, marker, f"Explain why {lower_first(a)}.", f"So that {b}.", s, b, a)
        if marker == "therefore":
            return _mk(qtype, marker, f"Explain why {lower_first(a)}.", f"Because {lower_first(b)}.", s, b, a)
        if marker == "causes":
            if len(words(b)) > 8 or re.search(r"[,;:]", b) or b.split()[0].lower() in ("if", "when", "and", "but"):
                continue  # the subject must be a short noun phrase ("A lack of water causes ...")
            verb = re.sub(r"\s+", " ", m["v"])
            base = {"causes": "cause", "leads to": "lead to", "results in": "result in"}.get(verb, verb)
            aux = "do" if base == verb else "does"
            return _mk(qtype, marker, f"What {aux} {lower_first(b)} {base}?", upper_first(s), s, b, a)
        if len(words(a)) > 15 or "," in a:
            return None
        return _mk(qtype, marker, f"Explain how {lower_first(a)}.", f"By {b}.", s, b, a)
    if previous:
        m = re.match(r"^(?:Therefore|Thus|Hence|As a result|Consequently|This is why),?\s+(?P<a>.+?)\.$", s)
        if m:
            b = _clause(previous)
            return _mk(
                "why",
                "therefore",
                f"Explain why {lower_first(_clause(m['a']))}.",
                f"Because {lower_first(b)}.",
                s,
                b,
                m["a"],
            )
    return None


def _mk(qtype: str, marker: str, q: str, ans: str, s: str, cause: str, effect: str) -> Causal | None:
    if len(words(cause)) < _MIN_CLAUSE + 1 or len(words(effect)) < _MIN_CLAUSE:
        return None
    if effect.split()[0].lower() in PRONOUNS + ("if", "when", "and", "but", "however", "although") or cause.split()[
        0
    ].lower() in ("which", "this", "that"):
        return None  # "Explain why it has no overall charge": the question would lack its subject
    return Causal(qtype, marker, q, ans, s, cause, effect)


def key_terms(text: str, limit: int = 20, min_len: int = 5) -> list[str]:
    """Most frequent content words (then alphabetical), lower-cased: candidates for cloze blanks and distractors."""
    counts: dict[str, int] = {}
    for w in words(text):
        lw = w.lower().strip("'-")
        if len(lw) >= min_len and lw not in STOPWORDS and lw not in GENERIC and lw.isalpha() and not lw.endswith("ly"):
            counts[lw] = counts.get(lw, 0) + 1
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
