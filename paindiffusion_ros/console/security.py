"""Who may do what on the console: tokens, and the checks every request passes.

* Bound to a loopback address (the default, ``127.0.0.1``), the console trusts the
  machine's own users and needs no token unless one is configured. Its ``Host`` header
  must then name the loopback address (a web page elsewhere cannot reach it by a DNS name
  that resolves to 127.0.0.1: DNS rebinding).
* On any other interface every control, the WebSocket and the reports need the operator
  token, and the rating endpoint needs the trainee token (or the operator's). Tokens not
  configured are generated (``secrets``) and printed at start.
* A browser request that changes something (POST, WebSocket) and carries an ``Origin``
  must come from the console's own origin, so no other page open in the same browser can
  drive it.

A token is presented as ``Authorization: Bearer TOKEN`` or as ``?token=TOKEN`` (the
WebSocket and links cannot set headers); comparisons are constant-time.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Mapping, Optional

TOKEN_BYTES = 18


class Access(Enum):
    """What a route needs."""

    PUBLIC = "public"
    """The pages and their scripts: they hold nothing and can do nothing by themselves."""
    TRAINEE = "trainee"
    """Submitting a rating."""
    OPERATOR = "operator"
    """Controls, recording, the live WebSocket, reports."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Tokens:
    """The operator and trainee tokens; None where no token is needed."""

    operator: Optional[str]
    trainee: Optional[str]

    @property
    def required(self) -> bool:
        return self.operator is not None

    @classmethod
    def for_host(cls, host: str, operator: str = "", trainee: str = "") -> "Tokens":
        """Configured tokens; generated ones where a non-loopback host needs them."""
        if not operator and is_loopback(host):
            return cls(None, None)
        return cls(operator or secrets.token_urlsafe(TOKEN_BYTES), trainee or secrets.token_urlsafe(TOKEN_BYTES))


def presented_token(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The token a request carries ('' for none)."""
    authorization = headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        return authorization[len("Bearer ") :].strip()
    return query.get("token", "")


def _same(a: str, b: Optional[str]) -> bool:
    return b is not None and hmac.compare_digest(a.encode(), b.encode())


def refusal(
    access: Access,
    tokens: Tokens,
    token: str,
    host_header: str,
    allowed_hosts: Optional[frozenset[str]],
    origin: Optional[str],
    changes: bool,
) -> Optional[tuple[int, str]]:
    """(HTTP status, reason) when the request must be refused, else None."""
    if allowed_hosts is not None and host_header not in allowed_hosts:
        return 403, f"unexpected Host {host_header!r}: open the console as http://{sorted(allowed_hosts)[0]}/"
    if changes and origin is not None and origin not in (f"http://{host_header}", f"https://{host_header}"):
        return 403, f"requests from {origin} are not accepted (cross-origin)"
    if access is Access.PUBLIC or not tokens.required:
        return None
    if not token:
        return 401, "this console needs its access token (open the link with ?token=… that the console printed at start)"
    if _same(token, tokens.operator) or (access is Access.TRAINEE and _same(token, tokens.trainee)):
        return None
    return 401, "wrong access token"


def loopback_hosts(host: str, port: int) -> Optional[frozenset[str]]:
    """The Host headers a loopback-bound console accepts (None: any, the tokens guard it)."""
    if not is_loopback(host):
        return None
    return frozenset(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]", host if ":" not in host else f"[{host}]"))
