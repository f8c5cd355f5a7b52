"""The key menu as a table: validation, what a key means, and the opt-out prompt."""

from __future__ import annotations

import re

import pytest

from campaigner.campaigns import CampaignSettings, Message
from campaigner.errors import ValidationError
from campaigner.model import MessageKind, Provider
from campaigner.responses import OPT_OUT, OTHER, KeyMenu, parse_key_option

MENU = KeyMenu(keys={"1": "confirmed", "2": "cancelled"}, opt_out_key="9")


@pytest.mark.parametrize(
    ("menu", "error"),
    [
        (KeyMenu(keys={"10": "x"}), "a key is one of 0-9, * or #"),
        (KeyMenu(keys={"a": "x"}), "a key is one of 0-9, * or #"),
        (KeyMenu(keys={"1": "yes", "2": "yes"}), "label 'yes' is already given to key 1"),
        (KeyMenu(keys={"1": "Yes please"}), "the label must be 1-40 lower-case letters"),
        (KeyMenu(keys={"1": "opt_out"}), "'opt_out' is reserved"),
        (KeyMenu(keys={"1": "other"}), "'other' is reserved"),
        (KeyMenu(keys={"9": "x"}, opt_out_key="9"), "--opt-out-key 9 is also a menu key (9=x)"),
        (KeyMenu(opt_out_key="99"), "--opt-out-key 99: a key is one of 0-9, * or #"),
        (KeyMenu(key_timeout=5), "--key-timeout and --replay-on-no-input need a menu"),
        (KeyMenu(replay_on_no_input=True), "need a menu (--key) or an --opt-out-key"),
        (KeyMenu(opt_out_key="9", key_timeout=0), "--key-timeout must be 1 to 60 seconds"),
        (KeyMenu(opt_out_key="9", key_timeout=61), "--key-timeout must be 1 to 60 seconds"),
    ],
)
def test_bad_menus_are_refused_with_what_is_wrong(menu: KeyMenu, error: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(error)):
        menu.validate()


@pytest.mark.parametrize(
    "menu",
    [
        KeyMenu(),
        MENU,
        KeyMenu(keys={"*": "agent", "#": "repeat"}, opt_out_key="0", key_timeout=10),
        KeyMenu(opt_out_key="9", replay_on_no_input=True),
    ],
)
def test_good_menus_pass(menu: KeyMenu) -> None:
    menu.validate()


@pytest.mark.parametrize(
    ("pressed", "response"),
    [
        ("1", "confirmed"),
        ("2", "cancelled"),
        ("9", OPT_OUT),
        ("5", OTHER),
        ("21", "cancelled"),  # a sequence: the first key decides
        ("", None),
        ("x", None),
    ],
)
def test_a_key_means_its_label_the_opt_out_or_other(pressed: str, response: str | None) -> None:
    assert MENU.response_for(pressed) == response


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("To stop these calls, press 9.", True),
        ("Press nine to opt out", True),
        ("press the key 9 to stop", True),
        ("See you at 9 on Monday.", False),
        ("Press 99 for the front desk", False),
        ("Press 1 to confirm.", False),
    ],
)
def test_a_message_mentions_the_opt_out_key_only_as_press_key(text: str, mentions: bool) -> None:
    assert MENU.mentions_opt_out(text) is mentions


def _settings(message: Message, keys: KeyMenu = MENU) -> CampaignSettings:
    return CampaignSettings("c", Provider.ENABLEX, "+13215550100", message, keys=keys)


@pytest.mark.parametrize(
    ("message", "played"),
    [
        (
            Message(MessageKind.TTS, "Hello {name}. Press 1 to confirm. "),
            "Hello {name}. Press 1 to confirm. To stop receiving these calls, press 9.",
        ),
        (
            Message(MessageKind.TTS, "Hello. Press 9 to stop these calls."),
            "Hello. Press 9 to stop these calls.",
        ),
        (
            Message(MessageKind.SSML, "<speak>Hello {name}.</speak>"),
            "<speak>Hello {name}. To stop receiving these calls, press 9.</speak>",
        ),
        (
            Message(MessageKind.AUDIO_URL, "https://example.com/a.wav"),
            "https://example.com/a.wav",
        ),
    ],
)
def test_the_opt_out_prompt_is_appended_unless_said(message: Message, played: str) -> None:
    assert _settings(message).played_message().body == played


def test_a_recording_cannot_get_the_prompt_and_says_so() -> None:
    recorded = _settings(Message(MessageKind.AUDIO_URL, "https://example.com/a.wav"))
    spoken = _settings(Message(MessageKind.TTS, "Hello."))
    assert recorded.opt_out_prompt_missing
    assert not spoken.opt_out_prompt_missing
    assert not _settings(Message(MessageKind.TTS, "Hello."), KeyMenu()).opt_out_prompt_missing


@pytest.mark.parametrize(
    ("value", "parsed"),
    [("1=confirmed", ("1", "confirmed")), (" 2 = Cancelled ", ("2", "cancelled"))],
)
def test_key_options_parse(value: str, parsed: tuple[str, str]) -> None:
    assert parse_key_option(value) == parsed


@pytest.mark.parametrize("value", ["1", "=x", "1="])
def test_bad_key_options_say_the_form(value: str) -> None:
    with pytest.raises(ValidationError, match="must look like DIGIT=LABEL"):
        parse_key_option(value)
