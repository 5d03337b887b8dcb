"""The store's errors. Messages never carry a password from the store URL."""

from __future__ import annotations


class StoreError(Exception):
    """StoreError: any failure of the store's backend (unreachable, refused, corrupt)."""


class UnknownRequest(StoreError):
    """UnknownRequest: feedback or a judgment for a request id the store does not hold."""


class NotYourRequest(StoreError):
    """NotYourRequest: feedback from a caller other than the one who made the request."""
