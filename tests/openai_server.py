"""A real HTTP server on 127.0.0.1 that speaks OpenAI's API, with fault injection, for tests and bench.

It is not a mock of the SDK: tests drive it through the real `openai` client over TCP.
* `/v1/chat/completions`: `responder(messages) -> str` writes each answer; usage counts about
  4 characters a token. Options: `latency_s`; `faults`, a dict of probabilities
  (`{"429": .05, "500": .05, "stall": .05, "malformed": .05}`, seeded by `seed`) or a callable
  `(body, n) -> fault or None`; 429s carry `Retry-After` (`retry_after_s`); a stall sleeps
  `stall_s` before answering; malformed is a 200 whose content is not the requested format;
  badjson is a 200 whose body is cut short; `int`, `null` and `image` are 200s whose `content` is
  42, null or a list of non-text parts; `parts` is a good answer sent as a list of text parts;
  `400` refuses the item with a context-length error (`refusal` sets the message); `drop`
  closes the connection without an answer;
  `rpm` caps requests per minute (a token bucket with one second of burst, 429 beyond it);
  `models` (a set) answers 404 for other models; temperature > 2 answers 400; a wrong key 401.
* `/v1/files` and `/v1/batches` (Batch API): uploads, batches that complete after `batch_delay_s`
  with the responder's answers, output files.
* Every request is logged (`log`: time, path, status, fault, `key` of the chat request) and every
  answered chat body kept (`requests`), so tests can assert exactly-once; `settle()` waits until
  no request is being handled (a stalled one is logged only when its stall ends).

    python -m tests.openai_server --latency 0.2 --rpm 600     # prints its base URL, serves until killed
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import hashlib
import json
import math
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MALFORMED = "I am not sure. The answer might be"
# 200s that carry no usable answer (not counted as answered).
UNUSABLE = ("stall", "badjson", "int", "null", "image")


def chat_key(body: dict) -> str:
    """Identity of a chat request as the server sees it (what a repeated request repeats)."""
    fields = {k: body.get(k) for k in ("model", "messages", "temperature", "max_tokens")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


class OpenAIServer:
    def __init__(self, responder=None, api_key: str = "sk-test-key", *, latency_s: float = 0.0, faults=None,
                 seed: int = 0, retry_after_s: float = 1.0, stall_s: float = 5.0, rpm: int | None = None,
                 models: set | None = None, batch_delay_s: float = 0.0, port: int = 0,
                 refusal: str = "This model's maximum context length is 128000 tokens; your messages are longer"):
        self.responder = responder or (lambda messages: "ok")
        self.refusal = refusal
        self.api_key, self.latency_s, self.faults = api_key, latency_s, faults
        self.retry_after_s, self.stall_s, self.models, self.batch_delay_s = retry_after_s, stall_s, models, batch_delay_s
        self.requests: list[dict] = []   # chat bodies answered with 200
        self.log: list[dict] = []        # every request
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self._rng, self._lock, self._n = random.Random(seed), threading.Lock(), 0
        self._in_flight = 0                # requests being handled now (a stall holds one for stall_s)
        self._rate = rpm / 60 if rpm else None
        self._bucket, self._last = (max(1.0, self._rate) if rpm else 0.0), time.monotonic()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms Nagle wait

            def log_message(self, *args):  # keep test output clean
                pass

            def _reply(self, status: int, body, headers: dict | None = None, raw: bytes | None = None,
                       content_type: str | None = None) -> None:
                data = raw if raw is not None else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type or (
                        "application/json" if raw is None else "application/octet-stream"))
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (e.g. its timeout passed during a stall)

            def _error(self, status: int, message: str, headers: dict | None = None) -> None:
                self._reply(status, {"error": {"message": message, "type": "error", "code": None}}, headers)

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    server._record(self.path, 401)
                    self._error(401, "Incorrect API key provided")
                    return False
                return True

            def do_GET(self):
                with server._handling():
                    self._get()

            def do_POST(self):
                with server._handling():
                    self._post()

            def _get(self):
                if self.path == "/_stats":
                    return self._reply(200, server.stats())
                if not self._authorized():
                    return
                parts = self.path.strip("/").split("/")
                server._record(self.path, 200)
                if parts[:2] == ["v1", "batches"] and len(parts) == 3 and parts[2] in server.batches:
                    return self._reply(200, server.batches[parts[2]])
                if parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[2] in server.files:
                    return self._reply(200, None, raw=server.files[parts[2]])
                self._error(404, f"no route {self.path}")

            def _post(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not self._authorized():
                    return
                if self.path == "/v1/chat/completions":
                    return server._chat(self, json.loads(raw))
                if self.path == "/v1/files":
                    return self._reply(200, server._upload(self.headers["Content-Type"], raw))
                if self.path == "/v1/batches":
                    return self._reply(200, server._create_batch(json.loads(raw)))
                self._error(404, f"no route {self.path}")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler, bind_and_activate=False)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 256  # many clients connect at once
        self.httpd.server_bind()
        self.httpd.server_activate()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_port}/v1"

    # -- bookkeeping -------------------------------------------------------------------------
    def _record(self, path: str, status: int, fault: str | None = None, key: str | None = None) -> None:
        with self._lock:
            self.log.append({"t": time.time(), "path": path, "status": status, "fault": fault, "key": key})

    @contextlib.contextmanager
    def _handling(self):
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def settle(self, timeout_s: float = 60.0) -> None:
        """Wait until no request is being handled, e.g. until stalls the client gave up on are logged."""
        deadline = time.monotonic() + timeout_s
        while self._in_flight:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self._in_flight} requests still being handled after {timeout_s:g} s")
            time.sleep(0.02)

    def answered_keys(self) -> list[str]:
        """Keys of chat requests given a usable answer (online and batch), in order, repeats kept.

        A stalled answer arrives after the client gave up and a cut-short body is unreadable:
        neither counts as answered, so their retries are not repeats."""
        return [e["key"] for e in self.log
                if e["key"] and e["status"] == 200 and e["fault"] not in UNUSABLE]

    def stats(self) -> dict:
        with self._lock:
            by_status: dict[str, int] = {}
            for e in self.log:
                by_status[str(e["status"])] = by_status.get(str(e["status"]), 0) + 1
            ok_times = [e["t"] for e in self.log if e["key"] and e["status"] == 200
                        and e["fault"] not in UNUSABLE]
        return {"by_status": by_status, "ok_times": ok_times}

    def _take_token(self) -> float:
        """0 if a request may pass the RPM cap now, else seconds until it may."""
        with self._lock:
            now = time.monotonic()
            self._bucket = min(max(1.0, self._rate), self._bucket + (now - self._last) * self._rate)
            self._last = now
            if self._bucket >= 1:
                self._bucket -= 1
                return 0.0
            return (1 - self._bucket) / self._rate

    def _fault(self, body: dict) -> str | None:
        with self._lock:
            self._n += 1
            n = self._n
            if callable(self.faults):
                return self.faults(body, n)
            roll = self._rng.random()
        for name, p in (self.faults or {}).items():
            if roll < p:
                return name
            roll -= p
        return None

    def _completion(self, body: dict, text, fault: str | None = None) -> dict:
        prompt = "".join(m["content"] for m in body["messages"])
        content = {"int": 42, "null": None, "image": [{"type": "image_url", "image_url": {"url": "x"}}],
                   "parts": [{"type": "text", "text": text[: len(text) // 2]},
                             {"type": "text", "text": text[len(text) // 2:]}]}.get(fault, text)
        return {"id": f"chatcmpl-{len(self.log)}", "object": "chat.completion", "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": _tokens(prompt), "completion_tokens": _tokens(text),
                          "total_tokens": _tokens(prompt) + _tokens(text)}}

    # -- endpoints ---------------------------------------------------------------------------
    def _chat(self, handler, body: dict) -> None:
        key = chat_key(body)
        if self.models is not None and body["model"] not in self.models:
            self._record(handler.path, 404, key=key)
            return handler._error(404, f"The model `{body['model']}` does not exist")
        if (body.get("temperature") or 0) > 2:
            self._record(handler.path, 400, key=key)
            return handler._error(400, "temperature must be at most 2")
        if self._rate:
            wait = self._take_token()
            if wait:
                self._record(handler.path, 429, "rpm", key)
                return handler._error(429, "Rate limit reached (requests per minute)",
                                      {"retry-after-ms": str(int(wait * 1000) + 1), "Retry-After": str(math.ceil(wait))})
        fault = self._fault(body)
        if fault == "429":
            self._record(handler.path, 429, fault, key)
            return handler._error(429, "Rate limit reached", {"Retry-After": f"{self.retry_after_s:g}"})
        if fault == "500":
            self._record(handler.path, 500, fault, key)
            return handler._error(500, "The server had an error while processing your request")
        if fault == "400":
            self._record(handler.path, 400, fault, key)
            return handler._error(400, self.refusal)
        if fault == "drop":  # the connection dies before an answer
            self._record(handler.path, 0, fault, key)
            handler.close_connection = True
            handler.connection.shutdown(2)
            return None
        if fault == "badjson":  # a proxy cut the body short
            self._record(handler.path, 200, fault, key)
            return handler._reply(200, None, raw=b'{"id": "chatcmpl-cut", "choices": [',
                                  content_type="application/json")
        time.sleep(self.stall_s if fault == "stall" else self.latency_s)
        text = MALFORMED if fault == "malformed" else self.responder(body["messages"])
        with self._lock:
            if fault != "stall":  # a stalled answer arrives after the client gave up
                self.requests.append(body)
        self._record(handler.path, 200, fault, key)
        handler._reply(200, self._completion(body, text, fault))

    def _upload(self, content_type: str, raw: bytes) -> dict:
        message = email.parser.BytesParser().parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        parts = {p.get_param("name", header="content-disposition"): p for p in message.get_payload()}
        data = parts["file"].get_payload(decode=True)
        with self._lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = data
        self._record("/v1/files", 200)
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": parts["file"].get_filename() or "upload.jsonl", "purpose": "batch", "status": "processed"}

    def _create_batch(self, body: dict) -> dict:
        with self._lock:
            batch_id = f"batch-{len(self.batches) + 1}"
            batch = {"id": batch_id, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                     "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                     "status": "in_progress", "output_file_id": None, "error_file_id": None,
                     "created_at": int(time.time()), "request_counts": {"total": 0, "completed": 0, "failed": 0}}
            self.batches[batch_id] = batch
        self._record("/v1/batches", 200)
        threading.Thread(target=self._run_batch, args=(batch,), daemon=True).start()
        return dict(batch)

    def _run_batch(self, batch: dict) -> None:
        time.sleep(self.batch_delay_s)
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].decode().splitlines() if x.strip()]
        out = []
        for i, line in enumerate(lines):
            body = line["body"]
            fault = self._fault(body)
            text = MALFORMED if fault == "malformed" else self.responder(body["messages"])
            self._record("batch:/v1/chat/completions", 200, fault, chat_key(body))
            out.append(json.dumps({"id": f"batch_req_{i}", "custom_id": line["custom_id"], "error": None,
                                   "response": {"status_code": 200, "request_id": f"req_{i}",
                                                "body": self._completion(body, text, fault)}}))
        with self._lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = ("\n".join(out) + "\n").encode()
            batch.update(status="completed", output_file_id=file_id, completed_at=int(time.time()),
                         request_counts={"total": len(lines), "completed": len(lines), "failed": 0})

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible test server on 127.0.0.1 (for bench/tests)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each chat answer")
    parser.add_argument("--rpm", type=int, default=None, help="requests per minute cap (429 beyond)")
    parser.add_argument("--api-key", default="sk-test-key")
    args = parser.parse_args()
    sys.setswitchinterval(0.0005)  # many handler threads: hand the GIL over quickly to the one whose sleep ended
    server = OpenAIServer(api_key=args.api_key, latency_s=args.latency, rpm=args.rpm)
    print(server.base_url, flush=True)
    server.httpd.serve_forever()


if __name__ == "__main__":
    main()
