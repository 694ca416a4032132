"""Formulas in textbook prose: find, parse and evaluate them, name their variables, print numbers.

    f = Formula.find("The speed is v = d / t, where d is distance.")[0]   # Formula(text="v = d / t", lhs="v", ...)
    f.evaluate({"d": 120, "t": 8})  # -> 15.0;  variable_names(text, "d") -> ("distance", None);  fmt_num(2.50) -> "2.5"

No model, no randomness: the synth stage's worked problems (tutorforge.synth.worked) are built on these.
A formula is evaluated by a tiny parser (numbers, variables, + - × / ^ ² ³, parentheses), never by eval().
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tutorforge.text.rules import STOPWORDS

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?|½|π)|(?P<id>[A-Za-zρλΔθ][A-Za-z0-9_]*)|(?P<op>[+\-−*/×÷·⁄^()²³]))")
_OPS = {"+": "+", "-": "-", "−": "-", "*": "*", "×": "*", "·": "*", "/": "/", "÷": "/", "⁄": "/", "^": "^"}
_WORDISH = STOPWORDS | {"where", "which", "and", "so", "is", "in", "when", "then", "metres", "seconds"}


@dataclass
class Formula:
    text: str
    lhs: str
    tree: tuple
    variables: list[str] = field(default_factory=list)

    @staticmethod
    def find(text: str) -> list[Formula]:
        """Distinct formulas in order of appearance ("v = d / t = 400 / 80" yields "v = d / t" once)."""
        out: dict[str, Formula] = {}
        for m in re.finditer(r"(?<![\w=<>])([A-Za-zρλΔθ][A-Za-z0-9_]{0,11})\s*=\s*", text):
            f = _parse(m.group(1), text[m.end() :])
            if f:
                out.setdefault(f.text, f)
        return list(out.values())

    def evaluate(self, values: dict[str, float]) -> float:
        """The right-hand side's value (NaN on overflow or division by zero)."""
        try:
            return _eval(self.tree, values)
        except (OverflowError, ZeroDivisionError):
            return float("nan")

    def substituted(self, values: dict[str, str]) -> str:
        """The right-hand side with each variable replaced by its value string."""
        rhs = self.text.split("=", 1)[1]
        return re.sub(r"[A-Za-zρλΔθ][A-Za-z0-9_]*", lambda m: values.get(m.group(0), m.group(0)), rhs).strip()


def _parse(lhs: str, rest: str) -> Formula | None:
    toks: list[tuple[str, str, int]] = []
    pos = 0
    while True:
        m = _TOKEN.match(rest, pos)
        if not m or m.end() == pos:
            break
        kind = m.lastgroup or ""
        toks.append((kind, m.group(kind), m.end()))
        pos = m.end()
    p = _Parser(toks)
    try:
        tree = p.expr()
    except ValueError:
        return None
    end = toks[p.i - 1][2] if p.i else 0
    nxt = toks[p.i] if p.i < len(toks) else None
    if nxt and (nxt[0] == "num" or nxt[1] == "(" or (nxt[0] == "id" and (len(nxt[1]) <= 2 or _fused(nxt[1])))):
        return None  # implicit multiplication ("ut + ½at²"): we cannot tell the variables apart
    variables = sorted(_vars(tree))
    if not p.i or tree[0] != "bin" or not variables or lhs in variables or _wordish(lhs):
        return None
    if any(_wordish(v) or len(v) > 12 or _fused(v) or re.fullmatch(r"[a-z][23]", v) for v in [*variables, lhs]):
        return None  # "v2" is usually v² flattened by the PDF text layer: ambiguous
    return Formula(f"{lhs} = {rest[:end].strip()}", lhs, tree, variables)


class _Parser:
    """expr := term (('+'|'-') term)*; term := power (('*'|'/') power)*; power := atom ('^' atom | '²' | '³')*."""

    def __init__(self, toks: list[tuple[str, str, int]]) -> None:
        self.toks, self.i = toks, 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i][:2] if self.i < len(self.toks) else None

    def expr(self) -> tuple:
        node = self.term()
        while (t := self.peek()) and t[0] == "op" and _OPS.get(t[1]) in ("+", "-") and self._operand_follows():
            self.i += 1
            node = ("bin", _OPS[t[1]], node, self.term())
        return node

    def term(self) -> tuple:
        node = self.power()
        while (t := self.peek()) and t[0] == "op" and _OPS.get(t[1], "") in ("*", "/") and self._operand_follows():
            self.i += 1
            node = ("bin", _OPS[t[1]], node, self.power())
        return node

    def power(self) -> tuple:
        node = self.atom()
        while (t := self.peek()) and t[0] == "op" and t[1] in "^²³":
            self.i += 1
            exp = ("num", 2.0 if t[1] == "²" else 3.0) if t[1] != "^" else self.atom()
            if exp[0] != "num" or abs(exp[1]) > 4:
                raise ValueError("only small numeric exponents")
            node = ("bin", "^", node, exp)
        return node

    def atom(self) -> tuple:
        t = self.peek()
        if t is None:
            raise ValueError("end of formula")
        self.i += 1
        if t[0] == "num":
            return ("num", {"½": 0.5, "π": 3.141592653589793}.get(t[1]) or float(t[1]))
        if t[0] == "id":
            if _wordish(t[1]):
                raise ValueError("word, not a variable")
            return ("var", t[1])
        if t[1] == "(":
            node = self.expr()
            if self.peek() != ("op", ")"):
                raise ValueError("unbalanced")
            self.i += 1
            return node
        raise ValueError(f"unexpected {t[1]}")

    def _operand_follows(self) -> bool:
        nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
        return nxt is not None and (nxt[0] == "num" or nxt[1] == "(" or (nxt[0] == "id" and not _wordish(nxt[1])))


def _wordish(name: str) -> bool:
    """An English word rather than a symbol (single letters are always symbols: a, b, m, t)."""
    return len(name) > 1 and name.lower() in _WORDISH


def _fused(name: str) -> bool:
    """'mc', 'ut', 'PE': 2-3 letters with no subscript mark are usually fused symbols (E = mc²), not one variable."""
    if re.fullmatch(r"[A-Z][a-z0-9]", name):  # Ek, Ep, V1: a capital with a subscript
        return False
    return 2 <= len(name) <= 3 and name.isalpha() and name.isascii()


def _vars(tree: tuple) -> set[str]:
    if tree[0] == "var":
        return {tree[1]}
    if tree[0] == "bin":
        return _vars(tree[2]) | _vars(tree[3])
    return set()


def _eval(tree: tuple, values: dict[str, float]) -> float:
    if tree[0] == "num":
        return tree[1]
    if tree[0] == "var":
        return float(values[tree[1]])
    a, b = _eval(tree[2], values), _eval(tree[3], values)
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else float("nan"), "^": a**b}[tree[1]]


def variable_names(text: str, var: str) -> tuple[str | None, str | None]:
    """(description, unit) of a formula variable from prose like 'where v is the speed in m/s' or 'speed (v)'."""
    v = re.escape(var)
    m = re.search(
        rf"(?<![\w]){v}\s+(?:is|represents|stands\s+for|=)\s+(?:the\s+)?(?P<d>[a-z][a-z \-]{{2,40}}?)"
        rf"(?:\s+(?:in|measured\s+in)\s+(?P<u>[A-Za-z/²³0-9]+(?:\s+per\s+[a-z]+)?))?(?=[,.;)]|\s+and\b|$)",
        text,
    )
    if m:
        return m["d"].strip(), (m["u"] or None)
    m = re.search(rf"(?P<d>[a-z][a-z\-]{{2,25}}(?:\s+[a-z][a-z\-]{{2,25}})?)\s*\(\s*{v}\s*\)", text)
    if m and m["d"].split()[-1] not in STOPWORDS:
        return m["d"].split()[-1] if m["d"].split()[0] in STOPWORDS else m["d"], None
    return None, None


def fmt_num(x: float) -> str:
    """3 decimals at most, no trailing zeros, integers without a decimal point."""
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    return f"{round(x, 3):.3f}".rstrip("0").rstrip(".")
