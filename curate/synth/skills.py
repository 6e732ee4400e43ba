"""The synthesis skills: for each, a prompt template (persona -> problem) and a solution
template (problem -> answer in a format a verifier reads). Written for skillmix, after the
pattern of Tülu 3's persona-driven synthesis: persona + skill + difficulty + format rule.
"""

from __future__ import annotations

from dataclasses import dataclass

MARKER = "PROBLEM:"

_FORMAT_RULE = (
    "Write only the problem itself: no solution, no hints, no answer. "
    f"Start your reply with '{MARKER}' followed by the problem."
)


@dataclass(frozen=True)
class Skill:
    name: str
    template_id: str  # recorded in every row's metadata; bump it when a template changes
    prompt_template: str  # has a {persona} field
    solution_template: str | None  # the system turn for stage 2; None: the prompt says it all
    verifier: str | None  # the verifier whose ground truth this skill yields

    def prompt_for(self, persona: str) -> str:
        return self.prompt_template.format(persona=persona)


SKILLS: dict[str, Skill] = {
    "math": Skill(
        name="math",
        template_id="math-v1",
        prompt_template=(
            "Here is a persona:\n{persona}\n\n"
            "Create a hard, multi-step mathematics problem that this person could meet in "
            "their work, studies or hobbies. It should need at least three steps of "
            "reasoning and may combine algebra, number theory, combinatorics, geometry or "
            "probability. It must have one exact final answer (a number, fraction or short "
            "expression).\n\n" + _FORMAT_RULE
        ),
        solution_template=(
            "Solve the problem step by step, showing your reasoning. Finish with one last "
            "line of the form 'Final answer: <answer>', where <answer> is only the final "
            "result in simplest exact form (LaTeX is allowed)."
        ),
        verifier="math",
    ),
    "gsm": Skill(
        name="gsm",
        template_id="gsm-v1",
        prompt_template=(
            "Here is a persona:\n{persona}\n\n"
            "Create a grade-school math word problem set in this person's everyday life. "
            "It should take between two and six steps of basic arithmetic (addition, "
            "subtraction, multiplication, division, simple fractions or percentages) and "
            "have a single whole-number answer.\n\n" + _FORMAT_RULE
        ),
        solution_template=(
            "Solve the word problem step by step, one short calculation per line. End with "
            "a final line '#### <number>' that gives only the numeric answer, without units."
        ),
        verifier="gsm8k",
    ),
    "algebra": Skill(
        name="algebra",
        template_id="algebra-v1",
        prompt_template=(
            "Here is a persona:\n{persona}\n\n"
            "Create an algebra problem inspired by this person's interests: solving an "
            "equation or a system of equations, an inequality, a polynomial, or a function "
            "question, at high-school to early-university level. It must have one exact "
            "answer.\n\n" + _FORMAT_RULE
        ),
        solution_template=(
            "Solve the problem step by step. Finish with one last line of the form "
            "'Final answer: <answer>', giving only the exact answer (LaTeX is allowed)."
        ),
        verifier="math",
    ),
    "code": Skill(
        name="code",
        template_id="code-v1",
        prompt_template=(
            "Here is a persona:\n{persona}\n\n"
            "Create a Python programming task that this person might need solved. Ask for "
            "one self-contained function, give its exact name and signature, describe its "
            "inputs, output and edge cases, and use only the standard library.\n\n" + _FORMAT_RULE
        ),
        solution_template=(
            "Write the requested function in Python. Give the solution in one ```python "
            "code block. Then give a second ```python code block that holds only 3 to 5 "
            "assert statements that test the function on typical and edge cases."
        ),
        verifier="code",
    ),
    "precise_if": Skill(
        name="precise_if",
        template_id="precise_if-v1",
        prompt_template=(
            "Here is a persona:\n{persona}\n\n"
            "Write a realistic request that this person might send to an AI assistant, for "
            "example to draft a short text, explain an idea or plan something. Do not add "
            "any requirement about format, length, case or wording: those are added "
            "separately.\n\n"
            f"Write only the request. Start your reply with '{MARKER}' followed by it."
        ),
        solution_template=None,
        verifier="ifeval",
    ),
}


def get_skill(name: str) -> Skill:
    try:
        return SKILLS[name]
    except KeyError:
        raise ValueError(f"unknown skill {name!r}; known: {sorted(SKILLS)}") from None


def extract_problem(text: str) -> str | None:
    """The problem after the marker, or None when the model ignored the format rule."""
    at = text.find(MARKER)
    if at < 0:
        return None
    problem = text[at + len(MARKER) :].strip()
    return problem or None
