"""Is an answer faithful to the passages it was written from? Two measures.

``lexical_support``: the share of the answer's content words and numbers that occur in the
retrieved text. Cheap and deterministic; it flags invented numbers and names, but cannot tell
a paraphrase from a claim the passages never make.

``judge_faithfulness``: a model reads the passages and the answer and says, under a grammar
(structured output), whether every claim is supported, quoting the first one that is not.
Kept apart from the evaluation loop so its agreement with hand labels can be measured.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

__all__ = [
    "Faithfulness",
    "Judgement",
    "content_terms",
    "judge_faithfulness",
    "lexical_support",
]

# Words that carry no claim of their own; what is left must come from the passages.
_STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me more
    most my no nor not now of off on once only or other our ours out over own same she should so
    some such than that the their theirs them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would
    you your yours yes per says say said according documents document passage passages answer
    one""".split()  # noqa: SIM905
)
_CITATION = re.compile(r"\[[^\[\]\n]*\]")
_TERM = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+", re.UNICODE)


def content_terms(text: str) -> list[str]:
    """The answer's words that make claims: numbers (``1,200`` as ``1200``) and words of three
    letters or more that are not stopwords, lower-cased; citations like ``[a.md#B]`` dropped."""
    terms = []
    for token in _TERM.findall(_CITATION.sub(" ", text).casefold()):
        if token[0].isdigit():
            terms.append(token.replace(",", ""))
        elif len(token) >= 3 and token not in _STOPWORDS:
            terms.append(token)
    return terms


def lexical_support(answer: str, passages: Sequence[str]) -> float | None:
    """The share of ``answer``'s content terms found in ``passages`` (a word also counts when
    the passages hold it with a different ending: "offices" for "office"); ``None`` when the
    answer has no content terms or there are no passages to check against."""
    terms = content_terms(answer)
    if not terms or not passages:
        return None
    known = set(content_terms(" ".join(passages)))
    stems = {term[:5] for term in known if not term[0].isdigit() and len(term) >= 5}

    def found(term: str) -> bool:
        return term in known or (len(term) >= 5 and term[:5] in stems)

    return round(sum(found(term) for term in terms) / len(terms), 4)


class Faithfulness(BaseModel):
    """Whether every claim of the answer is stated in the passages."""

    supported: bool = Field(description="true when the passages state every claim of the answer")
    unsupported_claim: str = Field(
        default="",
        max_length=200,
        description="the first claim the passages do not state, quoted; empty when supported",
    )


@dataclass(frozen=True)
class Judgement:
    supported: bool
    unsupported_claim: str


_JUDGE_PROMPT = (
    "You check answers against source passages. An answer is supported when every fact, name "
    "and number in it is stated in the passages; wording may differ. An answer that says the "
    "documents do not tell is supported when the passages indeed do not. Reply with supported "
    "true or false, and when false quote the first claim the passages do not state."
)


def judge_faithfulness(
    model: BaseChatModel, question: str, answer: str, passages: Sequence[str]
) -> Judgement:
    """The model's judgement, under the :class:`Faithfulness` schema, of whether ``answer``
    to ``question`` is supported by ``passages``."""
    numbered = "\n\n".join(f"Passage {n}: {' '.join(p.split())}" for n, p in enumerate(passages, 1))
    request = (
        f"Passages:\n{numbered or '(none)'}\n\nQuestion: {question}\n\nAnswer: {answer}\n\n"
        "Is every claim of the answer stated in the passages?"
    )
    judged = model.with_structured_output(Faithfulness).invoke(
        [SystemMessage(_JUDGE_PROMPT), HumanMessage(request)]
    )
    if not isinstance(judged, Faithfulness):
        judged = Faithfulness.model_validate(judged)
    claim = "" if judged.supported else judged.unsupported_claim.strip()
    return Judgement(judged.supported, claim)
