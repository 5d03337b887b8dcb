"""``orchestrouter judge``: labels the store's unjudged pairs with an OpenAI-compatible judge model.

Each pair is asked in both orders (``judge_template``); the two verdicts make one Judgment, written as
soon as both are in. The store writes a judge model's judgment of a pair at most once, so a run that is
stopped (or killed) and started again asks only about the pairs it had not written, and two judges on
one store never both count. A pair whose call keeps failing (429, 5xx, timeouts, past the retries) or
whose reply has no verdict is left unjudged for the next run; a refused key, an unknown path or an
unreachable endpoint ends the run with one line.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from tqdm import tqdm

from orchestrouter.store import Judgment, Store, StoredPair, UnknownRequest

from .judge_template import judge_messages, parse_verdict, winner

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
# Pairs asked for per store query: enough to keep the judge busy, few enough to resume cheaply.
BATCH = 64
BACKOFF_CAP_S = 20.0


class JudgeError(Exception):
    """JudgeError: the judge cannot be used at all (bad URL, key refused, unreachable); one line, no secret."""


class PairFailed(Exception):
    """PairFailed: the judge could not judge this pair; it stays unjudged for the next run."""


class RetryableError(PairFailed):
    """RetryableError: this call may succeed if asked again (429, 5xx, timeout)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class JudgeSettings:
    """JudgeSettings: the judge endpoint and how hard to press it."""

    base_url: str
    model: str
    api_key: str = ""
    concurrency: int = 8
    limit: int | None = None
    price_in: float = 0.0  # USD per 1M prompt tokens
    price_out: float = 0.0  # USD per 1M completion tokens
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 0.5

    def __post_init__(self) -> None:
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"--judge-base-url must be an http(s) URL such as https://host/v1, got {self.base_url!r}")
        if not self.model.strip():
            raise ValueError("--judge-model must name the judge model")
        if self.concurrency < 1:
            raise ValueError(f"--concurrency must be >= 1, got {self.concurrency}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be >= 1, got {self.limit}")
        if self.price_in < 0 or self.price_out < 0:
            raise ValueError("--judge-price-in and --judge-price-out must be >= 0")

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_in + completion_tokens * self.price_out) / 1e6


@dataclass
class JudgeReport:
    """JudgeReport: what one run did."""

    judged: int = 0
    already_judged: int = 0
    no_verdict: int = 0
    failed: int = 0
    purged: int = 0
    cost_usd: float = 0.0
    winners: dict[str, int] = field(default_factory=lambda: {"small": 0, "premium": 0, "tie": 0})

    def summary(self, model: str) -> str:
        w = self.winners
        return (
            f"judged {self.judged} pairs with {model}: premium better {w['premium']}, small better {w['small']}, "
            f"tie {w['tie']}; left for the next run: {self.no_verdict} without a verdict, {self.failed} failed; "
            f"already judged elsewhere: {self.already_judged}; judge cost ${self.cost_usd:.4f}"
        ) + (f"; purged from the store meanwhile: {self.purged}" if self.purged else "")


class JudgeClient:
    """JudgeClient: one chat completion per verdict, retried with jittered exponential backoff."""

    def __init__(self, settings: JudgeSettings, client: httpx.AsyncClient) -> None:
        self._s = settings
        self._client = client
        self._url = settings.base_url.rstrip("/") + "/chat/completions"

    async def ask(self, messages: list[dict[str, str]]) -> tuple[str, float]:
        """The judge's reply and its cost; raises JudgeError, or PairFailed (RetryableError once retries are spent)."""
        for attempt in range(self._s.max_retries + 1):
            try:
                return await self._once(messages)
            except RetryableError as exc:
                if attempt == self._s.max_retries:
                    raise
                delay = self._s.backoff_s * 2**attempt * (0.5 + random.random())
                await asyncio.sleep(min(BACKOFF_CAP_S, max(delay, exc.retry_after_s or 0.0)))
        raise AssertionError("unreachable")

    async def _once(self, messages: list[dict[str, str]]) -> tuple[str, float]:
        headers = {"Authorization": f"Bearer {self._s.api_key}"} if self._s.api_key else {}
        body = {"model": self._s.model, "messages": messages, "temperature": 0.0}
        try:
            response = await self._client.post(self._url, json=body, headers=headers, timeout=self._s.timeout_s)
        except httpx.TimeoutException as exc:
            raise RetryableError(f"judge call timed out after {self._s.timeout_s:g}s") from exc
        except httpx.TransportError as exc:
            raise JudgeError(f"cannot reach the judge at {self._s.base_url}: {type(exc).__name__}") from exc
        if response.status_code in (401, 403):
            raise JudgeError(f"the judge at {self._s.base_url} refused the API key (HTTP {response.status_code})")
        if response.status_code == 404:
            raise JudgeError(f"the judge at {self._s.base_url} has no chat completions endpoint or model (HTTP 404)")
        if response.status_code in RETRY_STATUSES:
            raise RetryableError(f"judge HTTP {response.status_code}", _retry_after(response))
        if response.status_code != 200:
            # Another 4xx (a pair too long for the judge's context, say) would fail again: not retried.
            raise PairFailed(f"judge HTTP {response.status_code}: {_error_message(response)}")
        try:
            data = response.json()
            text = str(data["choices"][0]["message"]["content"] or "")
            usage = data.get("usage") or {}
            cost = self._s.cost(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise RetryableError("the judge's reply is not a chat completion") from exc
        return text, cost


def _error_message(response: httpx.Response) -> str:
    """The error's message from an OpenAI-style error body, cut short; the status text otherwise."""
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.reason_phrase
    return message[:200]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


async def _judge_pair(client: JudgeClient, pair: StoredPair, model: str) -> tuple[Judgment | None, float]:
    """Both orders asked at once; the judgment (None when either reply has no verdict) and the calls' cost."""
    # The question is the scored text (the last user message), as in MT-Bench's single-turn template.
    question, small, premium = pair.request.query, pair.answer("small").text, pair.answer("premium").text
    (first, cost_1), (second, cost_2) = await asyncio.gather(
        client.ask(judge_messages(question, small, premium)),
        client.ask(judge_messages(question, premium, small)),
    )
    small_first, premium_first = parse_verdict(first), parse_verdict(second)
    if small_first is None or premium_first is None:
        return None, cost_1 + cost_2
    judgment = Judgment(
        request_id=pair.request.request_id,
        judge_model=model,
        winner=winner(small_first, premium_first),
        verdicts=(small_first, premium_first),
        cost_usd=cost_1 + cost_2,
        created_at=time.time(),
    )
    return judgment, judgment.cost_usd


async def judge_store(store: Store, settings: JudgeSettings, progress: bool = True) -> JudgeReport:
    """Judges the store's unjudged pairs (at most ``settings.limit``) and writes each judgment once."""
    report = JudgeReport()
    left_unjudged: set[str] = set()
    gate = asyncio.Semaphore(settings.concurrency)
    bar = tqdm(total=settings.limit, unit="pair", desc=f"judging with {settings.model}", disable=not progress)

    async def one(client: JudgeClient, pair: StoredPair) -> None:
        async with gate:
            try:
                judgment, cost = await _judge_pair(client, pair, settings.model)
            except PairFailed as exc:
                report.failed += 1
                left_unjudged.add(pair.request.request_id)
                bar.write(f"pair {pair.request.request_id}: {exc} (left for the next run)", file=sys.stderr)
                return
        report.cost_usd += cost
        if judgment is None:
            report.no_verdict += 1
            left_unjudged.add(pair.request.request_id)
            return
        try:
            written = await asyncio.to_thread(store.record_judgment, judgment)
        except UnknownRequest:
            report.purged += 1  # deleted (retention, purge) while it was being judged
            return
        if written:
            report.judged += 1
            report.winners[judgment.winner] += 1
        else:
            report.already_judged += 1
        bar.update(1)
        bar.set_postfix(cost=f"${report.cost_usd:.4f}", refresh=False)

    # One concurrent pair per slot; a pair takes two calls, so the endpoint sees up to 2x concurrency.
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=2 * settings.concurrency)) as http:
        client = JudgeClient(settings, http)
        try:
            while settings.limit is None or report.judged + report.already_judged < settings.limit:
                done = report.judged + report.already_judged
                want = BATCH if settings.limit is None else min(BATCH, settings.limit - done)
                batch = await asyncio.to_thread(store.unjudged_pairs, settings.model, want + len(left_unjudged))
                batch = [p for p in batch if p.request.request_id not in left_unjudged][:want]
                if not batch:
                    break
                tasks = [asyncio.create_task(one(client, p)) for p in batch]
                try:
                    await asyncio.gather(*tasks)
                finally:
                    for t in tasks:
                        t.cancel()
        finally:
            bar.close()
    return report
