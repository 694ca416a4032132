"""Label Studio labeling configs for TutorForge's four annotation project kinds (one registry).

The Label Studio bootstrap (CLI / flows) creates projects from `PROJECT_KINDS`; the annotations parser
(`tutorforge/labelstudio/annotations.py`) reads the exports back with the same control names, so the XML and the parser
can never drift apart. Every task carries `data.external_id` (a stable id that survives re-imports) and
`data.kind` (the project kind); the parser can also infer the kind from the control names in a result.

Kinds:
  * ``section_label`` - subject + difficulty of a textbook section (Choices) -> labels.jsonl
  * ``qa``            - write (or review a pre-filled) question/answer pair for a section (TextArea);
                        optional distractors turn it into a multiple-choice item as well
  * ``socratic``      - a Socratic hint dialogue: student opening + several tutor hint turns that guide
                        without giving the answer; the withheld answer is recorded for evaluation
  * ``review``        - review a model answer: accept / edit / reject (+ edited text)
"""

from __future__ import annotations

from dataclasses import dataclass

from tutorforge.core.ids import stable_id

SECTION_FIELDS = ("section_id", "doc_id", "file", "heading", "subject", "text")
"""Task `data` keys every section task carries (besides `external_id` and `kind`)."""
REVIEW_FIELDS = SECTION_FIELDS + ("question", "model_answer", "example_id")
"""Task `data` keys of a model-answer review task."""
DIFFICULTIES = ("easy", "medium", "hard")
VERDICTS = ("accept", "edit", "reject")
SOCRATIC_TURNS = 4
"""Maximum number of tutor hint turns in a Socratic task (hint_1..hint_N, student_1..student_{N-1})."""

_SECTION_VIEW = """  <Header value="$heading"/>
  <Header value="$file" size="6"/>
  <Text name="text" value="$text"/>"""


def _subject_choices(subjects: tuple[str, ...]) -> str:
    return "\n".join(f'    <Choice value="{s}"/>' for s in subjects)


def section_label_config(subjects: tuple[str, ...]) -> str:
    """(a) Section subject + difficulty."""
    diff = "\n".join(f'    <Choice value="{d}"/>' for d in DIFFICULTIES)
    return f"""<View>
{_SECTION_VIEW}
  <Header value="Subject"/>
  <Choices name="subject" toName="text" choice="single" required="true">
{_subject_choices(subjects)}
  </Choices>
  <Header value="Difficulty for the target grade"/>
  <Choices name="difficulty" toName="text" choice="single" required="true">
{diff}
  </Choices>
</View>"""


QA_CONFIG = f"""<View>
{_SECTION_VIEW}
  <Header value="Question a student could ask about this section"/>
  <TextArea name="question" toName="text" rows="2" maxSubmissions="1" editable="true" required="true"/>
  <Header value="Answer (answerable from the section text alone)"/>
  <TextArea name="answer" toName="text" rows="5" maxSubmissions="1" editable="true" required="true"/>
  <Header value="Optional: three wrong but plausible answers, one per line (makes a multiple-choice item)"/>
  <TextArea name="distractors" toName="text" rows="3" maxSubmissions="3" editable="true"/>
</View>"""

_REQUIRED = ' required="true"'
_SOCRATIC_TURNS_XML = "\n".join(
    f'  <Header value="Tutor hint {i}"/>\n'
    f'  <TextArea name="hint_{i}" toName="text" rows="2" maxSubmissions="1" editable="true"'
    f"{_REQUIRED if i == 1 else ''}/>"
    + (
        f'\n  <Header value="Student reply {i}"/>\n'
        f'  <TextArea name="student_{i}" toName="text" rows="2" maxSubmissions="1" editable="true"/>'
        if i < SOCRATIC_TURNS
        else ""
    )
    for i in range(1, SOCRATIC_TURNS + 1)
)

SOCRATIC_CONFIG = f"""<View>
{_SECTION_VIEW}
  <Header value="Student's opening question or problem"/>
  <TextArea name="student_opening" toName="text" rows="2" maxSubmissions="1" editable="true" required="true"/>
  <Header value="The answer the tutor must NOT give away (kept for evaluation)"/>
  <TextArea name="withheld_answer" toName="text" rows="2" maxSubmissions="1" editable="true" required="true"/>
{_SOCRATIC_TURNS_XML}
</View>"""

REVIEW_CONFIG = f"""<View>
{_SECTION_VIEW}
  <Header value="Question"/>
  <Text name="question" value="$question"/>
  <Header value="Model answer"/>
  <Text name="model_answer" value="$model_answer"/>
  <Choices name="verdict" toName="model_answer" choice="single" required="true">
    <Choice value="accept"/>
    <Choice value="edit"/>
    <Choice value="reject"/>
  </Choices>
  <Header value="Edited answer (only when the verdict is 'edit')"/>
  <TextArea name="edited_answer" toName="model_answer" rows="5" maxSubmissions="1" editable="true"/>
</View>"""


@dataclass(frozen=True)
class ProjectKind:
    """One Label Studio project kind: what the bootstrap needs and what the parser expects."""

    name: str
    title: str
    label_config: str
    instructions: str
    data_fields: tuple[str, ...]
    controls: tuple[str, ...]
    """from_name values this kind's results use (disjoint across kinds, so the kind can be inferred)."""


def project_kinds(
    subjects: tuple[str, ...] = ("biology", "chemistry", "physics", "mathematics"),
) -> dict[str, ProjectKind]:
    """The registry, with the subject choices taken from params (`subjects`)."""
    socratic_controls = ("student_opening", "withheld_answer") + tuple(
        n
        for i in range(1, SOCRATIC_TURNS + 1)
        for n in (f"hint_{i}", f"student_{i}")
        if n != f"student_{SOCRATIC_TURNS}"
    )
    kinds = [
        ProjectKind(
            "section_label",
            "TutorForge - section subject and difficulty",
            section_label_config(tuple(subjects)),
            "Read the section. Pick the school subject it belongs to and how hard it is for the target grade "
            "(easy: recall of a definition; medium: needs one reasoning step; hard: several steps or a calculation).",
            SECTION_FIELDS,
            ("subject", "difficulty"),
        ),
        ProjectKind(
            "qa",
            "TutorForge - question/answer pairs",
            QA_CONFIG,
            "Write one question a student might ask about this section and a correct, self-contained answer that "
            "can be checked against the section text alone. If the fields are pre-filled by a model, correct them. "
            "Optionally add three plausible wrong answers (one per line) to make a multiple-choice item.",
            SECTION_FIELDS,
            ("question", "answer", "distractors"),
        ),
        ProjectKind(
            "socratic",
            "TutorForge - Socratic hint dialogues",
            SOCRATIC_CONFIG,
            "Write a student's question about the section and the answer the tutor must not reveal. Then write up "
            "to four tutor hints, each a question or nudge that moves the student one step closer, with the "
            "student's reply in between. Never state the answer; the last hint should let the student finish alone.",
            SECTION_FIELDS,
            socratic_controls,
        ),
        ProjectKind(
            "review",
            "TutorForge - review model answers",
            REVIEW_CONFIG,
            "Check the model's answer against the section text. Accept it if it is correct and clear, choose 'edit' "
            "and write the corrected answer if it is fixable, reject it if it is wrong or off-topic.",
            REVIEW_FIELDS,
            ("verdict", "edited_answer"),
        ),
    ]
    return {k.name: k for k in kinds}


KIND_BY_CONTROL: dict[str, str] = {c: k.name for k in project_kinds().values() for c in k.controls}


def _control_types() -> dict[str, str]:
    import xml.etree.ElementTree as ET

    return {
        el.attrib["name"]: el.tag.lower()
        for k in project_kinds().values()
        for el in ET.fromstring(k.label_config).iter()
        if el.tag in ("Choices", "TextArea")
    }


CONTROL_TYPES: dict[str, str] = _control_types()
"""from_name -> the result `type` its control writes ('choices' | 'textarea'), read from the label configs."""


def infer_kind(from_names: set[str]) -> str | None:
    """The project kind whose controls produced these results (None if unknown or mixed)."""
    kinds = {KIND_BY_CONTROL[n] for n in from_names if n in KIND_BY_CONTROL}
    return kinds.pop() if len(kinds) == 1 else None


def external_id(kind: str, section_id: str, *extra: object) -> str:
    """Stable task id: kind + section (+ e.g. the reviewed example id or a variant number)."""
    return f"{kind}:{stable_id(kind, section_id, *extra)}"


def section_task_data(kind: str, section: dict, *extra: object, **more: object) -> dict:
    """Task `data` for a section record of artifacts/segment/sections.jsonl."""
    data = {
        "external_id": external_id(kind, section["section_id"], *extra),
        "kind": kind,
        "section_id": section["section_id"],
        "doc_id": section["doc_id"],
        "file": section["file"],
        "heading": heading_of(section),
        "subject": section.get("subject"),
        "text": section["text"],
    }
    data.update(more)
    return data


def heading_of(section: dict) -> str:
    """The display heading of a section: its heading path joined by ' > '."""
    return " > ".join(section.get("heading_path") or []) or str(section.get("chapter") or "")
