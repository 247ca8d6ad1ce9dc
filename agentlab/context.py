"""Keep every model call within a token budget while llama.cpp's prefix cache keeps hitting.

A prompt is a stable head (system prompt, tool schemas, pinned summary) and the history. The
``cache-aware`` policy leaves both untouched, so each call only appends to the last one and
llama.cpp reuses the whole cached prefix, until the prompt passes the high watermark. Then it
evicts whole turns from the front of the history in one go, down to the low watermark, and folds
them into a bounded running summary that the model writes. The cut point and the summary live in
graph state (:class:`ContextState`), so the next calls see the same head and the same history
again: one re-prefill per prune, not one per call.

``sliding`` (langchain-core ``trim_messages`` to the budget on every call) and ``none`` (the
whole history, until the context overflows) stay available for comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from agentlab._history import task_index
from agentlab.config import ContextPolicy, Settings, default_budget
from agentlab.errors import UsageError
from agentlab.llm import Engine, side_model
from agentlab.tracing import SUMMARY_TAG

__all__ = ["ContextState", "ContextWindow", "Prepared", "turns"]

_M = TypeVar("_M", bound=BaseMessage)
_Counter = Callable[[Sequence[BaseMessage]], int]
_Summarizer = Callable[[str, Sequence[BaseMessage]], str]

_SUMMARY_HEADING = "Summary of the earlier conversation (older turns were removed):"
_MESSAGE_MARGIN = 64  # room kept for turn markers and the cut note around one long message
_NOTES_REQUEST = (
    "Pause the task for a moment. Write your notes of this conversation so far, to keep when "
    "older turns are removed: the user's tasks, the facts and numbers found with tools, what is "
    "done and what is left. One short paragraph; keep names and numbers exact; call no tool."
)


class ContextState(TypedDict, total=False):
    """What a graph keeps about its context: where the visible history starts, and the summary
    of everything before it."""

    start: int  # index into the messages: earlier ones are folded into the summary
    summary: str
    prunes: int


@dataclass(frozen=True)
class Prepared:
    """The messages to send to the model, and the context state to store when it changed."""

    messages: list[BaseMessage]
    tokens: int | None  # exact prompt tokens (not counted under the policy "none")
    update: ContextState | None = None


def turns(messages: Sequence[BaseMessage]) -> list[list[BaseMessage]]:
    """Split a history into whole turns: a user message, a final answer, or a tool call together
    with its results. Evicting whole turns never leaves an orphan result or an unanswered call."""
    grouped: list[list[BaseMessage]] = []
    for message in messages:
        if isinstance(message, ToolMessage) and grouped and _calls_tools(grouped[-1][0]):
            grouped[-1].append(message)
        else:
            grouped.append([message])
    return grouped


def _calls_tools(message: BaseMessage) -> bool:
    return isinstance(message, AIMessage) and bool(message.tool_calls)


@dataclass
class ContextWindow:
    """Builds the model's view of a conversation under a token budget (see the module doc).

    ``count`` must count the tokens of the prompt as the model renders it; by default the model's
    own ``get_num_tokens_from_messages`` (exact for :class:`~agentlab.llm.LlamaChatModel`).
    ``summarize(previous_summary, evicted_messages)`` writes the new summary; by default the model.
    """

    model: BaseChatModel
    tools: Sequence[BaseTool] = ()
    policy: ContextPolicy = "cache-aware"
    budget: int = 0  # 0: derived from the model's context window (4096 if it has none)
    high: float = 0.9
    low: float = 0.5
    summary_tokens: int = 160
    tool_output_tokens: int = 512
    count: _Counter | None = None
    summarize: _Summarizer | None = None
    _counter: _Counter = field(init=False, repr=False)
    _schemas: list[dict[str, Any]] = field(init=False, repr=False)  # converted once, not per count

    def __post_init__(self) -> None:
        if not self.budget:
            engine = getattr(self.model, "engine", None)
            n_ctx = engine.n_ctx if isinstance(engine, Engine) else None
            answer = int(getattr(self.model, "max_tokens", None) or 256)
            self.budget = default_budget(n_ctx, answer) if isinstance(n_ctx, int) else 4096
        if not 0 < self.low < self.high <= 1:
            raise UsageError(
                f"context watermarks must satisfy 0 < low < high <= 1, got low={self.low} "
                f"high={self.high}"
            )
        self._schemas = [convert_to_openai_tool(tool) for tool in self.tools]
        self._counter = self.count or self._count_with_model

    @classmethod
    def from_settings(
        cls, model: BaseChatModel, tools: Sequence[BaseTool], settings: Settings, **kwargs: Any
    ) -> ContextWindow:
        return cls(
            model=model,
            tools=tools,
            policy=settings.context_policy,
            budget=settings.budget,
            high=settings.context_high,
            low=settings.context_low,
            summary_tokens=settings.summary_tokens,
            tool_output_tokens=settings.tool_output_tokens,
            **kwargs,
        )

    # -- the view ------------------------------------------------------------------------------

    def prepare(
        self,
        messages: Sequence[BaseMessage],
        state: ContextState | None = None,
        head: Sequence[SystemMessage] = (),
    ) -> Prepared:
        """The messages for the next model call: ``head`` first, then the visible history."""
        state = state or {}
        if self.policy == "none":
            return Prepared([*head, *messages], None)
        if self.policy == "sliding":
            view = self._sliding(head, messages)
            return Prepared(view, self._counter(view))
        start, summary = state.get("start", 0), state.get("summary", "")
        messages = self._clipped(head, messages, start)
        view = self._view(head, messages, start, summary)
        tokens = self._counter(view)
        if tokens <= self.high * self.budget:
            return Prepared(view, tokens)
        start, evicted = self._cut(head, messages, start, summary)
        if evicted:
            summary = self._bounded(self._summary(summary, evicted, view))
        view = self._view(head, messages, start, summary)
        update: ContextState = {"start": start, "summary": summary,
                                "prunes": state.get("prunes", 0) + 1}  # fmt: skip
        return Prepared(view, self._counter(view), update)

    def _clipped(
        self, head: Sequence[SystemMessage], messages: Sequence[BaseMessage], start: int
    ) -> list[BaseMessage]:
        """``messages`` with every one the model may still see cut to the per-message limit."""
        limit = self._message_limit(head)
        task = task_index(messages)
        return [
            self.clip(m, limit) if i >= start or i == task else m for i, m in enumerate(messages)
        ]

    def _view(
        self,
        head: Sequence[SystemMessage],
        messages: Sequence[BaseMessage],
        start: int,
        summary: str,
    ) -> list[BaseMessage]:
        pinned = [SystemMessage(f"{_SUMMARY_HEADING}\n{summary}")] if summary else []
        task = task_index(messages)
        before = [messages[task]] if task is not None and task < start else []
        return [*head, *pinned, *before, *messages[start:]]

    def _message_limit(self, head: Sequence[SystemMessage]) -> int:
        """No single message may take more than half the low mark, nor more than the room the
        head (rules, examples, tools: the rendered prompt without messages) leaves in the
        budget."""
        room = self.budget - self._counter(list(head)) - _MESSAGE_MARGIN
        return max(16, min(max(self.tool_output_tokens, int(self.low * self.budget) // 2), room))

    def _cut(
        self,
        head: Sequence[SystemMessage],
        messages: Sequence[BaseMessage],
        start: int,
        summary: str,
    ) -> tuple[int, list[BaseMessage]]:
        """Evict whole turns from the front until the view fits the low watermark.

        The current task and the newest turn always stay; the summary's own size is reserved.
        """
        task = task_index(messages)
        pinned = messages[task] if task is not None else None
        grouped = turns(messages[start:])
        reserve = self.summary_tokens + 16
        evicted: list[BaseMessage] = []
        while len(grouped) > 1:
            view = self._view(head, messages, start, summary)
            if self._counter(view) + reserve <= self.low * self.budget:
                break
            turn = grouped.pop(0)
            start += len(turn)
            evicted.extend(m for m in turn if m is not pinned)
        return start, evicted

    def _sliding(
        self, head: Sequence[SystemMessage], messages: Sequence[BaseMessage]
    ) -> list[BaseMessage]:
        """``trim_messages`` as usually set up: per-message token counts, newest messages kept."""

        def per_message(batch: Sequence[BaseMessage]) -> int:
            return sum(self._count_text(m.text) + 4 for m in batch)  # + role markers

        fixed = self._counter(list(head))  # system prompt, tool list, turn markers
        kept = trim_messages(
            list(messages),
            max_tokens=max(self.budget - fixed, 0),
            token_counter=per_message,
            strategy="last",
            start_on=("human", "ai"),  # never start on an orphan tool result
            allow_partial=False,
        )
        # The rendered prompt is not exactly the sum of its messages: drop whole turns until the
        # exact count fits too.
        grouped = turns(kept)
        while len(grouped) > 1 and self._counter([*head, *_flat(grouped)]) > self.budget:
            grouped.pop(0)
        return [*head, *_flat(grouped)]

    # -- sizes ---------------------------------------------------------------------------------

    def clip(self, message: _M, limit: int | None = None) -> _M:
        """``message`` cut to ``limit`` tokens (default: the tool-output limit), with a note."""
        limit = limit or self.tool_output_tokens
        text = message.text if isinstance(message.content, str) else str(message.content)
        total = self._count_text(text)
        if total <= limit:
            return message
        kept = text[: len(text) * limit // total]
        while kept and self._count_text(kept) > limit - 24:
            kept = kept[: int(len(kept) * 0.9)]
        note = f"\n[... cut: the full text has {total:,} tokens; the first {limit:,} are shown]"
        return message.model_copy(update={"content": kept + note})

    def _bounded(self, summary: str) -> str:
        return self.clip(AIMessage(summary.strip()), self.summary_tokens).text

    def _count_text(self, text: str) -> int:
        return self.model.get_num_tokens(text)

    def _count_with_model(self, messages: Sequence[BaseMessage]) -> int:
        try:
            return self.model.get_num_tokens_from_messages(list(messages), tools=self._schemas)
        except ImportError as exc:  # LangChain's fallback tokenizer needs transformers
            raise UsageError(
                f"{type(self.model).__name__} cannot count tokens ({exc}); pass "
                "ContextWindow(count=...) or use the context policy 'none'"
            ) from None

    # -- the summary ---------------------------------------------------------------------------

    def _summary(
        self, previous: str, evicted: Sequence[BaseMessage], view: list[BaseMessage]
    ) -> str:
        """The new summary: by ``summarize`` when given; else by the model, asked at the end of
        the prompt it has cached (:meth:`_summarize_in_place`), or from a digest of the evicted
        turns when that does not fit."""
        if self.summarize is not None:
            return self.summarize(previous, evicted)
        notes = self._summarize_in_place(view)
        return notes if notes is not None else self._summarize_with_model(previous, evicted)

    def _summarize_in_place(self, view: list[BaseMessage]) -> str | None:
        """Notes of the conversation, requested right after its latest model turn: the prompt of
        that turn plus what the model wrote is what a llama.cpp model holds in its cache, so
        with the same head (tools bound, answer only) only the request is new to prefill; the
        side call then puts the conversation's cache back. ``None`` when the view has no model
        turn yet or the request would not fit the budget."""
        last = max((i for i, m in enumerate(view) if isinstance(m, AIMessage)), default=None)
        if last is None:
            return None
        request = [*view[: last + 1], HumanMessage(_NOTES_REQUEST)]
        if self._counter(request) > self.budget:
            return None
        model = side_model(self.model)
        bound = model.bind_tools(self.tools, tool_choice="none") if self.tools else model
        config: RunnableConfig = {"tags": [SUMMARY_TAG]}
        return bound.invoke(request, config).text

    def _summarize_with_model(self, previous: str, evicted: Sequence[BaseMessage]) -> str:
        digest = "\n".join(_digest(m) for m in evicted)
        digest = self.clip(HumanMessage(digest), 4 * self.summary_tokens).text
        request = [
            SystemMessage(
                "You keep the notes of a long conversation between a user and an assistant that "
                "uses tools. Merge the earlier notes and the new turns into one short paragraph "
                "of notes: the tasks, the facts and numbers found, what is done. Keep names and "
                "numbers exact."
            ),
            HumanMessage(f"Earlier notes: {previous or '(none)'}\n\nNew turns:\n{digest}"),
        ]
        # A side call: a model with a prefix cache keeps the conversation's cached prompt.
        config: RunnableConfig = {"tags": [SUMMARY_TAG]}
        return side_model(self.model).invoke(request, config).text


def _flat(grouped: Sequence[Sequence[BaseMessage]]) -> list[BaseMessage]:
    return [message for turn in grouped for message in turn]


def _digest(message: BaseMessage, width: int = 200) -> str:
    """One short line per message for the summary writer."""
    if isinstance(message, HumanMessage):
        return f"User: {message.text[:width]}"
    if isinstance(message, AIMessage) and message.tool_calls:
        call = message.tool_calls[0]
        return f"Assistant called {call['name']}({call['args']})"
    if isinstance(message, ToolMessage):
        return f"Result of {message.name or 'the tool'}: {message.text[:width]}"
    return f"Assistant: {message.text[:width]}"
