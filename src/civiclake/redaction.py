"""Credentials never leave in a URL: what civiclake prints, logs or records goes through ``redact_url``.

Settings refuse URLs that carry credentials, but URLs also come from outside (a catalogue's resource links, a
server's redirects, an error message quoting either). Everything that reaches output, the summary JSON,
manifests and meta tables is passed through here on the way out: the user and password of a URL become ``***``,
and so does the value of a query parameter whose name says it is a secret.
"""

from __future__ import annotations

import re
from typing import overload
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"
# Whole words of a parameter's name: access_token, X-Amz-Signature, apikey; not author nor design.
_SECRET_PARAMETER = re.compile(
    r"(?:^|[^a-z])(?:password|passwd|pwd|pass|secret|token|api[-_]?key|access[-_]?key|auth|signature|sig|"
    r"credential|key)(?:$|[^a-z])",
    re.IGNORECASE,
)
# A URL inside free text: a scheme, then anything up to a space, a quote or a bracket.
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]{}]+")


@overload
def redact_url(url: str) -> str: ...
@overload
def redact_url(url: None) -> None: ...
def redact_url(url: str | None) -> str | None:
    """``url`` without its credentials: ``https://user:pw@host/a?token=x`` -> ``https://***@host/a?token=***``."""
    if not url or "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        # Too broken to split: keep the scheme, drop everything up to the last "@" of the authority.
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{REDACTED}@{rest.rpartition('@')[2]}" if "@" in rest.split("/", 1)[0] else url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAMETER.search(name) for name, _ in pairs):
            query = urlencode(
                [(name, REDACTED if _SECRET_PARAMETER.search(name) else value) for name, value in pairs], safe="*"
            )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@overload
def redact_text(text: str) -> str: ...
@overload
def redact_text(text: None) -> None: ...
def redact_text(text: str | None) -> str | None:
    """Every URL inside ``text`` (an error message, a log line) without its credentials."""
    if not text or "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
