"""Typed clients for RouterService and ScorerService: synchronous and asyncio, one ClientOptions."""

from orchestrouter.client.aio import AsyncRouterClient, AsyncScorerClient
from orchestrouter.client.answer import RouteAnswer
from orchestrouter.client.options import ClientOptions, RetryPolicy
from orchestrouter.client.sync import RouterClient, ScorerClient

__all__ = [
    "AsyncRouterClient",
    "AsyncScorerClient",
    "ClientOptions",
    "RetryPolicy",
    "RouteAnswer",
    "RouterClient",
    "ScorerClient",
]
