"""Multi-query retrieval: the model rephrases a question as a few search queries.

A question in the user's words often misses the words a document uses ("time off" vs "annual
leave"); searching a few rephrasings and fusing the rankings finds passages a single query
misses. The rephrasings are a structured output, so a local model writes them under a grammar.
"""

from __future__ import annotations

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, ValidationError

__all__ = ["SearchQueries", "rewrite_query"]

_INSTRUCTIONS = (
    "You write search queries for finding the answer to a question in the user's documents "
    "(handbooks, notes, manuals). Write {n} different short queries: the question's key terms, "
    "synonyms a document might use instead, and the words a heading of the answer's section "
    "would have. Keep names, numbers and codes exactly as given."
)


class SearchQueries(BaseModel):
    """Short search queries that rephrase a question for a document search."""

    queries: list[str] = Field(
        min_length=1, max_length=5, description="2-3 short, different search queries"
    )


def rewrite_query(model: BaseChatModel, question: str, n: int = 3) -> list[str]:
    """Up to ``n`` rephrasings of ``question`` written by ``model`` (without the question
    itself or repeats). A model that writes no usable answer gives none: the question alone
    is still searched."""
    structured = model.with_structured_output(SearchQueries)
    messages = [
        SystemMessage(_INSTRUCTIONS.format(n=n)),
        HumanMessage(f"Question: {question}"),
    ]
    try:
        answer = structured.invoke(messages)
    except (OutputParserException, ValidationError):
        return []
    if not isinstance(answer, SearchQueries):
        return []
    seen = {question.strip().casefold()}
    rewrites = []
    for query in answer.queries:
        cleaned = " ".join(query.split())
        if cleaned and cleaned.casefold() not in seen:
            seen.add(cleaned.casefold())
            rewrites.append(cleaned)
    return rewrites[:n]
