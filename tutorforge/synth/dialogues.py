"""Multi-turn kinds of the deterministic generator: Socratic tutoring dialogues and tool-call conversations.

    b = SectionBuilder(section, defs, terms, cfg, catalogue)   # tutorforge.synth.builders
    dialogues.socratic(b)    # student question -> tutor clue + guiding question -> student attempt -> tutor confirms
    dialogues.tool_call(b)   # search_textbook / make_quiz / show_3d_model calls with their tool results and replies

A Socratic first tutor turn asks guiding questions about what the student asked and nothing more (no answer, no
answer-bearing quote); tool calls use the tools of `b.catalogue` (tutorforge.tools.specs). The templates below are versioned by builders.TEMPLATE_VERSION.
"""

from __future__ import annotations

import json
import random
import re
from typing import TYPE_CHECKING

from tutorforge.synth import questions, worked
from tutorforge.text.rules import content_tokens, upper_first
from tutorforge.tools.specs import signatures

if TYPE_CHECKING:
    from tutorforge.synth.builders import SectionBuilder

# Students often demand the answer outright; the tutor stays Socratic either way. The bare question is there too: the
# same words then come under both system prompts (plain and Socratic), so the mode has to be read from the prompt.
SOC_OPEN = [
    "{q}",
    "{q}",
    "I don't really get this. {q}",
    "Can you help me with a question? {q}",
    "{q} I'm stuck on this one.",
    "Just tell me the answer: {q}",
    "{q} Can you just give me the answer?",
    "I have a test soon, so tell me straight. {q}",
    "{q} Please just say it, I'm in a hurry.",
]
# The first tutor turn names only what the student already said (the key of the question) and asks guiding questions:
# a clue quoted from the book taught the model to open with answer-bearing sentences (issue 13: a leak is a failure).
SOC_HINT_DEF = [
    "Let's work it out together instead of me just telling you. What do you already know about {term}? "
    "How would you describe it in your own words?",
    "I'll help you get there yourself. Where have you met {term} before, and what do you think it does?",
    "Good one to think through. What kind of thing is {term}, and what clue does the name itself give you?",
    "You'll remember it better if you find it. Think about {term}: what is it part of, and what would go "
    "wrong without it?",
]
SOC_HINT_WHY = [
    "Let's reason it out step by step. What do you already know about each part of the question? "
    "What could make that happen?",
    "Before I say anything, think it through: what would have to be true for this to happen? "
    "Which fact from your lessons could explain it?",
    "Try breaking it into parts. What changes first here, and what do you think that change causes?",
    "Let's find the reason together. Which process is involved, and how could it lead to what you describe?",
]
SOC_HINT_CALC = [
    "Let's set it up together. Which equation links the quantities in your question? Once you have it, "
    "which numbers go where, and what do you need to rearrange to find {target}?",
    "I'll let you do the last step yourself. What do you know already, and what are you asked to find? "
    "Which formula connects them?",
    "Start from what is given. Which relationship between these quantities have you learnt, and how would you "
    "get {target} on its own?",
]
SOC_COMPARE_Q = questions.COMPARE_Q  # the plain comparisons (questions.comparisons) ask in the same words
SOC_HINT_COMPARE = [
    "Let's compare them one at a time. What do you already know about {a}? And what do you know about {b}? "
    "Where do they differ?",
    "Good question to reason through. Can you describe {a} in your own words first? Then, what is special about {b}?",
    "Try putting them side by side. What is {a} made of or used for, and is that also true of {b}?",
]
SOC_HINT_CHOICE = [
    "Let's narrow it down together. What is the sentence talking about? Which word would make sense there?",
    "Read it again slowly. Which words around the gap are clues? What kind of word must go in it?",
    "Try ruling some out first. Which answer can't be right, and why? What is left?",
]
# cloze/MC questions per section asked in Socratic mode (after the dialogues, not instead); 3 made "Let's narrow it
# down together" the tutor's reply to direct questions too, and at 2 they were 82 of the 196 Socratic examples: the
# tutor answered "Let's narrow it down" to calculations (issue 13)
SOC_CHOICES = 1
SOC_CALC_ASKS = 2  # openings per worked example of the book
SOC_HINT_PROBLEM = [
    "Let's set it up together. What are you given, and what are you asked to find? Which method from this section "
    "fits?",
    "I'll let you do the working. What would your first step be, and why that one?",
    "Start by writing down what you know. Which rule or formula links it to what you need?",
    "Let's break it into steps. What does the question give you, and what do you have to work out first?",
]
SOC_FORMULA_ASK = worked.FORMULA_Q  # the plain formula questions (worked.formula_questions) ask in the same words
SOC_HINT_FORMULA = [
    "Let's build it together. Which quantities does {target} depend on? If one of them doubled, what would happen "
    "to {target}?",
    "Think about the units first. What is {target} measured in, and which quantities would you combine to get it?",
    "You can work this out. What does {target} tell you about a situation, and which other quantities would you "
    "need to know to find it?",
]
# share of definition/why items kept as the opening exchange only: the closing turn states the answer under the
# Socratic prompt, and at 0.5 the tutor stated results of calculations it was asked in Socratic mode
SOC_OPENING_ONLY_SHARE = 0.85
SOC_ATTEMPT = ["Is it something to do with {hint}?", "Maybe it has to do with {hint}?"]
SOC_ATTEMPT_CALC = ["Do I use {formula}?", "Is the formula {formula}?"]
SOC_CLOSE = [
    "Yes, you are on the right track. {answer} Can you think of an example of this?",
    "Exactly, well reasoned. {answer} How would you explain this to a classmate?",
]
SEARCH_Q = [
    "Where does my textbook explain {term}?",
    "Can you look up {term} in the textbook for me?",
    "Find the part of the book about {term}, please.",
    "Which page of my {subject} textbook is about {term}?",
    "Search the book for {term}, please.",
    "I need the section that explains {term}. Can you find it?",
    "Where in my {subject} book can I read about {term}? Look it up for me.",
]
QUIZ_Q = [
    "Can you give me a quiz with {n} {questions} on {topic}?",
    "Quiz me on {topic}: {n} {questions}, please.",
    "Test me on {topic} with {n} {questions}.",
    "I want to practise {topic}. Make me a {n}-question quiz.",
    "Give me {n} practice {questions} about {topic}.",
    "Can I have {n} {questions} to check what I know about {topic}?",
]
QUIZZES = 2  # quiz requests per section
# Share of tool conversations that go on past the call to the tool result and the tutor's reply; the rest end at the
# call. Those replies are templates a few dozen examples teach, while a 256-token window of tool context per reply
# made tool conversations 72% of the SFT tokens (issue 13: the default run must stay within 20 minutes). At 0.25 the
# answered ones alone were 28% of the training tokens (64 conversations, 18k tokens), more than every direct-answer
# kind together; 0.12 keeps ~30 of them, which still teach the reply templates.
TOOL_ANSWERED_SHARE = 0.12
# requests per catalogue model and section (only the first may go on past the call): with 2, each model_id had ~10
# training requests and the tutor opened the cell for "the heart's chambers"
MODEL_REQUESTS = 3
NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
# Requests for a 3D model mostly describe what the student wants to see (the keyword), not the catalogue title: that
# is how students ask, and what the tutor must map onto a model_id.
MODEL_Q = [
    "Can you show me a 3D model of {title}?",
    "I can't picture {kw}. Is there a 3D model I can look at?",
    "Is there a 3D view where I can find the {kw}?",
    "I'd like to rotate something on screen to understand {kw} better.",
    "What does {kw} look like from all sides? Open a model for me.",
    "Let me explore {title} in three dimensions, please.",
    "Bring up something interactive that shows {kw}.",
    "Could I turn a model with {kw} around to see it properly?",
    "Show me {kw} in 3D so I can spin it.",
    "I learn better with pictures. Is there a model of {kw} I can move around?",
    # the keyword inside a longer request, as students write them (the bare ones above taught the keyword only where
    # it was most of the sentence)
    "We covered {kw} in class today and I still can't see how it is put together. Could you open a 3D model?",
    "My homework is about {kw}. Is there a model I can rotate while I read?",
    "How is the {kw} arranged? I'd like to look at it from every angle.",
    "Before my test I want to zoom in on the {kw} and turn it around. Can you bring it up?",
]


def socratic(b: SectionBuilder) -> list[dict]:
    """Socratic candidates: a dialogue (or, for every other question, just the opening exchange) per definition and
    why-question, comparisons of two terms the section defines, its cloze and MC questions asked in Socratic mode,
    and worked problems asked Socratically."""
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
        hints = SOC_HINT_DEF if is_def else SOC_HINT_WHY
        vo, vh, va, vc = (rng.randrange(len(t)) for t in (SOC_OPEN, hints, SOC_ATTEMPT, SOC_CLOSE))
        first = hints[vh].format(term=key if len(key.split()) <= 4 else "this idea")
        hint_words = [w for w in content_tokens(hint_src) if w not in content_tokens(q)][:2] or ["the text"]
        msgs = [
            {"role": "user", "content": SOC_OPEN[vo].format(q=q)},
            {"role": "assistant", "content": first},
            {"role": "user", "content": SOC_ATTEMPT[va].format(hint=" and ".join(hint_words))},
            {"role": "assistant", "content": SOC_CLOSE[vc].format(answer=answer)},
        ]
        # Every other item stops after the opening exchange: the closing turn states the answer, and with one per
        # dialogue the model learnt "answer + a question" as a Socratic reply to a first question (issue 13).
        opening_only = rng.random() < SOC_OPENING_ONLY_SHARE
        template = ("socratic.definition" if is_def else "socratic.why") + (".opening" if opening_only else "")
        out.append(
            b.record(
                "socratic",
                template,
                vo * 100 + vh * 10 + va,
                msgs[:2] if opening_only else msgs,
                {"withheld_answer": hint_src, "reference_answer": answer, "tutor_turns": 1 if opening_only else 2},
                sent,
            )
        )
    return out + _socratic_comparisons(b) + _socratic_choices(b) + _socratic_calculations(b) + _socratic_problems(b)


def _socratic_comparisons(b: SectionBuilder) -> list[dict]:
    """Socratic "What's the difference between A and B?" for two terms this section defines (related by being taught
    together): the opening exchange only (the tutor asks about each term; the definitions stay withheld)."""
    defs = list({d.term.lower(): d for d in b.defs}.values())
    out = []
    for d, e in zip(defs, defs[1:], strict=False):
        rng = b.rng("socratic.compare", d.term, e.term)
        pair = (d.term, e.term) if rng.random() < 0.5 else (e.term, d.term)
        vq, vo, vh = (rng.randrange(len(t)) for t in (SOC_COMPARE_Q, SOC_OPEN, SOC_HINT_COMPARE))
        msgs = [
            {"role": "user", "content": SOC_OPEN[vo].format(q=SOC_COMPARE_Q[vq].format(a=pair[0], b=pair[1]))},
            {"role": "assistant", "content": SOC_HINT_COMPARE[vh].format(a=pair[0], b=pair[1])},
        ]
        meta = {
            "withheld_answer": d.body,
            "reference_answer": upper_first(d.sentence),
            "plain_reply": f"{upper_first(d.sentence)} {upper_first(e.sentence)}",
            "tutor_turns": 1,
        }
        out.append(b.record("socratic", "socratic.compare", vo * 100 + vh * 10 + vq, msgs, meta, d.sentence))
    return out


def _socratic_choices(b: SectionBuilder) -> list[dict]:
    """The section's fill-in-the-blank and multiple-choice questions asked in Socratic mode: the same words as the
    plain examples, so only the system prompt tells the modes apart; the tutor helps rule options in or out."""
    out, pool = [], b.cloze() + b.mc()
    rng = b.rng("socratic.choices")
    for r in [pool[i] for i in sorted(rng.sample(range(len(pool)), min(SOC_CHOICES, len(pool))))]:
        q, answer = r["messages"][0]["content"], r["messages"][1]["content"]
        rng = b.rng("socratic.choice", q)
        vo, vh = rng.randrange(len(SOC_OPEN)), rng.randrange(len(SOC_HINT_CHOICE))
        msgs = [
            {"role": "user", "content": SOC_OPEN[vo].format(q=q)},
            {"role": "assistant", "content": SOC_HINT_CHOICE[vh]},
        ]
        meta = {"withheld_answer": answer, "reference_answer": answer, "tutor_turns": 1}
        out.append(b.record("socratic", "socratic.choice", vo * 10 + vh, msgs, meta, r["provenance"].get("sentence")))
    return out


def _socratic_calculations(b: SectionBuilder) -> list[dict]:
    """A worked problem asked Socratically: the tutor asks for the equation and the plan, never the number."""
    out = []
    for w in worked.worked(b):
        ask = re.search(r"\b(If .+)$", w["messages"][0]["content"])
        answer = re.search(r"Answer: (.+)$", w["messages"][1]["content"])
        meta = w["meta"]
        if not ask or not answer:
            continue
        rng = b.rng("socratic.calculation", meta["formula"], ask.group(1))
        vo, vh, va, vc = (rng.randrange(len(t)) for t in (SOC_OPEN, SOC_HINT_CALC, SOC_ATTEMPT_CALC, SOC_CLOSE))
        msgs = [
            {"role": "user", "content": SOC_OPEN[vo].format(q=ask.group(1))},
            {"role": "assistant", "content": SOC_HINT_CALC[vh].format(target=meta["target"])},
            {"role": "user", "content": SOC_ATTEMPT_CALC[va].format(formula=meta["formula"])},
            {"role": "assistant", "content": SOC_CLOSE[vc].format(answer=f"With {meta['formula']}: {answer.group(1)}")},
        ]
        out.append(
            b.record(
                "socratic",
                "socratic.calculation",
                vo * 100 + vh * 10 + va,
                msgs,
                {
                    "withheld_answer": meta["formula"],
                    "reference_answer": answer.group(1),
                    "plain_reply": meta.get("solution") or answer.group(1),
                    "tutor_turns": 2,
                },
            )
        )
        out += _calculation_openings(b, meta, answer.group(1))
    return out


def _socratic_problems(b: SectionBuilder) -> list[dict]:
    """The book's worked examples asked Socratically (the opening exchange): the tutor asks for the plan; the working
    stays withheld. The plain counterpart is worked.book_problems."""
    out = []
    for problem, working in worked.book_examples(b.s["text"]):
        rng = b.rng("socratic.problem", problem)
        for vo in rng.sample(range(len(SOC_OPEN)), SOC_CALC_ASKS):
            vh = rng.randrange(len(SOC_HINT_PROBLEM))
            msgs = [
                {"role": "user", "content": SOC_OPEN[vo].format(q=problem)},
                {"role": "assistant", "content": SOC_HINT_PROBLEM[vh]},
            ]
            meta = {"withheld_answer": working, "reference_answer": working, "tutor_turns": 1}
            out.append(b.record("socratic", "socratic.problem", vo * 10 + vh, msgs, meta, problem))
    return out


def _calculation_openings(b: SectionBuilder, meta: dict, answer: str) -> list[dict]:
    """The opening exchange of a worked problem asked in a student's words, and of "what's the formula for it?": the
    tutor asks for the plan, never the number or the formula."""
    names = meta.get("names") or {}
    out = []
    asks = worked.calculation_asks(b, meta)  # the plain mode asks the same words (worked.asked_problems)
    rng, target = b.rng("socratic.calculation.asks", meta["formula"], "wrappers"), asks[0][2]
    for va, ask, _ in asks:
        vo, vh = rng.randrange(len(SOC_OPEN)), rng.randrange(len(SOC_HINT_CALC))
        msgs = [
            {"role": "user", "content": SOC_OPEN[vo].format(q=ask)},
            {"role": "assistant", "content": SOC_HINT_CALC[vh].format(target=target)},
        ]
        # the formula is what the tutor withholds (and what the grounding filter finds in the section); the number too
        meta_out = {
            "withheld_answer": meta["formula"],
            "reference_answer": answer,
            "plain_reply": meta.get("solution") or answer,
            "tutor_turns": 1,
        }
        out.append(b.record("socratic", "socratic.calculation.opening", vo * 100 + vh * 10 + va, msgs, meta_out))
    if not names.get(meta["target"]):  # "what's the formula for a?" is not how anyone asks
        return out
    vo, vq, vh = (rng.randrange(len(t)) for t in (SOC_OPEN, SOC_FORMULA_ASK, SOC_HINT_FORMULA))
    msgs = [
        {"role": "user", "content": SOC_OPEN[vo].format(q=SOC_FORMULA_ASK[vq].format(target=target))},
        {"role": "assistant", "content": SOC_HINT_FORMULA[vh].format(target=target)},
    ]
    letters = [meta["target"], *sorted(set(names) - {meta["target"]})]
    meta_out = {
        "withheld_answer": meta["formula"],
        "reference_answer": meta["formula"],
        "tutor_turns": 1,
    }
    if meta["formula"].split("=")[0].strip() == meta["target"]:  # a problem solved for another letter: no plain twin
        meta_out["plain_reply"] = worked.formula_answer(meta["formula"], letters, names)  # as formula_questions says it
    else:
        meta_out["no_twin"] = True
    out.append(b.record("socratic", "socratic.formula", vo * 100 + vh * 10 + vq, msgs, meta_out))
    return out


def tool_call(b: SectionBuilder) -> list[dict]:
    """Three searches, two quizzes, then a 3D-model request for each catalogue model of the section's subject (the models
    its text names first); synth.caps.tool_call samples among them."""
    system = {
        "role": "system",
        "content": "You are a patient school tutor. You can call these tools:\n" + signatures(b.catalogue),
    }
    rng = b.rng("tool_call")
    subject = str(b.s.get("subject") or "unknown")
    subject = subject if subject != "unknown" else "science"
    return [*_search(b, system, rng, subject), *_quiz(b, system, rng), *_models(b, system, rng)]


def _search(b: SectionBuilder, system: dict, rng: random.Random, subject: str) -> list[dict]:
    out = []
    # the section's topic as students name it ("properties of waves") among the terms: with single key words only,
    # the tutor wrote multi-word queries in snake_case ("wave_speed_ equation"), copying the model ids
    topic = _topic(b.heading)
    for term in list(dict.fromkeys([d.term for d in b.defs][:1] + [topic] * bool(topic) + b.terms))[:3]:
        snippet = next((x for x in b.sents if re.search(rf"\b{re.escape(term)}\b", x, re.I)), None)
        snippet = snippet or (b.sents[0] if term == topic and b.sents else None)
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
        # the result (with its snippet) is on screen: the reply cites where, and sends the student to read it
        final = (
            f'Your textbook covers {term} in "{b.heading}" on {_pages(b.s)}. '
            "Read that part, then tell me what you find."
        )
        ask = SEARCH_Q[v].format(term=term, subject=subject)
        answered = rng.random() < TOOL_ANSWERED_SHARE
        out.append(
            _tool(
                b, system, ask, "search_textbook", {"query": term}, result, final, "tool.search_textbook", v, answered
            )
        )
    return out


def _topic(heading: str) -> str:
    """A heading as a search query: "Properties of Waves" -> "properties of waves" (acronyms such as DNA or pH kept);
    "" for one word or a question."""
    words = heading.split()
    if len(words) < 2 or heading.endswith("?"):
        return ""
    return " ".join(w if any(c.isupper() for c in w[1:]) else w.lower() for w in words)


def _quiz(b: SectionBuilder, system: dict, rng: random.Random) -> list[dict]:
    """A quiz of 1-10 questions (digits or words, as students write them) on the heading or a key term; the tool
    returns as many as the section has material for (the reply says so when that is fewer), and the tutor asks the
    first one."""
    # short questions first: the tool result is context the model reads at every training step
    pool = [
        (r["messages"][0]["content"], r["messages"][1]["content"])
        for r in questions.definition(b) + b.why() + b.cloze()
    ]
    pool = pool[:3]  # a few questions are enough to learn from: the tool result is the longest part of the example
    topics = [t for t in [b.heading, *b.terms[:2]] if t and len(t) >= 2]
    if not pool or not topics:
        return []
    out = []
    # two quizzes on different topics: with one per section the tutor called search_textbook for "give me three
    # questions on ..." (quiz requests were a third as common as searches)
    for topic in rng.sample(topics, min(QUIZZES, len(topics))):
        n = rng.randint(1, 10)
        v = rng.randrange(len(QUIZ_Q))
        n_text = NUMBER_WORDS[n - 1] if rng.random() < 0.5 else str(n)
        ask = upper_first(QUIZ_Q[v].format(n=n_text, topic=topic, questions="question" if n == 1 else "questions"))
        got = pool[:n]
        result = {"topic": topic, "questions": [{"question": q, "answer": a} for q, a in got]}
        short = f" Your textbook gave me material for {len(got)} of the {n} you asked for." if len(got) < n else ""
        # one question at a time, as a tutor asks them (and a shorter reply to train on)
        final = f"Your quiz on {topic} is ready.{short} We'll go one question at a time. Question 1: {got[0][0]}"
        args = {"topic": topic, "n_questions": n}
        answered = rng.random() < TOOL_ANSWERED_SHARE
        out.append(_tool(b, system, ask, "make_quiz", args, result, final, "tool.make_quiz", v, answered))
    return out


def _models(b: SectionBuilder, system: dict, rng: random.Random) -> list[dict]:
    """A request for every catalogue model of the section's subject, built from one of the model's keywords: a
    sample book names few of the models, and a student may ask for any of them."""
    low = b.flat.lower()
    ranked = []  # (models this section's text talks about first, by keyword hits)
    for mid, m in sorted(b.catalogue.items()):
        if b.s.get("subject") not in (m.get("subject"), None, "unknown") or not m.get("keywords"):
            continue
        hits = [k for k in m["keywords"] if re.search(rf"\b{re.escape(k.lower())}\b", low)]
        ranked.append((-len(hits), mid, m, hits))
    out = []
    for _, mid, m, hits in sorted(ranked):
        # MODEL_REQUESTS phrasings per model, each with its own template and (where there are enough) keyword; only
        # a first one may go on to the tool result and the tutor's reply
        kws = hits if len(hits) >= MODEL_REQUESTS else list(m["keywords"])
        for i, (v, kw) in enumerate(
            zip(
                rng.sample(range(len(MODEL_Q)), MODEL_REQUESTS),
                rng.sample(kws, min(MODEL_REQUESTS, len(kws))) * MODEL_REQUESTS,
                strict=False,
            )
        ):
            final = f"I've opened the 3D model of {m['title']}. Turn it slowly and find the {kw}. What do you notice?"
            result = {"status": "displayed", "model_id": mid, "title": m["title"]}
            ask = MODEL_Q[v].format(title=m["title"], kw=kw)
            args = {"model_id": mid}
            answered = i == 0 and rng.random() < TOOL_ANSWERED_SHARE
            out.append(_tool(b, system, ask, "show_3d_model", args, result, final, "tool.show_3d_model", v, answered))
    return out


def _tool(
    b: SectionBuilder,
    system: dict,
    ask: str,
    name: str,
    args: dict,
    result: dict,
    final: str,
    tid: str,
    v: int,
    answered: bool = True,
) -> dict:
    """A tool conversation: request, call, then (when `answered`) the tool's result and the tutor's reply."""
    msgs = [
        system,
        {"role": "user", "content": ask},
        {"role": "assistant", "content": "", "tool_calls": [{"name": name, "arguments": args}]},
    ]
    if answered:
        msgs += [
            {"role": "tool", "content": json.dumps(result, ensure_ascii=False, sort_keys=True)},
            {"role": "assistant", "content": final},
        ]
    return b.record("tool_call", tid + ("" if answered else ".call"), v, msgs, {"tool": name, "answered": answered})


def _pages(s: dict) -> str:
    a, b = s.get("page_start"), s.get("page_end")
    return f"page {a}" if a == b else f"pages {a}-{b}"


def plain_twins(b: SectionBuilder, socratic_examples: list[dict]) -> list[dict]:
    """The plain-mode twin of each Socratic example: the student's first turn in the same words ("Just tell me the
    answer: ..." included), answered directly (kind 'qa', template twin.<Socratic template>).

    Why: when the demanding wrappers and the Socratic stems came mostly under the Socratic prompt, the tutor read the
    mode from the student's wording and barely from the system prompt (issue 13: the system prompt moved a reply's
    log-likelihood by ~1 nat, and a quarter of the plain benchmark answers came back as guiding questions). With a
    twin for every opening, the same words come under both prompts, and only the prompt tells the modes apart."""
    out = []
    for ex in socratic_examples:
        meta, student = ex["meta"], ex["messages"][0]["content"]
        reply = str(meta.get("plain_reply") or meta.get("reference_answer") or "").strip()  # "v = d/t": case is meaning
        if not reply or meta.get("no_twin"):
            continue
        template = ex["provenance"]["template_id"].removeprefix("det.").removesuffix(".opening")
        twin_meta: dict = {"twin_of": ex["example_id"]}
        kind = "worked" if template in TWIN_WORKED else "qa"
        if kind == "worked":  # grounded like the plain worked kinds: the formula / the book's working is the section's
            twin_meta["working" if template == "socratic.problem" else "formula"] = meta.get("withheld_answer")
        msgs = [{"role": "user", "content": student}, {"role": "assistant", "content": reply}]
        prov = ex["provenance"]
        out.append(b.record(kind, f"twin.{template}", prov["variant"], msgs, twin_meta, prov.get("sentence")))
    return out


# Socratic templates whose plain twin is a calculation / formula answer (kind 'worked'), the rest are kind 'qa'
TWIN_WORKED = ("socratic.calculation", "socratic.formula", "socratic.problem")
