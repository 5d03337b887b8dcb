"""MT-Bench's pairwise judge template "pair-v2", and how its two verdicts make one winner.

A pair is asked twice, the small tier's answer first as Assistant A, then the premium tier's: a judge
that prefers whichever answer comes first (position bias) then disagrees with itself, and a
disagreement counts as a tie.
"""

from __future__ import annotations

import re

TEMPLATE_NAME = "pair-v2"
SYSTEM_PROMPT = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to "
    "the user question displayed below. You should choose the assistant that follows the user's instructions and "
    "answers the user's question better. Your evaluation should consider factors such as the helpfulness, "
    "relevance, accuracy, depth, creativity, and level of detail of their responses. Begin your evaluation by "
    "comparing the two responses and provide a short explanation. Avoid any position biases and ensure that the "
    "order in which the responses were presented does not influence your decision. Do not allow the length of the "
    "responses to influence your evaluation. Do not favor certain names of the assistants. Be as objective as "
    "possible. After providing your explanation, output your final verdict by strictly following this format: "
    '"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.'
)
USER_TEMPLATE = (
    "[User Question]\n{question}\n\n"
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
)
VERDICTS = ("A", "B", "C")
_VERDICT = re.compile(r"\[\[([ABC])\]\]")


def judge_messages(question: str, answer_a: str, answer_b: str) -> list[dict[str, str]]:
    """The chat messages that ask the judge which of two answers to ``question`` is better."""
    user = USER_TEMPLATE.format(question=question, answer_a=answer_a, answer_b=answer_b)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_verdict(text: str) -> str | None:
    """ "A", "B" or "C" (tie) from a judge's reply, as MT-Bench reads it; None when it has none or several."""
    found = set(_VERDICT.findall(text))
    return found.pop() if len(found) == 1 else None


def winner(small_first: str, premium_first: str) -> str:
    """ "small", "premium" or "tie" from the verdicts with the small answer as A, then the premium answer as A."""
    first = {"A": "small", "B": "premium"}.get(small_first, "tie")
    second = {"A": "premium", "B": "small"}.get(premium_first, "tie")
    return first if first == second else "tie"
