"""What each provider can play, so that `campaign create` refuses a message no call could deliver.

One table, kept apart from the CLI so that the provider adapters can own it later. The rules come
from the vendors' pages (see PROVIDERS.md): Fractel plays TTS (SSML allowed) or a WAV file from a
URL and has no stored prompts; Webex Connect plays TTS, SSML, a wav or mp3 URL, or a media item by
id; EnableX plays all of these and streams any audio format Asterisk knows, over HTTPS only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import urlsplit

from .campaigns import Message
from .errors import ValidationError
from .model import MessageKind, Provider


@dataclass(frozen=True)
class Capabilities:
    kinds: frozenset[MessageKind]
    audio_suffixes: frozenset[str] | None  # file endings an audio URL may have; None: any
    https_only: bool  # whether audio must be fetched over HTTPS

    def describe_kinds(self) -> str:
        return ", ".join(kind.value for kind in MessageKind if kind in self.kinds)


_ALL_KINDS = frozenset(MessageKind)

CAPABILITIES: Mapping[Provider, Capabilities] = MappingProxyType(
    {
        Provider.ENABLEX: Capabilities(_ALL_KINDS, audio_suffixes=None, https_only=True),
        Provider.FRACTEL: Capabilities(
            _ALL_KINDS - {MessageKind.PROMPT}, audio_suffixes=frozenset({".wav"}), https_only=False
        ),
        Provider.WEBEX: Capabilities(
            _ALL_KINDS, audio_suffixes=frozenset({".wav", ".mp3"}), https_only=False
        ),
    }
)


def check_message(provider: Provider, message: Message) -> None:
    """Refuse a message kind (or a fixed audio URL) that `provider` cannot play."""
    capabilities = CAPABILITIES[provider]
    if message.kind not in capabilities.kinds:
        raise ValidationError(
            f"{provider} cannot play a {message.kind} message "
            f"(it plays: {capabilities.describe_kinds()})"
        )
    if message.kind is MessageKind.AUDIO_URL:
        check_audio_url(provider, message.body)


def check_audio_url(provider: Provider, url: str) -> None:
    """Refuse an audio URL `provider` cannot fetch or play; also for each contact's own URL."""
    capabilities = CAPABILITIES[provider]
    parts = urlsplit(url.strip())
    if capabilities.https_only and parts.scheme != "https":
        raise ValidationError(f"{provider} fetches audio over HTTPS only, not {url!r}")
    suffixes = capabilities.audio_suffixes
    if suffixes is not None and not parts.path.lower().endswith(tuple(suffixes)):
        endings = " or ".join(sorted(suffixes))
        raise ValidationError(
            f"{provider} plays only {endings} files; {url!r} does not end in {endings}"
        )
