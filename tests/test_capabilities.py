"""Per-contact audio URLs and TTS voices, as the adapters check them.

Which provider plays which message kind is tabled in tests/providers/test_provider_contract.py.
"""

from __future__ import annotations

import pytest

from campaigner.campaigns import Message
from campaigner.errors import ValidationError
from campaigner.model import MessageKind, Provider
from campaigner.providers import adapter_for


@pytest.mark.parametrize(
    ("provider", "url", "ok"),
    [
        (Provider.FRACTEL, "https://example.com/x.wav?sig=abc", True),
        (Provider.FRACTEL, "https://example.com/x.wav.mp3", False),
        (Provider.FRACTEL, "https://example.com/download?file=x.wav", False),
        (Provider.WEBEX, "http://example.com/x.mp3", True),
        (Provider.ENABLEX, "https://example.com/x", True),
        (Provider.ENABLEX, "http://example.com/x.wav", False),
    ],
)
def test_check_audio_url_per_contact(provider: Provider, url: str, ok: bool) -> None:
    if ok:
        adapter_for(provider).check_audio_url(url)
    else:
        with pytest.raises(ValidationError):
            adapter_for(provider).check_audio_url(url)


@pytest.mark.parametrize(
    ("provider", "voice", "language", "refusal"),
    [
        (Provider.ENABLEX, "female", "en-US", None),
        (Provider.ENABLEX, "robot", None, "enablex has no voice 'robot'"),
        (Provider.FRACTEL, None, None, None),
        (Provider.FRACTEL, "female", None, "fractel has no voice"),
        (Provider.FRACTEL, None, "en-US", "fractel has no choice of TTS language"),
        (Provider.WEBEX, "Joanna", "en-US", None),
    ],
)
def test_tts_voice_and_language(
    provider: Provider, voice: str | None, language: str | None, refusal: str | None
) -> None:
    message = Message(MessageKind.TTS, "Hello", voice=voice, language=language)
    if refusal is None:
        adapter_for(provider).check_message(message)
    else:
        with pytest.raises(ValidationError, match=refusal):
            adapter_for(provider).check_message(message)
