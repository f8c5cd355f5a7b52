"""Which provider plays which message: what `campaign create` checks through the adapters."""

from __future__ import annotations

import pytest

from campaigner.campaigns import Message
from campaigner.errors import ValidationError
from campaigner.model import MessageKind, Provider
from campaigner.providers import adapter_for

TTS = Message(MessageKind.TTS, "Hello {name}")
SSML = Message(MessageKind.SSML, "<speak>Hello {name}</speak>")
WAV = Message(MessageKind.AUDIO_URL, "https://example.com/a/notice.WAV")
MP3 = Message(MessageKind.AUDIO_URL, "https://example.com/notice.mp3")
OGG_HTTP = Message(MessageKind.AUDIO_URL, "http://example.com/notice.ogg")
COLUMN = Message(MessageKind.AUDIO_URL_COLUMN, "audio")
PROMPT = Message(MessageKind.PROMPT, "welcome")


@pytest.mark.parametrize(
    ("provider", "message", "refusal"),
    [
        (Provider.ENABLEX, TTS, None),
        (Provider.ENABLEX, SSML, None),
        (Provider.ENABLEX, WAV, None),
        (Provider.ENABLEX, MP3, None),
        (Provider.ENABLEX, COLUMN, None),
        (Provider.ENABLEX, PROMPT, None),
        (Provider.ENABLEX, OGG_HTTP, "over HTTPS only"),
        (Provider.FRACTEL, TTS, None),
        (Provider.FRACTEL, SSML, None),
        (Provider.FRACTEL, WAV, None),
        (Provider.FRACTEL, OGG_HTTP, "plays only .wav files"),
        (Provider.FRACTEL, MP3, "plays only .wav files"),
        (Provider.FRACTEL, COLUMN, None),
        (Provider.FRACTEL, PROMPT, "fractel cannot play a prompt message"),
        (Provider.WEBEX, TTS, None),
        (Provider.WEBEX, SSML, None),
        (Provider.WEBEX, WAV, None),
        (Provider.WEBEX, MP3, None),
        (Provider.WEBEX, OGG_HTTP, r"plays only \.mp3 or \.wav files"),
        (Provider.WEBEX, COLUMN, None),
        (Provider.WEBEX, PROMPT, None),
    ],
)
def test_check_message(provider: Provider, message: Message, refusal: str | None) -> None:
    if refusal is None:
        adapter_for(provider).check_message(message)
    else:
        with pytest.raises(ValidationError, match=refusal):
            adapter_for(provider).check_message(message)


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
