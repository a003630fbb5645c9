"""A local OpenAI-compatible chat-completions server (what `ChatOpenAI(base_url=...)` talks to).

`POST /v1/chat/completions` with `Authorization: Bearer <key>`. It answers
- json_schema requests (`response_format.json_schema.name` names the schema) with a JSON string in
  `choices[0].message.content`;
- tool-call requests (`tools` + `tool_choice`) with `message.tool_calls` (the function name names
  the schema);
- plain requests with text (schema name "text");
- `stream: true` as SSE chunks ending in `data: [DONE]`, with a usage chunk (`choices: []`) when
  `stream_options.include_usage` is set.
Answers come from `script` (a queue per schema name; a dict is sent as JSON, a string as is, so a
test can send malformed output), else from `responders` (a deterministic answer computed from the
request: see `screening_answer` and `intake_answer`), else from a filler that satisfies the schema.
Usage is counted at 4 characters a token; a system message seen before counts as cached tokens,
the way provider-side prompt caching rewards a static prefix. Faults and latency come from
LocalService (`fail_next(Fault(status=429, headers={"retry-after": "1"}))`, ...).
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jobland.agents.intake import parse_search_message
from jobland.domain.skills import extract_skills
from tests.local_world.base import LocalService, Reply, Request

API_KEY = "sk-local-test"
Responder = Callable[["ChatRequest"], Any]


class ChatRequest:
    """One chat-completions request body, read the way the fake model needs it."""

    def __init__(self, body: dict[str, Any]):
        self.body = body
        self.messages: list[dict[str, Any]] = body.get("messages", [])

    def text(self, role: str) -> str:
        return "\n".join(_content_text(m.get("content")) for m in self.messages if m.get("role") == role)

    @property
    def schema_name(self) -> str:
        response_format = self.body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return response_format["json_schema"]["name"]
        if self.tool is not None:
            return self.tool["name"]
        return "text"

    @property
    def schema(self) -> dict[str, Any]:
        response_format = self.body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return response_format["json_schema"].get("schema", {})
        return (self.tool or {}).get("parameters", {})

    @property
    def tool(self) -> dict[str, Any] | None:
        tools = self.body.get("tools") or []
        if not tools:
            return None
        choice = self.body.get("tool_choice")
        wanted = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
        functions = [t["function"] for t in tools if t.get("type") == "function"]
        return next((f for f in functions if f["name"] == wanted), functions[0] if functions else None)


def _content_text(content: Any) -> str:
    if isinstance(content, list):  # content parts
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def fenced(text: str, tag: str) -> str:
    """The data a prompt fenced as <tag>...</tag> (empty when there is none)."""
    found = re.search(rf"<{tag}>\n?(.*?)\n?</{tag}>", text, re.DOTALL)
    return found.group(1) if found else ""


def screening_answer(request: ChatRequest) -> dict[str, Any]:
    """A plausible screener: coverage of the posting's skills by the profile's, nothing more."""
    posting = fenced(request.text("user"), "posting") or request.text("user")
    required = extract_skills(posting)
    have = set(extract_skills(request.text("system")))
    covered = [s for s in required if s in have]
    missing = [s for s in required if s not in have]
    score = round(40 + 55 * len(covered) / len(required)) if required else 45
    probability = "High" if score >= 70 else "Medium" if score >= 50 else "Low"
    return {
        "match_score": score,
        "probability": probability,
        "reasons": [f"The posting asks for {len(required)} skills; the profile shows {len(covered)}"],
        "missing_skills": missing,
        "deal_breakers": [],
    }


def intake_answer(request: ChatRequest) -> dict[str, Any]:
    """Reads the fenced chat message with the embedded rules (a model would read it better)."""
    parsed = parse_search_message(fenced(request.text("user"), "message") or request.text("user"))
    return parsed.model_dump(include={"query", "locations", "remote_ok", "min_salary"})


def schema_filler(request: ChatRequest) -> Any:
    """The smallest answer that satisfies the requested JSON schema (for schemas without a responder)."""
    schema = request.schema
    definitions = schema.get("$defs", {})

    def fill(node: dict[str, Any]) -> Any:
        if "$ref" in node:
            return fill(definitions[node["$ref"].rsplit("/", 1)[-1]])
        if "enum" in node:
            return node["enum"][0]
        if "anyOf" in node:
            options = node["anyOf"]
            return None if {"type": "null"} in options else fill(options[0])
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next(k for k in kind if k != "null")
        if kind == "object":
            return {name: fill(sub) for name, sub in node.get("properties", {}).items()}
        if kind == "array":
            return []
        if kind in ("integer", "number"):
            return node.get("minimum", 0)
        if kind == "boolean":
            return False
        return "unknown"

    return fill(schema) if schema else "OK"


class FakeOpenAI(LocalService):
    """The fake model server; `base_url` is what ChatOpenAI takes."""

    def __init__(self, api_key: str = API_KEY):
        super().__init__("openai")
        self.api_key = api_key
        self.script: dict[str, deque[Any]] = defaultdict(deque)
        self.responders: dict[str, Responder] = {
            "JobScreeningOutput": screening_answer,
            "SearchFields": intake_answer,
            "text": lambda request: "Hello from the local model.",
        }
        self._seen_prefixes: set[str] = set()
        self._ids = itertools.count(1)
        self.route("POST", "/v1/chat/completions", self._complete)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def answer(self, schema_name: str, *answers: Any) -> None:
        """Queue the next answers for a schema (dicts go out as JSON, strings as they are)."""
        self.script[schema_name].extend(answers)

    def chat_requests(self, schema_name: str | None = None) -> list[ChatRequest]:
        """The chat requests received (that reached a handler or a fault), optionally for one schema."""
        requests = [ChatRequest(r.json()) for r in self.requests if r.path == "/v1/chat/completions"]
        return [r for r in requests if schema_name is None or r.schema_name == schema_name]

    def _content(self, request: ChatRequest) -> str:
        name = request.schema_name
        if self.script[name]:
            answer = self.script[name].popleft()
        else:
            answer = self.responders.get(name, schema_filler)(request)
        return answer if isinstance(answer, str) else json.dumps(answer)

    def _usage(self, request: ChatRequest, content: str) -> dict[str, Any]:
        prompt = json.dumps(request.messages)
        system = request.text("system")
        cached = len(system) // 4 if system in self._seen_prefixes else 0
        self._seen_prefixes.add(system)
        prompt_tokens = len(prompt) // 4
        completion_tokens = max(1, len(content) // 4)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
        }

    def _complete(self, raw: Request) -> Reply:
        if raw.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(
                status=401,
                body={"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
            )
        request = ChatRequest(raw.json())
        content = self._content(request)
        usage = self._usage(request, content)
        completion_id = f"chatcmpl-local-{next(self._ids)}"
        tool = request.tool
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        finish_reason = "stop"
        if tool is not None:
            call = {
                "id": f"call_{completion_id}",
                "type": "function",
                "function": {"name": tool["name"], "arguments": content},
            }
            message = {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}
            finish_reason = "tool_calls"
        head = {
            "id": completion_id,
            "created": 1796000000,
            "model": request.body.get("model"),
            "system_fingerprint": "local",
        }
        if request.body.get("stream"):
            include_usage = (request.body.get("stream_options") or {}).get("include_usage", False)
            chunks = _stream_chunks(head, message, finish_reason, usage if include_usage else None)
            data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            return Reply(raw=data.encode(), headers={"Content-Type": "text/event-stream"})
        body = {
            **head,
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
            "usage": usage,
        }
        return Reply(body=body, headers={"x-ratelimit-remaining-requests": "9999"})


def _stream_chunks(
    head: dict[str, Any], message: dict[str, Any], finish_reason: str, usage: dict[str, Any] | None
) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {**head, "object": "chat.completion.chunk", "choices": [choice]}

    yield chunk({"role": "assistant", "content": ""})
    if message.get("tool_calls"):
        yield chunk({"tool_calls": [{"index": 0, **message["tool_calls"][0]}]})
    else:
        content = message["content"]
        for start in range(0, len(content), 16):
            yield chunk({"content": content[start : start + 16]})
    yield chunk({}, finish_reason)
    if usage is not None:
        yield {**head, "object": "chat.completion.chunk", "choices": [], "usage": usage}


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()
