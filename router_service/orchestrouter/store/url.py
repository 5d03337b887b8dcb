"""Store URLs: which backend a URL names, and the URL as it may be shown (no password)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")
URL_FORMS = "sqlite:///PATH or postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"


@dataclass(frozen=True)
class StoreURL:
    """StoreURL: a parsed store URL. kind is "sqlite" (path set) or "postgresql" (url set)."""

    kind: str
    display: str
    path: str = ""
    url: str = field(default="", repr=False)
    password: str = field(default="", repr=False)


def parse_store_url(url: str) -> StoreURL:
    """The backend a store URL names; ValueError (with the URL's display form) for anything else.

    sqlite:///relative/path.db and sqlite:////absolute/path.db (SQLAlchemy's forms).
    """
    url = url.strip()
    if url.startswith(SQLITE_PREFIX) and len(url) > len(SQLITE_PREFIX):
        return StoreURL("sqlite", url, path=url[len(SQLITE_PREFIX) :])
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsed here so a malformed port fails with the URL's other faults
    except ValueError as exc:
        raise ValueError(f"store URL {without_password(url)!r} is malformed ({exc})") from None
    if parts.scheme in POSTGRES_SCHEMES:
        passwords = [unquote(parts.password or "")] + [v for k, v in parse_qsl(parts.query) if k == "password"]
        return StoreURL("postgresql", without_password(url), url=url, password=next((p for p in passwords if p), ""))
    raise ValueError(f"store URL must be {URL_FORMS}, got {without_password(url)!r}")


def without_password(url: str) -> str:
    """url with its password (in the user-info part or a password= parameter) replaced by ***."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable URL>"
    if password is None and "password" not in parts.query:
        return url
    netloc = parts.netloc
    if password is not None:
        netloc = f"{parts.username or ''}:***@{netloc.rsplit('@', 1)[1]}"
    query = "&".join(
        f"{key}=***" if key == "password" else f"{key}={value}" for key, value in parse_qsl(parts.query, True)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
