"""Dispatch: calls the chosen tier's OpenAI-compatible endpoint."""

from __future__ import annotations

import httpx
import openai

from router_service.config import TierConfig
from router_service.model import ChatTurn, Completion, GenerationParams, Usage
from router_service.runtime.errors import (DeadlineExceeded, FailedPrecondition, ResourceExhausted,
                                           Unauthenticated, Unavailable)


class Endpoint:
    """Endpoint: one tier's OpenAI-compatible chat endpoint over a pooled HTTP client."""

    def __init__(self, config: TierConfig) -> None:
        self.config = config
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(config.total_timeout_s, connect=config.connect_timeout_s),
            limits=httpx.Limits(max_connections=config.max_concurrency,
                                max_keepalive_connections=config.max_concurrency),
            verify=config.ca_bundle or True)
        self._client = openai.AsyncOpenAI(base_url=config.base_url or "http://unconfigured.invalid/v1",
                                          api_key=config.api_key or "unused", http_client=self._http,
                                          max_retries=0)

    async def complete(self, messages: tuple[ChatTurn, ...], params: GenerationParams,
                       timeout_s: float) -> Completion:
        if not self.config.configured:
            raise FailedPrecondition(f"the {self.config.tier} tier has no endpoint configured "
                                     f"(set ORCHESTROUTER_{self.config.tier.upper()}_BASE_URL)")
        try:
            reply = await self._client.chat.completions.create(
                model=self.config.model, messages=[{"role": m.role, "content": m.content} for m in messages],
                timeout=timeout_s, **params.as_openai_kwargs())
        except openai.APITimeoutError as exc:
            raise DeadlineExceeded(f"{self.config.tier} endpoint timed out") from exc
        except openai.AuthenticationError as exc:
            raise Unauthenticated(f"{self.config.tier} endpoint rejected credentials") from exc
        except openai.PermissionDeniedError as exc:
            raise Unauthenticated(f"{self.config.tier} endpoint rejected credentials") from exc
        except openai.RateLimitError as exc:
            raise ResourceExhausted(f"{self.config.tier} endpoint rate-limited the request") from exc
        except openai.APIStatusError as exc:
            raise Unavailable(f"{self.config.tier} endpoint answered {exc.status_code}") from exc
        except openai.APIConnectionError as exc:
            raise Unavailable(f"{self.config.tier} endpoint unreachable") from exc
        choice = reply.choices[0]
        usage = Usage()
        if reply.usage is not None:
            usage.prompt_tokens = reply.usage.prompt_tokens
            usage.completion_tokens = reply.usage.completion_tokens
            usage.cost_usd = (usage.prompt_tokens * self.config.price_input_per_mtok
                              + usage.completion_tokens * self.config.price_output_per_mtok) / 1e6
        return Completion(text=choice.message.content or "", finish_reason=choice.finish_reason or "",
                          usage=usage, model=reply.model or self.config.model)

    async def close(self) -> None:
        await self._http.aclose()


class Dispatcher:
    """Dispatcher: one Endpoint per tier."""

    def __init__(self, tiers: dict[str, TierConfig]) -> None:
        self.endpoints = {name: Endpoint(cfg) for name, cfg in tiers.items()}

    def model_name(self, tier: str) -> str:
        return self.endpoints[tier].config.model

    async def complete(self, tier: str, messages: tuple[ChatTurn, ...], params: GenerationParams,
                       timeout_s: float) -> Completion:
        return await self.endpoints[tier].complete(messages, params, timeout_s)

    async def close(self) -> None:
        for endpoint in self.endpoints.values():
            await endpoint.close()
