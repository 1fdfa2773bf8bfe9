"""Never a secret in ``meta.json``: what of the command line and the host is recorded.

The api key is never recorded at all; ``--target-flags`` values that look like
keys, and any credentials or query string in a host URL, are scrubbed here.
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit, urlunsplit

REDACTED = "***"
SECRET_FLAG_WORDS = ("key", "token", "secret", "passw", "auth", "credential", "cookie")
"""A flag whose name contains one of these has its value redacted."""
KEY_LIKE = re.compile(r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}")
"""A bare token that looks like a generated key (long, letters and digits) is redacted too."""


def redact_flags(flags: str) -> str:
    """``--target-flags`` for the record, with secret-looking values replaced by ``***``."""
    try:
        tokens = shlex.split(flags or "")
    except ValueError:
        return REDACTED
    out: list[str] = []
    redact_next = False
    for token in tokens:
        if redact_next and not token.startswith("-"):
            out.append(REDACTED)
            redact_next = False
            continue
        redact_next = False
        name, eq, _ = token.partition("=")
        if token.startswith("-") and any(w in name.lower() for w in SECRET_FLAG_WORDS):
            out.append(f"{name}={REDACTED}" if eq else token)
            redact_next = not eq
        elif KEY_LIKE.fullmatch(token):
            out.append(REDACTED)
        else:
            out.append(token)
    return shlex.join(out)


def public_host(host: str | None) -> str | None:
    """The host URL without user info, query or fragment (where credentials hide)."""
    if not host:
        return host
    parts = urlsplit(host)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
