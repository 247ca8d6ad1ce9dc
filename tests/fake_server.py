"""A tiny real HTTP server on 127.0.0.1 for contract tests of the server engines: it records
every request body and answers from scripted replies (JSON, a server-sent event stream, or a
connection dropped half-way)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DROP = "drop"  # a reply that sends the first event of a stream, then closes the connection


@dataclass
class FakeServer:
    """Replies by path: a JSON object, a list of them (a stream, or the next reply each time
    for ``queues``), or a callable of the request body."""

    routes: dict[str, Any] = field(default_factory=dict)
    queues: dict[str, list[Any]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)
    url: str = ""

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body or {} for seen, body in self.requests if seen == path]

    def reply(self, path: str, body: dict[str, Any] | None) -> Any:
        if self.queues.get(path):
            return self.queues[path].pop(0)
        route = self.routes.get(path)
        return route(body) if callable(route) else route


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._answer(None)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._answer(json.loads(self.rfile.read(length) or b"{}"))

        def _answer(self, body: dict[str, Any] | None) -> None:
            server.requests.append((self.path, body))
            reply = server.reply(self.path, body)
            if reply is None:
                self._send(404, {"error": {"message": f"no route {self.path}"}})
            elif isinstance(reply, tuple):  # (status, body)
                self._send(*reply)
            elif reply == DROP or (body or {}).get("stream"):
                self._stream(reply)
            else:
                self._send(200, reply)

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, events: Any) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunks = [{"content": "{", "stop": False}] if events == DROP else events
            for event in chunks:
                line = f"data: {json.dumps(event)}\n\n".encode()
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            if events == DROP:  # mid-answer: no closing chunk, the connection just ends
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")

    return Handler


@contextmanager
def serving(fake: FakeServer) -> Iterator[FakeServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()


def llama_server(slots: int = 2, n_ctx: int = 4096) -> FakeServer:
    """A fake ``llama-server``: its properties, a tokenizer (4 characters a token), and
    completions scripted with :func:`answer` in ``queues["/completion"]``."""
    tokens: Callable[[dict[str, Any]], Any] = lambda body: {  # noqa: E731
        "tokens": list(range(len(body["content"]) // 4))
    }
    return FakeServer(
        routes={
            "/props": {
                "total_slots": slots,
                "default_generation_settings": {"n_ctx": n_ctx},
                "model_path": "/models/fake.gguf",
            },
            "/tokenize": tokens,
        },
    )


def answer(text: str, *, cached: int = 0, prompt: int = 10, stream: bool = True) -> Any:
    """A ``/completion`` reply carrying ``text``: a stream of two events, or one object."""
    final = {
        "content": "", "stop": True, "stop_type": "eos", "tokens_predicted": 5,
        "timings": {"cache_n": cached, "prompt_n": prompt, "prompt_ms": 12.5,
                    "predicted_n": 5, "predicted_ms": 40.0},
    }  # fmt: skip
    if not stream:
        return {**final, "content": text}
    return [{"content": text, "stop": False}, final]
