"""CORS for ingest: which pages' browsers may send events, and the headers that tell the browser so.

Browsers send analytics.js's events cross-origin, from the shop's pages to righttime's API. The allowed
origins are a setting (RIGHTTIME_ALLOWED_ORIGINS); every answer to an allowed origin carries the CORS headers,
errors included, so the SDK can read a 400 or a 503 and retry; an answer to any other origin carries none.
"""

from __future__ import annotations

import re

#: What a browser may send cross-origin: analytics.js sets Authorization (so browsers ask first, with a
#: preflight) and X-Retry-Count when it retries; a gzipped body names its Content-Encoding.
CORS_ALLOWED_HEADERS = "Authorization, Content-Type, Content-Encoding, X-Retry-Count"
CORS_ALLOWED_METHODS = "POST, OPTIONS"
#: how long a browser may reuse a preflight's answer (Chromium caps it at two hours)
CORS_MAX_AGE_SECONDS = 7200
#: any origin: what Segment's own API allows, as write keys are public in every page that loads analytics.js
ANY_ORIGIN = "*"


def origin_allowed(origin: str, allowed: frozenset[str]) -> bool:
    """Whether a page from `origin` (its Origin header) may send events: listed, or any when `*` is."""
    return ANY_ORIGIN in allowed or origin.lower() in allowed


def cors_headers(origin: str | None, allowed: frozenset[str]) -> dict[str, str]:
    """The CORS headers of every answer (success or error) to a request that came with an Origin header.

    A refused origin gets none, so the browser keeps the answer from the page. The answer varies with the
    Origin header unless every origin is allowed."""
    vary = {} if ANY_ORIGIN in allowed else {"Vary": "Origin"}
    if not origin or not origin_allowed(origin, allowed):
        return vary
    return {
        "Access-Control-Allow-Origin": ANY_ORIGIN if ANY_ORIGIN in allowed else origin,
        "Access-Control-Expose-Headers": "Retry-After",
        **vary,
    }


def preflight_headers(origin: str | None, allowed: frozenset[str]) -> dict[str, str]:
    """The answer to a preflight (OPTIONS) from an allowed origin: what it may send, and for how long."""
    return {
        **cors_headers(origin, allowed),
        "Access-Control-Allow-Methods": CORS_ALLOWED_METHODS,
        "Access-Control-Allow-Headers": CORS_ALLOWED_HEADERS,
        "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
    }


def parse_origins(text: str) -> frozenset[str]:
    """RIGHTTIME_ALLOWED_ORIGINS: comma-separated origins (`https://shop.example.com`, no path) or `*`.

    Raises ValueError naming the first entry that is not an origin."""
    origins = {part.strip().lower().rstrip("/") for part in text.split(",") if part.strip()}
    if not origins:
        raise ValueError("list at least one origin, or * for any")
    for origin in origins:
        if origin != ANY_ORIGIN and not _ORIGIN.fullmatch(origin):
            raise ValueError(
                f"{origin!r} is not an origin: write scheme://host[:port], such as https://shop.example.com"
            )
    return frozenset(origins)


_ORIGIN = re.compile(r"https?://[a-z0-9.\-\[\]:]+")
