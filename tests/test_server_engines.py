"""The server engines against a real local HTTP server that records each request: the exact
request bodies (a wrong field is silently ignored by the servers, so the body is the contract),
response parsing, slots per thread, and failures that name the server."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import pytest
from fake_server import DROP, FakeServer, answer, llama_server, serving
from langchain_core.runnables import RunnableLambda

from agentlab.errors import BackendError, ContextOverflowError
from agentlab.llm import HttpEngine, OpenAIEngine, engine_for_backend
from agentlab.llm._grammar import gbnf
from agentlab.llm._http_engine import slot_for

SCHEMA = json.dumps({"type": "object", "properties": {"answer": {"type": "string"}},
                     "required": ["answer"]})  # fmt: skip


def in_thread(thread_id: str, call: Any) -> Any:
    """``call()`` inside a LangChain run whose config names ``thread_id`` (as a graph node)."""
    return RunnableLambda(lambda _: call()).invoke(None, {"configurable": {"thread_id": thread_id}})


def test_llama_server_request_body_and_completion() -> None:
    fake = llama_server(slots=4)
    fake.queues["/completion"] = [answer('{"answer": "4"}', cached=7, stream=False)]
    with serving(fake):
        engine = HttpEngine(fake.url)
        prompt = "<|im_start|>user\nhi<|im_end|>"
        done = in_thread("thread-a", lambda: engine.complete(
            prompt, schema=SCHEMA, max_tokens=64, temperature=0.0))  # fmt: skip
    assert fake.bodies("/completion") == [{
        "prompt": "<|im_start|>user\nhi<|im_end|>", "grammar": gbnf(SCHEMA), "n_predict": 64,
        "temperature": 0.0, "cache_prompt": True, "id_slot": slot_for("thread-a", 4),
    }]  # fmt: skip
    assert gbnf(SCHEMA).startswith("root ::=") or "root ::=" in gbnf(SCHEMA)
    assert fake.bodies("/tokenize")[0] == {
        "content": "<|im_start|>user\nhi<|im_end|>", "add_special": False, "parse_special": True
    }  # fmt: skip
    assert (done.text, done.reused_tokens, done.prompt_tokens) == ('{"answer": "4"}', 7, 17)
    assert (done.completion_tokens, done.prefill_ms, done.decode_ms) == (5, 12.5, 40.0)
    assert done.finish_reason == "stop"
    assert (engine.n_ctx, engine.name, engine.slots) == (4096, "fake.gguf", 4)


def test_llama_server_streams_text() -> None:
    fake = llama_server()
    fake.queues["/completion"] = [answer('{"answer": "ok"}', cached=3)]
    pieces: list[str] = []
    with serving(fake):
        done = HttpEngine(fake.url).complete(
            "p" * 40, schema=SCHEMA, max_tokens=32, temperature=0.0, on_text=pieces.append
        )
    assert fake.bodies("/completion")[0]["stream"] is True
    assert fake.bodies("/completion")[0]["id_slot"] == -1  # outside a graph: any slot
    assert pieces == ['{"answer": "ok"}'] and done.text == '{"answer": "ok"}'
    assert done.reused_tokens == 3


def test_slot_per_thread_is_stable_and_side_calls_take_another() -> None:
    slots = {slot_for(f"thread-{n}", 4) for n in range(40)}
    assert slots == {0, 1, 2, 3}  # spread over every slot
    assert slot_for("t", 4) == slot_for("t", 4)
    assert slot_for("t", 4, side=True) == (slot_for("t", 4) + 1) % 4
    assert slot_for(None, 4) == -1


def test_side_calls_leave_the_conversation_slot() -> None:
    fake = llama_server(slots=2)
    fake.queues["/completion"] = [answer("{}", stream=False) for _ in range(2)]
    with serving(fake):
        engine = HttpEngine(fake.url)

        def side() -> None:
            with engine.keeping_cache():
                engine.complete("x" * 8, schema=SCHEMA, max_tokens=8, temperature=0.0)

        in_thread("t", lambda: engine.complete("y" * 8, schema=SCHEMA, max_tokens=8,
                                               temperature=0.0))  # fmt: skip
        in_thread("t", side)
    own, aside = (body["id_slot"] for body in fake.bodies("/completion"))
    assert own == slot_for("t", 2) and aside == 1 - own


def test_one_slot_side_calls_are_not_cached() -> None:
    fake = llama_server(slots=1)
    fake.queues["/completion"] = [answer("{}", stream=False)]
    with serving(fake):
        engine = HttpEngine(fake.url)
        with engine.keeping_cache():
            in_thread("t", lambda: engine.complete("x" * 8, schema=SCHEMA, max_tokens=8,
                                                   temperature=0.0))  # fmt: skip
    assert fake.bodies("/completion")[0]["cache_prompt"] is False


def test_context_overflow_is_checked_before_sending() -> None:
    fake = llama_server(n_ctx=100)
    with serving(fake), pytest.raises(ContextOverflowError, match=r"a slot of http://127\.0\.0\.1"):
        HttpEngine(fake.url).complete("w" * 400, schema=SCHEMA, max_tokens=16, temperature=0.0)
    assert fake.bodies("/completion") == []


def test_server_errors_name_the_server() -> None:
    fake = llama_server()
    fake.queues["/completion"] = [
        (400, {"error": {"code": 400, "message": "the request exceeds the available context "
                         "size, try increasing it", "type": "exceed_context_size_error"}}),
        (500, {"error": {"code": 500, "message": "boom", "type": "server_error"}}),
        DROP,
    ]  # fmt: skip
    with serving(fake):
        engine = HttpEngine(fake.url)
        call = {"schema": SCHEMA, "max_tokens": 8, "temperature": 0.0}
        with pytest.raises(ContextOverflowError, match="context size"):
            engine.complete("x" * 8, **call)
        with pytest.raises(BackendError, match=rf"{fake.url} answered /completion with HTTP 500"):
            engine.complete("x" * 8, **call)
        with pytest.raises(BackendError, match=rf"{fake.url} dropped the connection"):
            engine.complete("x" * 8, on_text=lambda _: None, **call)


def test_not_a_llama_server() -> None:
    fake = FakeServer(routes={"/props": {"hello": "world"}})
    with serving(fake), pytest.raises(BackendError, match="does not describe a llama-server"):
        HttpEngine(fake.url)


@pytest.mark.slow  # waits out the 10 s answer timeout
def test_unreachable_and_silent_servers_fail_in_time() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BackendError, match="refused or could not be reached"):
        engine_for_backend(f"http://127.0.0.1:{port}")
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        started = time.monotonic()
        with pytest.raises(BackendError, match="did not answer /props in time"):
            engine_for_backend(f"http://127.0.0.1:{silent.getsockname()[1]}")
        assert time.monotonic() - started < 20


def openai_server(max_len: int = 4096) -> FakeServer:
    return FakeServer(
        routes={
            "/v1/models": {"data": [{"id": "qwen-coder", "max_model_len": max_len}]},
            "/tokenize": lambda body: {"tokens": list(range(len(body["prompt"]) // 4)),
                                       "count": len(body["prompt"]) // 4},
        },
    )  # fmt: skip


def test_openai_request_body_is_built_for_vllm() -> None:
    fake = openai_server()
    fake.queues["/v1/completions"] = [{
        "choices": [{"index": 0, "text": '{"answer": "4"}', "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 6, "total_tokens": 126,
                  "prompt_tokens_details": {"cached_tokens": 96}},
    }]  # fmt: skip
    with serving(fake):
        engine = engine_for_backend(f"openai+{fake.url}/v1")
        assert isinstance(engine, OpenAIEngine)
        done = engine.complete("PROMPT", schema=SCHEMA, max_tokens=64, temperature=0.0)
    assert fake.bodies("/v1/completions") == [{
        "model": "qwen-coder", "prompt": "PROMPT", "max_tokens": 64, "temperature": 0.0,
        "structured_outputs": {"json": json.loads(SCHEMA)},
    }]  # fmt: skip
    assert fake.bodies("/tokenize") == [
        {"model": "qwen-coder", "prompt": "PROMPT", "add_special_tokens": False}
    ]
    assert (done.text, done.prompt_tokens, done.reused_tokens, done.completion_tokens) == (
        '{"answer": "4"}', 120, 96, 6)  # fmt: skip
    assert done.finish_reason == "stop" and (engine.name, engine.n_ctx) == ("qwen-coder", 4096)


def test_openai_stream_reads_text_and_usage() -> None:
    fake = openai_server()
    fake.queues["/v1/completions"] = [[
        {"choices": [{"index": 0, "text": '{"answer": ', "finish_reason": None}]},
        {"choices": [{"index": 0, "text": '"4"}', "finish_reason": "length"}]},
        {"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 4,
                                  "prompt_tokens_details": None}},
    ]]  # fmt: skip
    pieces: list[str] = []
    with serving(fake):
        done = OpenAIEngine(f"{fake.url}/v1").complete(
            "P", schema=SCHEMA, max_tokens=4, temperature=0.0, on_text=pieces.append
        )
    body = fake.bodies("/v1/completions")[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert pieces == ['{"answer": ', '"4"}'] and done.text == '{"answer": "4"}'
    assert (done.prompt_tokens, done.reused_tokens, done.finish_reason) == (50, 0, "length")


def test_openai_model_not_served() -> None:
    fake = openai_server()
    with serving(fake), pytest.raises(BackendError, match=r"serves: qwen-coder"):
        OpenAIEngine(f"{fake.url}/v1", model="llama-70b")


def _awaited(engine: Any, on_text: Any = None, thread_id: str | None = None) -> Any:
    """``engine.acomplete`` on a fresh event loop, inside a run on ``thread_id`` if given."""

    async def turn() -> Any:
        return await engine.acomplete(
            "x" * 40, schema=SCHEMA, max_tokens=8, temperature=0.0, on_text=on_text
        )

    if thread_id is None:
        return asyncio.run(turn())
    run = RunnableLambda(lambda _: None, afunc=lambda _: turn())
    return asyncio.run(run.ainvoke(None, {"configurable": {"thread_id": thread_id}}))


def test_awaited_turns_send_the_same_requests_as_threaded_ones() -> None:
    fake = llama_server(slots=4)
    fake.queues["/completion"] = [answer('{"answer": "4"}', cached=2) for _ in range(3)]
    pieces: list[str] = []

    async def collect(piece: str) -> None:
        pieces.append(piece)

    with serving(fake):
        engine = HttpEngine(fake.url)
        call = {"schema": SCHEMA, "max_tokens": 8, "temperature": 0.0}
        in_thread("thread-a", lambda: engine.complete("x" * 40, on_text=pieces.append, **call))
        done = _awaited(engine, collect, thread_id="thread-a")
        _awaited(engine, collect)  # outside a run: any slot
    threaded, awaited, anywhere = fake.bodies("/completion")
    assert awaited == threaded and awaited["id_slot"] == slot_for("thread-a", 4)
    assert anywhere["id_slot"] == -1
    assert pieces == ['{"answer": "4"}'] * 3
    assert (done.text, done.reused_tokens, done.prompt_tokens) == ('{"answer": "4"}', 2, 12)
    assert len(fake.bodies("/tokenize")) == 3  # the context is checked before each turn


def test_awaited_turns_fail_as_threaded_ones_do() -> None:
    fake = llama_server(n_ctx=20)
    fake.queues["/completion"] = [(500, {"error": {"message": "boom"}}), DROP]
    with serving(fake):
        engine = HttpEngine(fake.url)
        with pytest.raises(ContextOverflowError, match="a slot of"):
            asyncio.run(engine.acomplete("w" * 400, schema=SCHEMA, max_tokens=8, temperature=0))
        with pytest.raises(BackendError, match="answered /completion with HTTP 500: boom"):
            _awaited(engine)

        async def ignore(_: str) -> None:
            pass

        with pytest.raises(BackendError, match=rf"{fake.url} dropped the connection"):
            _awaited(engine, ignore)
    assert len(fake.bodies("/completion")) == 2


def test_openai_awaited_turns_send_the_same_requests() -> None:
    fake = openai_server()
    reply = {"choices": [{"index": 0, "text": '{"answer": "4"}', "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 12, "completion_tokens": 6,
                       "prompt_tokens_details": {"cached_tokens": 8}}}  # fmt: skip
    stream = [{"choices": [{"index": 0, "text": '{"answer": "4"}', "finish_reason": "stop"}]},
              {"choices": [], "usage": reply["usage"]}]  # fmt: skip
    fake.queues["/v1/completions"] = [reply, reply, stream]
    pieces: list[str] = []

    async def collect(piece: str) -> None:
        pieces.append(piece)

    with serving(fake):
        engine = OpenAIEngine(f"{fake.url}/v1")
        engine.complete("x" * 40, schema=SCHEMA, max_tokens=8, temperature=0.0)
        done = _awaited(engine)
        streamed = _awaited(engine, collect)
    threaded, awaited, awaited_stream = fake.bodies("/v1/completions")
    assert awaited == threaded and awaited_stream["stream"] is True
    assert (done.text, done.prompt_tokens, done.reused_tokens) == ('{"answer": "4"}', 12, 8)
    assert pieces == ['{"answer": "4"}'] and streamed.reused_tokens == 8
