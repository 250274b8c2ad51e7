"""URL checks for the options that name a server (--base-url, --upstream, …)."""

from __future__ import annotations

import httpx


def check_http_url(url: str, option: str) -> None:
    """An http(s) URL with a host and a valid port; raises ValueError naming ``option`` (never the
    URL itself, which may carry credentials)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ValueError(f"{option} is not a valid URL (check the host and port)") from None
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise ValueError(f"{option} has a port outside 1-65535")
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{option} must be an http:// or https:// URL with a host")
