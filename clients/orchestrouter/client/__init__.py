"""Typed clients for RouterService and ScorerService."""

from orchestrouter.client.answer import RouteAnswer
from orchestrouter.client.sync import RouterClient, ScorerClient

__all__ = ["RouteAnswer", "RouterClient", "ScorerClient"]
