"""A fake LLM provider on 127.0.0.1 that speaks the real wire protocols, so the real SDKs are tested.

Anthropic: ``POST /v1/messages``, ``POST /v1/messages/batches``, ``GET /v1/messages/batches`` (list),
``GET /v1/messages/batches/{id}``,
``GET /v1/messages/batches/{id}/results`` (JSONL), ``POST /v1/messages/batches/{id}/cancel``.
OpenAI: ``POST /v1/chat/completions`` (with ``n``; or refusing ``n > 1`` like llama.cpp).
Streaming as the real APIs stream (chunked ``text/event-stream``): Anthropic's SSE events
``message_start``, ``content_block_start``, ``ping``, ``content_block_delta`` …, ``content_block_stop``,
``message_delta`` (stop reason, output usage), ``message_stop``; OpenAI's ``data: {chunk}`` lines and
``data: [DONE]``, the usage in a last chunk with no choices when ``stream_options.include_usage``.
Extended thinking: a Messages request with ``thinking: {"type": "enabled", "budget_tokens": N}``
(N ≥ 1024 and below ``max_tokens``, else a 400 as the API answers) gets a ``thinking`` block (text and
``signature``; empty text with ``display: "omitted"``) before its text block, streamed as
``thinking_delta`` and ``signature_delta`` events; ``output_tokens`` then includes the thinking tokens,
which ``usage.output_tokens_details.thinking_tokens`` counts (``redact_thinking=True`` adds a
``redacted_thinking`` block too). OpenAI with ``reasoning_field="reasoning_content"`` (or
``"reasoning"``) answers with the trace in that message field (in deltas when streaming) and counts
``completion_tokens_details.reasoning_tokens``, as vLLM with a reasoning parser does.
Every request's ``Authorization`` and ``x-api-key`` headers are recorded (``auth_seen``), so a test can
tell which secrets reached this host.

Faults are injected per request: a FIFO of one-shot faults (``server.add_faults("429", "529")``), a
random share of 429s (``rate_429=0.1``, seeded), or a rule function ``fault_rule(body) -> kind|None``.
Kinds: 429 (with retry-after), 529 (overloaded_error), 500, 400, 401, 403, 404, malformed (a 200 whose
body is not JSON), slow (sleeps ``slow_seconds`` before answering, beyond a client timeout), drop
(closes the connection without answering), stream_error (a stream that breaks off after its first
delta with an SSE ``error`` event, ``overloaded_error``). Every successful generation call is counted per prompt,
so a test can tell how many times each candidate was really paid for.

Streams go at ``tokens_per_second`` deltas a second (0: as fast as the socket takes them), paced
from the first delta so they do not drift. With ``stamp_tokens=N`` a stream's text is N deltas
``"<i>@<unix time> "``, each stamped as it is written, so a reader downstream can tell what was
lost, reordered or late; ``first_token_seconds`` lists each stream's time from its request to
its first delta (the server's own time to first token).
"""

from __future__ import annotations

import collections
import hashlib
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERROR_TYPES = {
    400: ("invalid_request_error", "messages: field required"),
    401: ("authentication_error", "invalid x-api-key"),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "model: {model}"),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages or []):
        content = m.get("content")
        if isinstance(content, list):
            return " ".join(b.get("text", "") for b in content if isinstance(b, dict))
        return str(content or "")
    return ""


def answer_text(model: str, prompt: str, seq: int) -> str:
    """Deterministic per (model, prompt), plus a call number so two samples differ. The model's
    name stays out of the text: the self-identification scan would rightly flag it."""
    digest = hashlib.sha256(f"{model}|{prompt}".encode()).hexdigest()[:8]
    return (
        f"Here is a short answer (**{digest}**, call {seq}).\n\n"
        f"- It restates the question: {prompt[:80]}\n- It gives one clear point.\n"
    )


def thinking_text(prompt: str, seq: int) -> str:
    """A model's deterministic reasoning about the prompt (the fake's "thinking")."""
    return (
        f"The user asks: {prompt[:80]}\n\nI should restate the question, then give one clear "
        f"point (call {seq})."
    )


def thinking_problem(body: dict[str, Any]) -> str | None:
    """Why the API refuses this request's ``thinking`` parameter, or None."""
    thinking = body.get("thinking")
    if thinking is None or (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
        return None
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return "thinking.type: Input should be 'enabled' or 'disabled'"
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    if budget >= int(body.get("max_tokens", 0)):
        return "`max_tokens` must be greater than `thinking.budget_tokens`"
    return None


def stream_pieces(text: str) -> list[str]:
    """A text cut the way models stream it: a word or two per delta, whitespace kept."""
    words = re.findall(r"\S+\s*|\s+", text)
    return ["".join(words[i : i + 2]) for i in range(0, len(words), 2)]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout test) closes its socket; that is expected, not news.
        pass


class FakeProviderServer:
    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate_429: float = 0.0,
        retry_after: float = 1.0,
        slow_seconds: float = 3.0,
        batch_ready_after: float = 0.0,
        support_n: bool = True,
        seed: int = 0,
        known_models: set[str] | None = None,
        redact_thinking: bool = False,
        reasoning_field: str | None = None,
        tokens_per_second: float = 0.0,
        stamp_tokens: int = 0,
    ) -> None:
        self.tokens_per_second = tokens_per_second
        self.stamp_tokens = stamp_tokens
        self.first_token_seconds: list[float] = []
        self.redact_thinking = redact_thinking
        self.reasoning_field = reasoning_field
        self.latency = latency
        self.rate_429 = rate_429
        self.retry_after = retry_after
        self.slow_seconds = slow_seconds
        self.batch_ready_after = batch_ready_after
        self.support_n = support_n
        self.known_models = known_models
        self.fault_rule: Callable[[dict[str, Any]], str | None] | None = None
        self.batch_item_rule: Callable[[str, dict[str, Any]], str | None] | None = None
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._faults: collections.deque[str] = collections.deque()
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (method, path, body)
        self.auth_seen: list[tuple[str, str, str]] = []  # (path, Authorization, x-api-key)
        self.served: collections.Counter[str] = collections.Counter()  # prompt -> paid calls
        self.status_counts: collections.Counter[int] = collections.Counter()
        self.batches: dict[str, dict[str, Any]] = {}
        self._seq = 0
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- lifecycle ---
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeProviderServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- configuration from tests ---
    def add_faults(self, *kinds: str) -> None:
        with self._lock:
            self._faults.extend(kinds)

    def calls_to(self, path: str) -> int:
        with self._lock:
            return sum(1 for _, p, _ in self.requests if p == path)

    def secrets_seen(self, *values: str) -> set[str]:
        """Which of ``values`` arrived here in an Authorization or x-api-key header."""
        with self._lock:
            headers = [a + "\n" + k for _, a, k in self.auth_seen]
        return {v for v in values if any(v in h for h in headers)}

    @property
    def total_served(self) -> int:
        with self._lock:
            return sum(self.served.values())

    # --- internals ---
    def _next_fault(self, body: dict[str, Any]) -> str | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self.rate_429 and self._rng.random() < self.rate_429:
                return "429"
        if self.fault_rule is not None:
            return self.fault_rule(body)
        return None

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _anthropic_message(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = _last_user_text(body.get("messages", []))
        model = body.get("model", "")
        seq = self._next_seq()
        text = answer_text(model, prompt, seq)
        max_tokens = int(body.get("max_tokens", 1024))
        words = text.split()
        stop_reason = "end_turn"
        if len(words) > max_tokens:
            text, stop_reason = " ".join(words[:max_tokens]), "max_tokens"
        with self._lock:
            self.served[prompt] += 1
        content: list[dict[str, Any]] = []
        usage: dict[str, Any] = {
            "input_tokens": len(prompt.split()) + len(str(body.get("system", "")).split()) + 3,
            "output_tokens": len(text.split()),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        thinking = body.get("thinking") or {}
        if thinking.get("type") == "enabled":
            thought = thinking_text(prompt, seq)
            # Billed for the whole trace (its words and the two delimiters), shown or not.
            tokens = min(len(thought.split()) + 2, int(thinking["budget_tokens"]))
            shown = "" if thinking.get("display") == "omitted" else thought
            signature = hashlib.sha256(f"sig|{thought}".encode()).hexdigest()
            content.append({"type": "thinking", "thinking": shown, "signature": signature})
            if self.redact_thinking:
                content.append(
                    {"type": "redacted_thinking", "data": "EmwKAhgBEgy" + signature[:16]}
                )
            usage["output_tokens"] += tokens
            usage["output_tokens_details"] = {"thinking_tokens": tokens}
        content.append({"type": "text", "text": text})
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }

    def _model_unknown(self, body: dict[str, Any]) -> bool:
        return self.known_models is not None and body.get("model") not in self.known_models

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the body waits for the client's
            # delayed ACK (~40 ms on Linux), which no real API adds. TCP_NODELAY, like real servers.
            disable_nagle_algorithm = True

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(
                self,
                status: int,
                payload: Any,
                headers: dict[str, str] | None = None,
                raw: bytes | None = None,
            ) -> None:
                data = raw if raw is not None else json.dumps(payload).encode()
                server.status_counts[status] += 1
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:20]}")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream_start(self) -> None:
                server.status_counts[200] += 1
                self.send_response(200)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("cache-control", "no-cache")
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:20]}")
                self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:20]}")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()

            def _stream_write(self, text: str) -> None:
                data = text.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream_end(self) -> None:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _sse(self, event: str, data: dict[str, Any]) -> None:
                self._stream_write(f"event: {event}\ndata: {json.dumps(data)}\n\n")

            def _text_pieces(self, pieces: list[str]) -> Iterator[str]:
                """The stream's text deltas, paced (tokens_per_second) and stamped (stamp_tokens)."""
                rate = server.tokens_per_second
                count = server.stamp_tokens or len(pieces)
                first = None
                for i in range(count):
                    if first is None:
                        first = time.monotonic()
                        with server._lock:
                            server.first_token_seconds.append(first - self._received)
                    elif rate:
                        pause = first + i / rate - time.monotonic()
                        if pause > 0:
                            time.sleep(pause)
                    yield f"{i}@{time.time():.6f} " if server.stamp_tokens else pieces[i]

            def _anthropic_stream(self, message: dict[str, Any], fault: str | None) -> None:
                """The Messages API's SSE events for a message: per content block a start, its
                deltas (``thinking_delta`` then one ``signature_delta`` for a thinking block,
                ``text_delta`` for text; a redacted block arrives whole) and a stop."""
                self._stream_start()
                usage = message["usage"]
                start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
                start["usage"] = {
                    k: v for k, v in usage.items() if k != "output_tokens_details"
                } | {"output_tokens": 1}
                self._sse("message_start", {"type": "message_start", "message": start})
                self._sse("ping", {"type": "ping"})
                for index, block in enumerate(message["content"]):
                    if block["type"] == "thinking":
                        opening = {"type": "thinking", "thinking": "", "signature": ""}
                        deltas = [
                            {"type": "thinking_delta", "thinking": p}
                            for p in stream_pieces(block["thinking"])
                        ] + [{"type": "signature_delta", "signature": block["signature"]}]
                    elif block["type"] == "text":
                        opening = {"type": "text", "text": ""}
                        deltas = (
                            {"type": "text_delta", "text": p}
                            for p in self._text_pieces(stream_pieces(block["text"]))
                        )
                    else:
                        opening, deltas = block, []
                    self._sse(
                        "content_block_start",
                        {"type": "content_block_start", "index": index, "content_block": opening},
                    )
                    for delta in deltas:
                        self._sse(
                            "content_block_delta",
                            {"type": "content_block_delta", "index": index, "delta": delta},
                        )
                        if fault == "stream_error" and delta["type"] == "text_delta":
                            error = {"type": "overloaded_error", "message": "Overloaded"}
                            self._sse("error", {"type": "error", "error": error})
                            return self._stream_end()
                    self._sse("content_block_stop", {"type": "content_block_stop", "index": index})
                delta_usage = {"output_tokens": usage["output_tokens"]}
                if "output_tokens_details" in usage:
                    delta_usage["output_tokens_details"] = usage["output_tokens_details"]
                self._sse(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                        "usage": delta_usage,
                    },
                )
                self._sse("message_stop", {"type": "message_stop"})
                return self._stream_end()

            def _chat_stream(self, body: dict[str, Any], text: str, in_tokens: int) -> None:
                """Chat completion chunks, ``data: [DONE]`` last; the usage in a chunk of its own
                (no choices) when the client asked with ``stream_options.include_usage``."""
                self._stream_start()
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                base = {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:20]}",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", ""),
                }
                if include_usage:
                    base["usage"] = None

                def chunk(delta: dict[str, Any], finish: str | None) -> None:
                    choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                    self._stream_write(f"data: {json.dumps({**base, 'choices': [choice]})}\n\n")

                chunk({"role": "assistant", "content": ""}, None)
                field = server.reasoning_field
                thought = thinking_text(body.get("_prompt", ""), 0) if field else ""
                for piece in stream_pieces(thought):
                    chunk({field: piece}, None)
                for piece in self._text_pieces(stream_pieces(text)):
                    chunk({"content": piece}, None)
                chunk({}, "stop")
                if include_usage:
                    out = len(text.split()) + len(thought.split())
                    usage = {
                        "prompt_tokens": in_tokens,
                        "completion_tokens": out,
                        "total_tokens": in_tokens + out,
                    }
                    if field:
                        usage["completion_tokens_details"] = {
                            "reasoning_tokens": len(thought.split())
                        }
                    self._stream_write(
                        f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
                    )
                self._stream_write("data: [DONE]\n\n")
                self._stream_end()

            def _error(self, status: int, body: dict[str, Any], message: str | None = None) -> None:
                etype, default = ERROR_TYPES[status]
                text = message or default.format(model=body.get("model", ""))
                headers = {}
                if status == 429:
                    headers["retry-after"] = f"{server.retry_after:g}"
                    headers["x-should-retry"] = "true"
                if self.path.startswith("/v1/chat/"):
                    payload = {"error": {"message": text, "type": etype, "code": status}}
                else:
                    payload = {"type": "error", "error": {"type": etype, "message": text}}
                self._send(status, payload, headers)

            def _read_body(self) -> dict[str, Any]:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else {}

            def _apply_fault(self, fault: str | None, body: dict[str, Any]) -> bool:
                """Answer with the fault and return True, or return False to answer normally."""
                if fault is None:
                    return False
                if fault == "slow":
                    time.sleep(server.slow_seconds)
                    return False
                if fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return True
                if fault == "malformed":
                    self._send(200, None, raw=b'{"id": "msg_x", "type": "message", "content": [')
                    return True
                self._error(int(fault), body)
                return True

            def _record_auth(self) -> None:
                with server._lock:
                    server.auth_seen.append(
                        (
                            self.path,
                            self.headers.get("authorization", ""),
                            self.headers.get("x-api-key", ""),
                        )
                    )

            def do_POST(self) -> None:  # noqa: N802
                self._received = time.monotonic()
                self._record_auth()
                body = self._read_body()
                with server._lock:
                    server.requests.append(("POST", self.path, body))
                if self.path == "/v1/messages":
                    return self._messages(body)
                if self.path == "/v1/messages/batches":
                    return self._batch_create(body)
                if self.path.startswith("/v1/messages/batches/") and self.path.endswith("/cancel"):
                    return self._batch_cancel(self.path.split("/")[4])
                if self.path == "/v1/chat/completions":
                    return self._chat(body)
                self._send(
                    404,
                    {"type": "error", "error": {"type": "not_found_error", "message": self.path}},
                )

            def do_GET(self) -> None:  # noqa: N802
                self._record_auth()
                with server._lock:
                    server.requests.append(("GET", self.path, {}))
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts == ["v1", "messages", "batches"]:
                    return self._batch_list()
                if parts[:3] == ["v1", "messages", "batches"] and len(parts) == 4:
                    return self._batch_get(parts[3])
                if (
                    parts[:3] == ["v1", "messages", "batches"]
                    and len(parts) == 5
                    and parts[4] == "results"
                ):
                    return self._batch_results(parts[3])
                self._send(
                    404,
                    {"type": "error", "error": {"type": "not_found_error", "message": self.path}},
                )

            # --- Anthropic Messages ---
            def _messages(self, body: dict[str, Any]) -> None:
                fault = server._next_fault(body)
                if fault != "stream_error" and self._apply_fault(fault, body):
                    return
                if server._model_unknown(body):
                    return self._error(404, body)
                if "max_tokens" not in body:
                    return self._error(400, body, "max_tokens: Field required")
                if problem := thinking_problem(body):
                    return self._error(400, body, problem)
                if server.latency:
                    time.sleep(server.latency)
                if body.get("stream"):
                    return self._anthropic_stream(server._anthropic_message(body), fault)
                self._send(200, server._anthropic_message(body))

            # --- Anthropic Message Batches ---
            def _batch_json(self, batch: dict[str, Any]) -> dict[str, Any]:
                ended = batch["canceled"] or time.monotonic() >= batch["ready_at"]
                counts = {
                    "processing": 0,
                    "succeeded": 0,
                    "errored": 0,
                    "canceled": 0,
                    "expired": 0,
                }
                if ended:
                    for item in batch["results"]:
                        counts[item["result"]["type"]] += 1
                else:
                    counts["processing"] = len(batch["results"])
                return {
                    "id": batch["id"],
                    "type": "message_batch",
                    "processing_status": "ended" if ended else "in_progress",
                    "request_counts": counts,
                    "created_at": batch["created_at"],
                    "expires_at": batch["created_at"],
                    "ended_at": batch["created_at"] if ended else None,
                    "cancel_initiated_at": None,
                    "archived_at": None,
                    "results_url": f"{server.url}/v1/messages/batches/{batch['id']}/results"
                    if ended
                    else None,
                }

            def _batch_create(self, body: dict[str, Any]) -> None:
                if self._apply_fault(server._next_fault(body), body):
                    return
                requests = body.get("requests") or []
                ids = [r.get("custom_id") for r in requests]
                if not requests or len(set(ids)) != len(ids):
                    return self._error(400, body, "requests: custom_id values must be unique")
                results = []
                for r in requests:
                    params = r.get("params", {})
                    kind = (
                        server.batch_item_rule(r["custom_id"], params)
                        if server.batch_item_rule
                        else None
                    )
                    if kind is None and server._model_unknown(params):
                        kind = "errored_404"
                    if kind is None:
                        results.append(
                            {
                                "custom_id": r["custom_id"],
                                "result": {
                                    "type": "succeeded",
                                    "message": server._anthropic_message(params),
                                },
                            }
                        )
                    elif kind.startswith("errored"):
                        status = int(kind.split("_")[1]) if "_" in kind else 529
                        etype, msg = ERROR_TYPES[status]
                        results.append(
                            {
                                "custom_id": r["custom_id"],
                                "result": {
                                    "type": "errored",
                                    "error": {
                                        "type": "error",
                                        "error": {
                                            "type": etype,
                                            "message": msg.format(model=params.get("model", "")),
                                        },
                                    },
                                },
                            }
                        )
                    else:  # expired | canceled
                        results.append({"custom_id": r["custom_id"], "result": {"type": kind}})
                batch_id = f"msgbatch_{uuid.uuid4().hex[:20]}"
                batch = {
                    "id": batch_id,
                    "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                    "ready_at": time.monotonic() + server.batch_ready_after,
                    "results": results,
                    "canceled": False,
                }
                with server._lock:
                    server.batches[batch_id] = batch
                self._send(200, self._batch_json(batch))

            def _batch_list(self) -> None:
                """Newest first, ``limit`` per page, paged with ``after_id``."""
                from urllib.parse import parse_qs, urlsplit

                query = parse_qs(urlsplit(self.path).query)
                limit = int(query.get("limit", ["20"])[0])
                with server._lock:
                    newest_first = list(reversed(server.batches.values()))
                after = query.get("after_id", [None])[0]
                if after is not None:
                    ids = [b["id"] for b in newest_first]
                    newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
                page = newest_first[:limit]
                self._send(
                    200,
                    {
                        "data": [self._batch_json(b) for b in page],
                        "has_more": len(newest_first) > limit,
                        "first_id": page[0]["id"] if page else None,
                        "last_id": page[-1]["id"] if page else None,
                    },
                )

            def _batch_get(self, batch_id: str) -> None:
                batch = server.batches.get(batch_id)
                if batch is None:
                    return self._send(
                        404,
                        {
                            "type": "error",
                            "error": {"type": "not_found_error", "message": "batch not found"},
                        },
                    )
                self._send(200, self._batch_json(batch))

            def _batch_cancel(self, batch_id: str) -> None:
                batch = server.batches.get(batch_id)
                if batch is None:
                    return self._send(
                        404,
                        {
                            "type": "error",
                            "error": {"type": "not_found_error", "message": "batch not found"},
                        },
                    )
                if time.monotonic() < batch["ready_at"]:
                    batch["canceled"] = True
                    for item in batch["results"]:
                        item["result"] = {"type": "canceled"}
                self._send(200, self._batch_json(batch))

            def _batch_results(self, batch_id: str) -> None:
                batch = server.batches.get(batch_id)
                if batch is None:
                    return self._send(
                        404,
                        {
                            "type": "error",
                            "error": {"type": "not_found_error", "message": "batch not found"},
                        },
                    )
                lines = "".join(json.dumps(item) + "\n" for item in batch["results"]).encode()
                server.status_counts[200] += 1
                self.send_response(200)
                self.send_header("content-type", "application/binary")
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:20]}")
                self.send_header("content-length", str(len(lines)))
                self.end_headers()
                self.wfile.write(lines)

            # --- OpenAI chat completions ---
            def _chat(self, body: dict[str, Any]) -> None:
                if self._apply_fault(server._next_fault(body), body):
                    return
                if server._model_unknown(body):
                    return self._error(404, body, f"The model `{body.get('model')}` does not exist")
                n = int(body.get("n") or 1)
                if n > 1 and not server.support_n:
                    return self._error(400, body, "Only one completion choice is allowed")
                if server.latency:
                    time.sleep(server.latency)
                prompt = _last_user_text(body.get("messages", []))
                model = body.get("model", "")
                if body.get("stream"):
                    with server._lock:
                        server.served[prompt] += 1
                    text = answer_text(model, prompt, server._next_seq())
                    return self._chat_stream(
                        {**body, "_prompt": prompt}, text, len(prompt.split()) + 3
                    )
                choices = []
                field = server.reasoning_field
                thought_tokens = 0
                for i in range(n):
                    seq = server._next_seq()
                    message = {"role": "assistant", "content": answer_text(model, prompt, seq)}
                    if field:
                        message[field] = thinking_text(prompt, seq)
                        thought_tokens += len(message[field].split())
                    choices.append(
                        {"index": i, "message": message, "finish_reason": "stop", "logprobs": None}
                    )
                with server._lock:
                    server.served[prompt] += n
                out_tokens = thought_tokens + sum(
                    len(c["message"]["content"].split()) for c in choices
                )
                in_tokens = len(prompt.split()) + 3
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{uuid.uuid4().hex[:20]}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": model,
                        "choices": choices,
                        "usage": {
                            "prompt_tokens": in_tokens,
                            "completion_tokens": out_tokens,
                            "total_tokens": in_tokens + out_tokens,
                            **(
                                {"completion_tokens_details": {"reasoning_tokens": thought_tokens}}
                                if field
                                else {}
                            ),
                        },
                    },
                )

        return Handler
