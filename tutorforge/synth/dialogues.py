"""Multi-turn kinds of the deterministic generator: Socratic tutoring dialogues and tool-call conversations.

    b = SectionBuilder(section, defs, terms, cfg, catalogue)   # tutorforge.synth.builders
    dialogues.socratic(b)    # student question -> tutor clue + guiding question -> student attempt -> tutor confirms
    dialogues.tool_call(b)   # search_textbook / make_quiz / show_3d_model calls with their tool results and replies

A Socratic first tutor turn quotes a nearby sentence that does not give the answer away; tool calls use the tools
of `b.catalogue` (tutorforge.tools.specs). The templates below are versioned by builders.TEMPLATE_VERSION.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from tutorforge.text.rules import content_tokens, norm, upper_first
from tutorforge.tools.specs import signatures

if TYPE_CHECKING:
    from tutorforge.synth.builders import SectionBuilder

SOC_OPEN = ["I don't really get this. {q}", "Can you help me with a question? {q}", "{q} I'm stuck on this one."]
SOC_HINT_DEF = [
    'Look at the words around "{term}" in the section "{heading}". What kind of thing do you think '
    "{term} is, and what does it do?",
    "What do you already know about {term}? How would you describe it in your own words?",
    'Think about the role {term} plays in the topic "{heading}". What could its job be?',
]
SOC_HINT_WHY = [
    'Which fact in the section "{heading}" could explain this?',
    'What do you think is the reason? Think about what the section "{heading}" says.',
    "What would have to be true for this to happen?",
]
SOC_ATTEMPT = ["Is it something to do with {hint}?", "Maybe it has to do with {hint}?"]
SOC_CLOSE = [
    "Yes, you are on the right track. {answer} Can you think of an example of this?",
    "Exactly, well reasoned. {answer} How would you explain this to a classmate?",
]
SEARCH_Q = [
    "Where does my textbook explain {term}?",
    "Can you look up {term} in the textbook for me?",
    "Find the part of the book about {term}, please.",
]
QUIZ_Q = ["Can you give me a quiz with {n} {questions} on {topic}?", "Quiz me on {topic}: {n} {questions}, please."]
# Requests for a 3D model mostly describe what the student wants to see (the keyword), not the catalogue title: that
# is how students ask, and what the tutor must map onto a model_id.
MODEL_Q = [
    "Can you show me a 3D model of {title}?",
    "I can't picture {kw}. Is there a 3D model I can look at?",
    "Is there a 3D view where I can find the {kw}?",
    "I'd like to rotate something on screen to understand {kw} better.",
    "What does {kw} look like from all sides? Open a model for me.",
    "Let me explore {title} in three dimensions, please.",
]


def socratic(b: SectionBuilder) -> list[dict]:
    items: list[tuple[str, str, str, str, str]] = []  # (key, question, answer, hint source, sentence)
    items += [(d.phrase, d.question, upper_first(d.sentence), d.body, d.sentence) for d in b.defs]
    items += [
        (c.effect, upper_first(c.question), upper_first(c.answer), c.cause, c.sentence)
        for c in b.causes
        if c.qtype == "why"
    ]
    out = []
    for key, q, answer, hint_src, sent in items:
        rng = b.rng("socratic", key)
        is_def = any(d.sentence == sent for d in b.defs)
        context = _context(b, sent, answer, hint_src, f"{key} {q}")
        hints = SOC_HINT_DEF if is_def else SOC_HINT_WHY
        vo, vh, va, vc = (rng.randrange(len(t)) for t in (SOC_OPEN, hints, SOC_ATTEMPT, SOC_CLOSE))
        clue = f'Here is a clue from your textbook: "{context}" ' if context else ""
        first = clue + hints[vh].format(term=key, heading=b.heading)
        hint_words = [w for w in content_tokens(hint_src) if w not in content_tokens(q)][:2] or ["the text"]
        msgs = [
            {"role": "user", "content": SOC_OPEN[vo].format(q=q)},
            {"role": "assistant", "content": first},
            {"role": "user", "content": SOC_ATTEMPT[va].format(hint=" and ".join(hint_words))},
            {"role": "assistant", "content": SOC_CLOSE[vc].format(answer=answer)},
        ]
        out.append(
            b.record(
                "socratic",
                "socratic.definition" if is_def else "socratic.why",
                vo * 100 + vh * 10 + va,
                msgs,
                {"withheld_answer": hint_src, "reference_answer": answer, "tutor_turns": 2},
                sent,
            )
        )
    return out


def _context(b: SectionBuilder, sent: str, answer: str, hidden: str, topic: str = "") -> str | None:
    """The sentence sharing most words with the topic (nearest first on ties) that does not give the answer away."""
    i = b.sents.index(sent)
    want = set(content_tokens(topic))
    best, best_key = None, None
    for j, c in enumerate(b.sents):
        if j == i or norm(hidden) in norm(c) or norm(answer) in norm(c) or "=" in c or len(c) > 300:
            continue
        key = (-len(want & set(content_tokens(c))), abs(j - i))
        if best_key is None or key < best_key:
            best, best_key = c, key
    return best


def tool_call(b: SectionBuilder) -> list[dict]:
    out = []
    system = {
        "role": "system",
        "content": "You are a patient school tutor. You can call these tools:\n" + signatures(b.catalogue),
    }
    rng = b.rng("tool_call")
    for term in ([d.term for d in b.defs] + b.terms)[:3]:
        snippet = next((x for x in b.sents if re.search(rf"\b{re.escape(term)}\b", x, re.I)), None)
        if not snippet:
            continue
        v = rng.randrange(len(SEARCH_Q))
        result = {
            "results": [
                {
                    "section_id": b.sid,
                    "heading": b.heading,
                    "pages": [b.s.get("page_start"), b.s.get("page_end")],
                    "snippet": snippet,
                }
            ]
        }
        final = f'Your textbook covers {term} in "{b.heading}" ({_pages(b.s)}). It says: "{snippet}"'
        out.append(
            _tool(
                b,
                system,
                SEARCH_Q[v].format(term=term),
                "search_textbook",
                {"query": term},
                result,
                final,
                "tool.search_textbook",
                v,
            )
        )
    quiz = [(m[0]["content"], m[1]["content"]) for m in [r["messages"] for r in b.definition()[:3]]] or [
        (m[0]["content"], m[1]["content"]) for m in [r["messages"] for r in b.cloze()[:3]]
    ]
    if quiz and b.heading:
        n = rng.randint(min(2, len(quiz)), len(quiz))
        v = rng.randrange(len(QUIZ_Q))
        result = {"topic": b.heading, "questions": [{"question": q, "answer": a} for q, a in quiz[:n]]}
        final = (
            f"Here is your quiz on {b.heading}:\n"
            + "\n".join(f"{i}. {q}" for i, (q, _) in enumerate(quiz[:n], 1))
            + "\nTry to answer them, then check with me."
        )
        out.append(
            _tool(
                b,
                system,
                QUIZ_Q[v].format(n=n, topic=b.heading, questions="question" if n == 1 else "questions"),
                "make_quiz",
                {"topic": b.heading, "n_questions": n},
                result,
                final,
                "tool.make_quiz",
                v,
            )
        )
    low = b.flat.lower()
    matches = []  # catalogue models this section's text talks about, most keyword hits first
    for mid, m in sorted(b.catalogue.items()):
        if b.s.get("subject") not in (m.get("subject"), None, "unknown"):
            continue
        hits = [k for k in m.get("keywords", []) if re.search(rf"\b{re.escape(k.lower())}\b", low)]
        if hits:
            matches.append((-len(hits), mid, m, hits))
    chosen = [(mid, m, hits) for _, mid, m, hits in sorted(matches)[:2]]
    # and one model of the section's subject that its text does not name: a student may ask for any model in the
    # catalogue, and a sample book mentions few of them (the request is built from the catalogue's keywords)
    others = [(mid, m) for mid, m in sorted(b.catalogue.items()) if m.get("subject") == b.s.get("subject")]
    others = [(mid, m) for mid, m in others if mid not in {c[0] for c in chosen} and m.get("keywords")]
    if others:
        mid, m = others[rng.randrange(len(others))]
        chosen.append((mid, m, []))
    for mid, m, hits in chosen:
        kw = (hits or m["keywords"])[rng.randrange(len(hits or m["keywords"]))]
        v = rng.randrange(len(MODEL_Q))
        sent = next((x for x in b.sents + [b.flat] if re.search(rf"\b{re.escape(kw)}\b", x.lower())), None)
        final = f"I've opened the 3D model of {m['title']}. " + (
            f'While you rotate it, remember what your textbook says: "{sent}" What do you notice about the {kw}?'
            if sent
            else f"Turn it slowly and find the {kw}. What do you notice about it?"
        )
        out.append(
            _tool(
                b,
                system,
                MODEL_Q[v].format(title=m["title"], kw=kw),
                "show_3d_model",
                {"model_id": mid},
                {"status": "displayed", "model_id": mid, "title": m["title"]},
                final,
                "tool.show_3d_model",
                v,
            )
        )
    return out


def _tool(
    b: SectionBuilder, system: dict, ask: str, name: str, args: dict, result: dict, final: str, tid: str, v: int
) -> dict:
    msgs = [
        system,
        {"role": "user", "content": ask},
        {"role": "assistant", "content": "", "tool_calls": [{"name": name, "arguments": args}]},
        {"role": "tool", "content": json.dumps(result, ensure_ascii=False, sort_keys=True)},
        {"role": "assistant", "content": final},
    ]
    return b.record("tool_call", tid, v, msgs, {"tool": name})


def _pages(s: dict) -> str:
    a, b = s.get("page_start"), s.get("page_end")
    return f"page {a}" if a == b else f"pages {a}-{b}"
