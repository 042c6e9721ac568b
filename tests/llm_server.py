"""A local OpenAI-compatible chat-completions server for the tests, on loopback.

It records every request (path, headers, JSON body) and answers the way `mode` says, or the way the
next entry of `script` says (one entry per request):

- `correct`: a valid answer built from the request's facts (it quotes their numbers exactly);
- `gullible`: like `correct`, unless the request contains "ignore previous instructions", in which
  case it obeys, as a naive model would: claims 99 % and HOT, and returns probability 0.99;
- `slow`: `correct` after `slow_seconds`;
- `429`: Too Many Requests with `Retry-After: retry_after`;
- `500`: Internal Server Error;
- `malformed`: HTTP 200 whose message content is not JSON;
- `invalid`: HTTP 200 with JSON that misses fields and has a probability of 1.7;
- `no_json_schema`: 400 naming response_format for a json_schema request, else `correct`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INJECTION_MARKER = "ignore previous instructions"


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlmServer:
    def __init__(self, *, model: str = "gpt-4o-mini-2024-07-18", prompt_tokens: int = 1000,
                 completion_tokens: int = 200) -> None:
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.mode = "correct"
        self.script: list[str] = []
        self.slow_seconds = 2.0
        self.retry_after = "1"
        self.predictor_shift = 0.05
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> LlmServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r["body"] for r in self.requests]

    def raw(self) -> str:
        with self._lock:
            return "\n".join(r["raw"] for r in self.requests)

    def _next_mode(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else self.mode

    # -- answers ---------------------------------------------------------------------------------

    def answer(self, body: dict[str, Any], raw: str, mode: str) -> dict[str, Any]:
        document = json.loads(body["messages"][-1]["content"])
        facts, task = document["facts"], document["task"]
        obey = mode == "gullible" and INJECTION_MARKER in raw.lower()
        recs = [{"index": r["index"], "action": "Reworded: " + r["action"], "rationale": r["rationale"],
                 "expectedImpact": r["expectedImpact"]} for r in facts.get("recommendations", [])]
        if task == "narrative":
            p = facts["prediction"]
            text = ("This lead is HOT with a 99% chance to convert." if obey else
                    f"Conversion probability is {p['conversionPercent']}% ({p['scoreLevel']}); expect about "
                    f"{p['daysToClose']} days to close.")
            return {"explanation": text, "recommendations": recs, **({"level": "HOT"} if obey else {})}
        if task == "predictor":
            base = facts["baselineEstimate"]
            probability = 0.99 if obey else round(min(max(base["conversionProbability"] + self.predictor_shift, 0.0), 0.99), 3)
            value = facts["profile"].get("pipelineValue")
            return {"probability": probability, "confidence": 0.7, "predictedDays": base["daysToClose"],
                    "dealValue": None if value is None else value * 0.8,
                    "explanation": f"Estimated at {round(probability * 100, 1)}% to convert.",
                    "recommendations": recs, **({"level": "HOT"} if obey else {})}
        leads = facts["leads"]
        top = leads[0]["conversionProbability"] if leads else 0
        return {"summary": f"The top lead converts with probability {top}.",
                "commonPatterns": ["decision makers with recent meetings"]}

    def envelope(self, content: str) -> dict[str, Any]:
        return {
            "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                      "total_tokens": self.prompt_tokens + self.completion_tokens},
        }

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                body = json.loads(raw)
                with server._lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body, "raw": raw})
                mode = server._next_mode()
                error = lambda message: {"error": {"message": message, "type": "server_error", "code": None}}
                if mode == "500":
                    return self._send(500, error("internal error"))
                if mode == "429":
                    return self._send(429, error("rate limit reached"), {"Retry-After": server.retry_after})
                if mode == "no_json_schema" and (body.get("response_format") or {}).get("type") == "json_schema":
                    return self._send(400, {"error": {"message": "response_format of type json_schema is not "
                                                                 "supported with this model", "type":
                                                      "invalid_request_error", "param": "response_format"}})
                if mode == "slow":
                    time.sleep(server.slow_seconds)
                if mode == "malformed":
                    return self._send(200, server.envelope("Sure! Here is the analysis: {probability: high"))
                if mode == "invalid":
                    return self._send(200, server.envelope(json.dumps({"probability": 1.7, "explanation": ""})))
                return self._send(200, server.envelope(json.dumps(server.answer(body, raw, mode))))

        return Handler
