"""CSRF protection of the review forms: a signed double-submit token bound to one assignment.

The page sets the token as an HttpOnly, SameSite=Strict cookie scoped to the review link's
path and echoes it in a hidden ``csrf`` field. A post is accepted only when the cookie and the
field are present, identical, carry a valid signature and name the assignment being posted
to. Another site can neither read the field nor make the browser send the cookie, and a
cookie planted from elsewhere fails the signature or the assignment binding.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature

from credflow.keyring import KeyRing, Purpose

COOKIE = "credflow_csrf"
FIELD = "csrf"


class CsrfTokens:
    """Issues and checks the tokens of one secret."""

    def __init__(self, keys: KeyRing) -> None:
        self._serializer = keys.serializer(Purpose.CSRF)

    def issue(self, assignment_id: str) -> str:
        """A fresh token for forms of ``assignment_id``."""
        return str(self._serializer.dumps({"a": assignment_id, "r": secrets.token_urlsafe(16)}))

    def valid_for(self, token: str | None, assignment_id: str) -> bool:
        """Whether ``token`` is signed by this secret and bound to ``assignment_id``."""
        if not token:
            return False
        try:
            data = self._serializer.loads(token)
        except BadSignature:
            return False
        return isinstance(data, dict) and data.get("a") == assignment_id

    def accepts(self, *, cookie: str | None, field: str | None, assignment_id: str) -> bool:
        """Whether a post carries the same valid token in its cookie and its form field."""
        if not cookie or not field or not hmac.compare_digest(cookie.encode(), field.encode()):
            return False
        return self.valid_for(field, assignment_id)
