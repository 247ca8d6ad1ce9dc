"""``LlamaChatModel``: a LangChain chat model over an engine whose tool calls are grammar-bound."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Generator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

from agentlab.config import Settings
from agentlab.errors import RunError
from agentlab.llm._backend import engine_for_backend
from agentlab.llm._cascade import CascadeEngine
from agentlab.llm._engine import LlamaEngine
from agentlab.llm.engine import AsyncEngine, Completion, Engine
from agentlab.llm.protocol import (
    Mode,
    ToolSpec,
    action_schema,
    all_tools_but,
    parse_turn,
    render_prompt,
    render_structured_prompt,
    structured_schema,
)
from agentlab.models import AUTO_MODEL, resolve_cascade, resolve_model

__all__ = ["LlamaChatModel", "bind_tools_but"]


class LlamaChatModel(BaseChatModel):
    """Chat model on an :class:`~agentlab.llm.Engine` (llama.cpp in-process by default).

    With tools bound, every turn is constrained to a call of one bound tool (arguments matching
    its JSON schema) or a final answer, so ``AIMessage.tool_calls`` never names an unknown tool.
    A call identical to one already made is replaced by a forced final answer (loop breaker).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Engine = Field(exclude=True)
    temperature: float = 0.0
    max_tokens: int = 256
    structured: bool = Field(default=False, exclude=True)  # set by with_structured_output
    side_calls: bool = Field(default=False, exclude=True)  # set by for_side_calls

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaChatModel:
        """The model the settings name: on the server ``settings.backend`` when set, else
        loaded in-process."""
        engine: Engine
        if settings.backend is not None:
            engine = engine_for_backend(settings.backend)
        elif settings.model == AUTO_MODEL:
            small, large = resolve_cascade(settings.model_dir)
            engine = CascadeEngine(
                LlamaEngine.load(small, settings),
                LlamaEngine.load(large, settings),
                settings.cascade_margin,
            )
        else:
            engine = LlamaEngine.load(resolve_model(settings.model, settings.model_dir), settings)
        return cls(
            engine=engine,
            temperature=settings.temperature,
            max_tokens=settings.max_answer_tokens,
        )

    @property
    def _llm_type(self) -> str:
        return "agentlab-llama"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.engine.name, "temperature": self.temperature}

    def get_num_tokens(self, text: str) -> int:
        return len(self.engine.tokenize(text))

    def get_num_tokens_from_messages(
        self,
        messages: list[BaseMessage],
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool] | None = None,
    ) -> int:
        """Exact: the tokens of the prompt exactly as it is rendered for the model."""
        specs = [ToolSpec.from_openai(convert_to_openai_tool(tool)) for tool in tools or []]
        return len(self.engine.tokenize(render_prompt(messages, specs)))

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self, schema: dict[str, Any] | type, **kwargs: Any
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """LangChain's structured output, decoded under the schema's own grammar with a plain
        prompt (see ``_structured``), not inside the tool-calling protocol."""
        copy = self.model_copy(update={"structured": True})
        return BaseChatModel.with_structured_output(copy, schema, **kwargs)

    def for_side_calls(self) -> LlamaChatModel:
        """A copy on the same engine whose calls keep the conversation's KV cache: the cached
        prefix is put back after each call, so the next conversation turn prefills nothing
        again (see ``agentlab.llm.side_model``)."""
        return self.model_copy(update={"side_calls": True})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        options = self._options(run_manager.on_llm_new_token if run_manager else None)
        steps = self._reply(messages, **kwargs)
        with self._cache_scope():
            ask = next(steps)
            while True:
                turn = self.engine.complete(ask.prompt, schema=ask.schema, **options)
                try:
                    ask = steps.send(turn)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """On an :class:`~agentlab.llm.AsyncEngine` the turns are awaited on the event loop;
        on another engine they run in a worker thread (LangChain's default)."""
        engine = self.engine
        if not isinstance(engine, AsyncEngine):
            return await super()._agenerate(messages, stop, run_manager, **kwargs)
        options = self._options(run_manager.on_llm_new_token if run_manager else None)
        steps = self._reply(messages, **kwargs)
        with self._cache_scope():
            ask = next(steps)
            while True:
                turn = await engine.acomplete(ask.prompt, schema=ask.schema, **options)
                try:
                    ask = steps.send(turn)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]

    def _options(self, on_text: Any) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, "on_text": on_text}

    def _cache_scope(self) -> AbstractContextManager[None]:
        return self.engine.keeping_cache() if self.side_calls else nullcontext()

    def _reply(self, messages: list[BaseMessage], **kwargs: Any) -> _Steps:
        """The reply to ``messages`` as the turns it asks the engine for (each ``yield`` gets
        the turn's :class:`~agentlab.llm.Completion`), so one logic serves both drivers."""
        tools = [ToolSpec.from_openai(tool) for tool in kwargs.get("tools") or []]
        if self.structured and len(tools) == 1:
            return (yield from self._structured(messages, tools[0]))
        mode = _mode(kwargs.get("tool_choice"))
        prompt = render_prompt(messages, tools)
        turns = [(yield _ask(prompt, tools, mode))]
        message = parse_turn(turns[0].text)
        if mode == "auto" and _cut_off(turns[0]):
            # a runaway turn (an argument that counts on and on) is not an answer: ask for one
            turns.append((yield _ask(prompt, tools, "answer")))
            message = parse_turn(turns[-1].text)
            message.response_metadata["cut_off_retry"] = True
        elif message.tool_calls and mode == "auto" and _repeats(message, messages):
            turns.append((yield _ask(prompt, tools, "answer")))
            message = parse_turn(turns[-1].text)
            message.response_metadata["loop_breaker"] = True
        if _cut_off(turns[-1]):
            raise RunError(
                f"the model's turn was cut off at {self.max_tokens} tokens before its JSON "
                "closed; raise max_answer_tokens or shorten the task"
            )
        _attach_usage(message, turns, self.engine.name)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _structured(self, messages: list[BaseMessage], tool: ToolSpec) -> _Steps:
        """``with_structured_output``: the object itself under its schema's grammar, returned as
        a call of the schema-as-tool (what LangChain's output parsers read)."""
        prompt = render_structured_prompt(messages, tool)
        turn = yield _Ask(prompt, json.dumps(structured_schema(tool)))
        try:
            args = json.loads(turn.text, strict=False)
        except json.JSONDecodeError:  # cut off at max_tokens: let the parser report it
            message = AIMessage(content=turn.text, additional_kwargs={"raw": turn.text})
        else:
            call = {"name": tool.name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}"}
            message = AIMessage(content="", tool_calls=[call], additional_kwargs={"raw": turn.text})
        _attach_usage(message, [turn], self.engine.name)
        return ChatResult(generations=[ChatGeneration(message=message)])


@dataclass(frozen=True)
class _Ask:
    """A turn the reply needs: the rendered prompt and the JSON schema its text must match."""

    prompt: str
    schema: str


_Steps = Generator[_Ask, Completion, ChatResult]


def _ask(prompt: str, tools: Sequence[ToolSpec], mode: Mode) -> _Ask:
    return _Ask(prompt, json.dumps(action_schema(tools, mode)))


def _mode(tool_choice: object) -> Mode:
    if tool_choice in (None, "auto", False):
        return "auto"
    if tool_choice in ("any", "required", True):
        return "required"
    if tool_choice == "none":
        return "answer"
    if isinstance(tool_choice, dict):
        return str(tool_choice.get("function", {}).get("name") or tool_choice.get("name"))
    return str(tool_choice)


def _cut_off(turn: Completion) -> bool:
    """True when the turn stopped at ``max_tokens`` before its JSON was whole."""
    if turn.finish_reason != "length":
        return False
    try:
        json.loads(turn.text, strict=False)
    except json.JSONDecodeError:
        return True
    return False


def _repeats(message: AIMessage, history: Sequence[BaseMessage]) -> bool:
    """True when the new call has the same tool and arguments as an earlier one."""
    new = message.tool_calls[0]
    for earlier in history:
        if isinstance(earlier, AIMessage):
            for call in earlier.tool_calls:
                if call["name"] == new["name"] and call["args"] == new["args"]:
                    return True
    return False


def _attach_usage(message: AIMessage, turns: Sequence[Completion], model_name: str) -> None:
    prompt = sum(t.prompt_tokens for t in turns)
    completion = sum(t.completion_tokens for t in turns)
    message.usage_metadata = {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
        "input_token_details": {"cache_read": sum(t.reused_tokens for t in turns)},
    }
    message.response_metadata.update(
        model_name=turns[-1].model or model_name,
        finish_reason=turns[-1].finish_reason,
        prefill_ms=round(sum(t.prefill_ms for t in turns), 1),
        decode_ms=round(sum(t.decode_ms for t in turns), 1),
    )


def bind_tools_but(
    model: BaseChatModel, tools: Sequence[BaseTool], left_out: Sequence[str]
) -> Runnable[LanguageModelInput, BaseMessage]:
    """``model`` bound to ``tools`` less those named in ``left_out``. agentlab's own model
    still lists every tool in its prompt and leaves those out of the grammar only, so the
    prompt's cached prefix holds; any other chat model is bound to the tools that remain."""
    if isinstance(model, LlamaChatModel):
        return model.bind_tools(tools, tool_choice=all_tools_but(left_out))
    return model.bind_tools([t for t in tools if t.name not in left_out])
