"""Signed cursors: what the API hands out to resume a walk (a /v1/logs page cursor, a tail's event id).

A cursor is ``<payload>.<mac>``, both base64url: the payload is JSON, the MAC an HMAC-SHA256 with the server's
secret over the cursor's kind, the key it was issued to and the payload. A cursor cannot be forged (no secret), nor
used for another kind of request, nor carried to another key: each of those fails verification and is a 400. The key
is named by what it may read (name and scope), so two keys that read the same documents could share cursors and
nothing else can.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from typing import Any

import orjson

from api.auth import Caller

__all__ = ["CursorSigner", "caller_binding"]

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def caller_binding(who: Caller) -> bytes:
    return orjson.dumps([who.name, who.all_logs, sorted(who.namespaces), sorted(who.services)])


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_URLSAFE).decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorSigner:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the cursor secret must be at least 16 bytes")
        self._secret = secret

    def _mac(self, prefix: bytes, payload: bytes) -> bytes:
        return hmac.digest(self._secret, prefix + payload, "sha256")

    def signing(self, kind: str, who: Caller) -> Callable[[Any], str]:
        """``sign`` for one kind and key, for signing many (a live tail signs every event)."""
        prefix = kind.encode() + b"\0" + caller_binding(who) + b"\0"

        def sign(value: Any) -> str:
            payload = orjson.dumps(value)
            return _b64(payload) + "." + _b64(self._mac(prefix, payload))

        return sign

    def sign(self, kind: str, who: Caller, value: Any) -> str:
        return self.signing(kind, who)(value)

    def verify(self, kind: str, who: Caller, token: str) -> Any:
        """The value signed into ``token``; ValueError if this server did not issue it for this key and kind."""
        payload_text, sep, mac_text = token.partition(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{kind} is not one this API issued to this key") from exc
        prefix = kind.encode() + b"\0" + caller_binding(who) + b"\0"
        if not sep or not hmac.compare_digest(mac, self._mac(prefix, payload)):
            raise ValueError(f"{kind} is not one this API issued to this key")
        return orjson.loads(payload)
