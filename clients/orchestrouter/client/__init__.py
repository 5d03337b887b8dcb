"""Typed clients for RouterService and ScorerService."""

from orchestrouter.client.sync import RouteAnswer, RouterClient, ScorerClient

__all__ = ["RouteAnswer", "RouterClient", "ScorerClient"]
