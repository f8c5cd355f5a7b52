"""Webhook credentials: what is accepted, and a receiver that refuses to start without them."""

from __future__ import annotations

import base64

import pytest

from campaigner.errors import ConfigError
from campaigner.model import Provider
from campaigner.receiver import WebhookAuth

TOKEN = "0123456789abcdefghij"
BOTH = WebhookAuth(token=TOKEN, user="hooks", password="pa:ss word")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("auth", "path_token", "authorization", "allowed"),
    [
        pytest.param(BOTH, TOKEN, None, True, id="token"),
        pytest.param(BOTH, None, basic("hooks", "pa:ss word"), True, id="basic"),
        pytest.param(
            BOTH, None, "basic" + basic("hooks", "pa:ss word")[5:], True, id="scheme-case"
        ),
        pytest.param(BOTH, TOKEN[:-1], None, False, id="short-token"),
        pytest.param(BOTH, TOKEN + "0", None, False, id="long-token"),
        pytest.param(BOTH, "wrong", basic("hooks", "pa:ss word"), False, id="wrong-token-wins"),
        pytest.param(BOTH, None, basic("hooks", "pa:ss"), False, id="wrong-password"),
        pytest.param(BOTH, None, basic("Hooks", "pa:ss word"), False, id="wrong-user"),
        pytest.param(BOTH, None, "Basic !!!", False, id="not-base64"),
        pytest.param(BOTH, None, "Bearer " + TOKEN, False, id="bearer"),
        pytest.param(BOTH, None, None, False, id="nothing"),
        pytest.param(WebhookAuth(token=TOKEN), None, basic("hooks", "x"), False, id="no-basic-set"),
        pytest.param(
            WebhookAuth(user="hooks", password="p" * 8), TOKEN, None, False, id="no-token-set"
        ),
    ],
)
def test_credentials(
    auth: WebhookAuth, path_token: str | None, authorization: str | None, allowed: bool
) -> None:
    assert auth.allows(path_token, authorization) is allowed


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        pytest.param(WebhookAuth(), "needs credentials", id="none"),
        pytest.param(WebhookAuth(user="hooks"), "both a user and a password", id="user-only"),
        pytest.param(WebhookAuth(password="secret"), "both a user and a password", id="pw-only"),
        pytest.param(WebhookAuth(token="short"), "at least 16", id="short-token"),
    ],
)
def test_the_receiver_refuses_to_start_without_real_credentials(
    auth: WebhookAuth, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        auth.check()


def test_callback_urls_carry_the_token_and_print_without_it() -> None:
    url = BOTH.callback_url("https://hooks.example.com/", Provider.FRACTEL)
    shown = BOTH.shown_callback_url("https://hooks.example.com/", Provider.FRACTEL)
    assert url == f"https://hooks.example.com/hooks/fractel/{TOKEN}"
    assert shown == "https://hooks.example.com/hooks/fractel/0123…"
    assert TOKEN not in repr(BOTH)
    assert "pa:ss" not in repr(BOTH)
    basic_only = WebhookAuth(user="hooks", password="p" * 8)
    assert basic_only.callback_url("http://h:1", Provider.WEBEX) == "http://h:1/hooks/webex"
