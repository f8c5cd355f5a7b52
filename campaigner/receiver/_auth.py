"""Who may post webhooks: a secret token in the path, or HTTP Basic credentials, or both.

Providers differ in what they can send: Fractel posts to a bare URL set once per FoneNumber (so it
needs the token in the path), EnableX and Webex Connect can add HTTP Basic or an Authorization
header. Comparisons take constant time, so a wrong guess teaches nothing about the secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field

from ..config import Settings
from ..errors import ConfigError
from ..model import Provider

MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class WebhookAuth:
    """The receiver's credentials. `repr` never shows a secret."""

    token: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookAuth:
        return cls(
            token=settings.get("receiver", "token"),
            user=settings.get("receiver", "user"),
            password=settings.get("receiver", "password"),
        )

    def check(self) -> WebhookAuth:
        """Refuse to receive webhooks that anyone could forge; returns self."""
        if bool(self.user) != bool(self.password):
            raise ConfigError(
                "webhook HTTP Basic needs both a user and a password: set CAMPAIGNER_WEBHOOK_USER "
                "and CAMPAIGNER_WEBHOOK_PASSWORD (or user and password under [receiver])"
            )
        if not self.token and not self.user:
            raise ConfigError(
                "the webhook receiver needs credentials, or anyone could forge call results: set "
                "CAMPAIGNER_WEBHOOK_TOKEN (a long random string, sent in the webhook URL) and/or "
                "CAMPAIGNER_WEBHOOK_USER and CAMPAIGNER_WEBHOOK_PASSWORD (HTTP Basic), or the same "
                "under [receiver] in campaigner.toml"
            )
        if self.token and len(self.token) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"the webhook token has {len(self.token)} characters: use a random string of at "
                f"least {MIN_TOKEN_LENGTH} (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(24))'`)"
            )
        return self

    def allows(self, path_token: str | None, authorization: str | None) -> bool:
        """Whether a request with this path token and Authorization header may post."""
        if path_token is not None:
            return self.token is not None and _same(path_token, self.token)
        if self.user is None or self.password is None:
            return False
        given = _basic_credentials(authorization)
        if given is None:
            return False
        user, password = given
        # Both compared, always: the time taken says nothing about which one was wrong.
        user_ok = _same(user, self.user)
        password_ok = _same(password, self.password)
        return user_ok and password_ok

    def allows_reader(self, authorization: str | None) -> bool:
        """Whether a request may read the status pages: the webhook credentials, or, for a
        receiver that has a token, HTTP Basic with the token as the password (any user)."""
        if self.allows(None, authorization):
            return True
        given = _basic_credentials(authorization)
        return self.token is not None and given is not None and _same(given[1], self.token)

    def callback_url(self, public_url: str, provider: Provider) -> str:
        """The URL a provider posts `provider`'s webhooks to, token included when there is one."""
        base = f"{public_url.rstrip('/')}/hooks/{provider.value}"
        return f"{base}/{self.token}" if self.token else base

    def shown_callback_url(self, public_url: str, provider: Provider) -> str:
        """`callback_url` as it may be printed: the token cut to its first four characters."""
        base = f"{public_url.rstrip('/')}/hooks/{provider.value}"
        return f"{base}/{self.token[:4]}…" if self.token else base


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """The user and password of an HTTP Basic Authorization header; None if it is not one."""
    if authorization is None:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
