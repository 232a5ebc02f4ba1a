"""Secrets out of what people read: credentials inside URLs masked, the rest of the URL kept.

`mask_url("postgresql://trinity:s3cret@db:5432/trinity")` is `postgresql://trinity:***@db:5432/trinity`:
the host, port and database stay visible, so a wrong one can still be seen. Masked are a URL's
password (a user name alone is masked whole: it may be a token), query values whose names say
they are secret (`token`, `key`, `secret`, `password`, `sig`, ...) and path segments that look
like tokens (16 or more letters, digits, `-` or `_` with both letters and digits, or 24 or more
of them: a webhook's address often is its secret). `mask_text` does the same to every URL inside a text (an error, a
log line).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

MASK = "***"
_SECRET_NAMES = re.compile(r"(?i)(token|key|secret|pass|pwd|sig|auth|credential|code)")
_TOKEN_LIKE = re.compile(r"(?=[A-Za-z0-9_-]*[A-Za-z])(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{16,}|[A-Za-z0-9_-]{24,}")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def mask_url(url: str) -> str:
    """`url` with its credentials masked (a text that is not a URL of the form `scheme://...` is masked whole)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK  # not readable as a URL: nothing of it is shown
    if not parts.scheme or "://" not in url:
        return MASK
    shown = f"{parts.scheme}://{_netloc(parts.netloc)}{_path(parts.path)}"
    query = _query(parts.query)
    return shown + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


def mask_text(text: str) -> str:
    """Every URL inside `text` masked."""
    return _URL.sub(lambda found: mask_url(found.group(0)), text)


def _netloc(netloc: str) -> str:
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _ = userinfo.partition(":")
    return f"{user}:{MASK}@{host}" if colon else f"{MASK}@{host}"


def _path(path: str) -> str:
    return "/".join(MASK if _TOKEN_LIKE.fullmatch(segment) else segment for segment in path.split("/"))


def _query(query: str) -> str:
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(name, MASK if _SECRET_NAMES.search(name) else value) for name, value in pairs], safe="*")
