"""The simulated deployment's world (``make loop``): its traffic, a quality rule hidden from the router,
fake small and premium endpoints that follow it, and a fake judge that reads MT-Bench's pair-v2 template.

The rule: both tiers answer every topic well except one, personal tax questions, which only the
premium tier answers well. Nothing the router was trained on knows that; only judged traffic shows it.
The endpoints are a minimal OpenAI-compatible HTTP/1.1 server on loopback (chat completions, plain or
streamed), run on a thread of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestrouter.tools.fake_wire import http_response, read_request

HARD_TOPIC = "tax"
GOOD_ANSWER = "Here is a careful and correct answer, step by step, with the details that matter."
POOR_ANSWER = "I think it depends; you may want to look this up elsewhere."

# (topic, templates, fillers): every template with every filler is one distinct request.
_TOPICS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "tax",
        (
            "Can I deduct {x} on my income tax return this year?",
            "How is {x} taxed if I file jointly with my spouse?",
            "Do I owe capital gains tax on {x}, and how do I report it?",
            "What tax forms do I need for {x}?",
            "Is {x} tax deductible for a self-employed freelancer?",
            "How do I amend last year's tax return to include {x}?",
        ),
        (
            "home office expenses",
            "student loan interest",
            "a rental property",
            "crypto staking rewards",
            "medical expenses",
            "charitable donations",
            "a car used for work",
            "selling inherited stock",
            "childcare costs",
            "foreign pension income",
            "a side business loss",
            "retirement account withdrawals",
        ),
    ),
    (
        "cooking",
        (
            "What is a good recipe for {x}?",
            "How long should I cook {x}?",
            "What can I serve with {x} for dinner guests?",
            "How do I store leftover {x}?",
            "Give me a vegetarian twist on {x}.",
            "What spices go well with {x}?",
        ),
        (
            "roast chicken",
            "lentil soup",
            "banana bread",
            "risotto",
            "grilled salmon",
            "pancakes",
            "chili con carne",
            "fried rice",
            "apple pie",
            "mashed potatoes",
            "pad thai",
            "tomato sauce",
        ),
    ),
    (
        "travel",
        (
            "What should I see on a weekend trip to {x}?",
            "What is the best time of year to visit {x}?",
            "How do I get around {x} without a car?",
            "What should I pack for a week in {x}?",
            "Where should I stay in {x} on a budget?",
            "What local food should I try in {x}?",
        ),
        (
            "Lisbon",
            "Kyoto",
            "Vancouver",
            "Marrakesh",
            "Prague",
            "Buenos Aires",
            "Edinburgh",
            "Hanoi",
            "Cape Town",
            "Reykjavik",
            "Istanbul",
            "Melbourne",
        ),
    ),
    (
        "writing",
        (
            "Write a short, friendly email about {x}.",
            "Help me write a toast about {x}.",
            "Suggest a catchy title for a blog post about {x}.",
            "Rewrite this sentence to sound more polite: we need to talk about {x}.",
            "Write a haiku about {x}.",
            "Draft a short announcement about {x} for my team.",
        ),
        (
            "a colleague's retirement",
            "the office move",
            "our new puppy",
            "a team offsite",
            "the spring garden",
            "a product launch",
            "a birthday party",
            "the holiday schedule",
            "learning to swim",
            "a charity run",
            "the new coffee machine",
            "a neighbourhood cleanup",
        ),
    ),
    (
        "code",
        (
            "Write a Python function that handles {x}.",
            "Why does my JavaScript code fail when {x}?",
            "How do I write a unit test for {x}?",
            "Explain how to implement {x} in Go.",
            "What is the time complexity of {x}?",
            "Refactor this loop into a cleaner version for {x}.",
        ),
        (
            "parsing a CSV file",
            "reversing a linked list",
            "merging two sorted arrays",
            "retrying an HTTP request",
            "debouncing user input",
            "reading a config file",
            "validating an email address",
            "paginating API results",
            "caching function results",
            "counting word frequencies",
            "flattening nested lists",
            "formatting dates",
        ),
    ),
)


@dataclass(frozen=True)
class Prompt:
    """Prompt: a request's text and its topic (the topic is the hidden rule's, never the router's)."""

    text: str
    topic: str

    @property
    def hard(self) -> bool:
        return self.topic == HARD_TOPIC


def traffic(seed: int = 0) -> list[Prompt]:
    """Every request the simulated users can send, shuffled (360: 72 a topic)."""
    prompts = [
        Prompt(template.format(x=filler), topic)
        for topic, templates, fillers in _TOPICS
        for template, filler in itertools.product(templates, fillers)
    ]
    random.Random(seed).shuffle(prompts)
    return prompts


def _topic_of(text: str) -> str:
    for topic, templates, fillers in _TOPICS:
        for template, filler in itertools.product(templates, fillers):
            if template.format(x=filler) == text:
                return topic
    return ""


def tier_reply(tier: str) -> Callable[[dict], str]:
    """The answer a tier gives to a chat request: poor only from the small tier on the hard topic."""

    def reply(body: dict) -> str:
        messages = body.get("messages") or [{}]
        question = str(messages[-1].get("content", ""))
        good = tier == "premium" or _topic_of(question) != HARD_TOPIC
        return f"[{tier}] {GOOD_ANSWER if good else POOR_ANSWER}"

    return reply


_ANSWER = re.compile(r"\[The Start of Assistant ([AB])'s Answer\]\n(.*?)\n\[The End of Assistant \1's Answer\]", re.S)


def judge_reply(body: dict) -> str:
    """The fake judge: reads both answers out of the pair-v2 user message and prefers the good one."""
    messages = body.get("messages") or []
    user = next((str(m.get("content", "")) for m in messages if m.get("role") == "user"), "")
    answers = dict(_ANSWER.findall(user))
    if set(answers) != {"A", "B"} or not user.startswith("[User Question]\n"):
        return "I cannot find two answers to compare."
    good = {side: GOOD_ANSWER in text for side, text in answers.items()}
    verdict = "C" if good["A"] == good["B"] else "A" if good["A"] else "B"
    return f"Comparing the two responses on accuracy and helpfulness. Final verdict: [[{verdict}]]"


def question_of(body: dict) -> str:
    """The user question inside a pair-v2 judge request (to count requests per pair)."""
    user = next((str(m.get("content", "")) for m in body.get("messages") or [] if m.get("role") == "user"), "")
    return user.removeprefix("[User Question]\n").split("\n\n[The Start of Assistant A", 1)[0]


@dataclass
class FakeLLM:
    """FakeLLM: an OpenAI-compatible chat endpoint on 127.0.0.1 answering with ``reply(body)``."""

    name: str
    reply: Callable[[dict], str]
    port: int = 0
    calls: int = 0
    bodies: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"fake-{self.name}", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FakeLLM:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request := await read_request(reader):
                path, _, raw = request
                if not path.endswith("/chat/completions"):
                    self._write(writer, 404, "application/json", b'{"error":{"message":"no such route"}}')
                    continue
                body = json.loads(raw or b"{}")
                self.calls += 1
                self.bodies.append(body)
                text = self.reply(body)
                self._answer(writer, body, text)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _answer(self, writer: asyncio.StreamWriter, body: dict, text: str) -> None:
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split())}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        model = body.get("model", self.name)
        if not body.get("stream"):
            message = {"role": "assistant", "content": text}
            completion = {
                "id": "chatcmpl-loop",
                "object": "chat.completion",
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage,
            }
            self._write(writer, 200, "application/json", json.dumps(completion).encode())
            return
        events = [
            {"model": model, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}}]},
            {"model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"model": model, "choices": [], "usage": usage},
        ]
        data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        self._write(writer, 200, "text/event-stream", data.encode())

    @staticmethod
    def _write(writer: asyncio.StreamWriter, status: int, content_type: str, data: bytes) -> None:
        writer.write(http_response(status, data, content_type))
