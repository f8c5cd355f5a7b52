"""The provider adapters: one module per provider behind one small interface (see `base`).

    adapter = adapter_for(Provider.ENABLEX)
    request = adapter.dial_request(call, adapter.credentials(settings))
    answer = adapter.parse_dial_answer(response.status_code, response.headers, response.content)

Adding a provider is one module here, its fixtures under tests/providers/, and one line below.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..model import Provider
from .base import (
    Accepted,
    CallEvent,
    CallLookup,
    CallRequest,
    Capabilities,
    Credentials,
    DialAnswer,
    EventKind,
    FollowUp,
    HttpRequest,
    NumberNotDialable,
    Progress,
    ProviderAdapter,
    Refused,
    RenderedMessage,
    Transient,
    Unparseable,
    UnsupportedCall,
    WebhookResult,
    settle_outcome,
)
from .enablex import EnableXAdapter
from .fractel import FractelAdapter
from .webex import WebexAdapter

_ADAPTERS: Mapping[Provider, ProviderAdapter] = MappingProxyType(
    {
        Provider.ENABLEX: EnableXAdapter(),
        Provider.FRACTEL: FractelAdapter(),
        Provider.WEBEX: WebexAdapter(),
    }
)


def adapter_for(provider: Provider) -> ProviderAdapter:
    """The adapter that speaks `provider`'s API."""
    return _ADAPTERS[provider]


__all__ = [
    "Accepted",
    "CallEvent",
    "CallLookup",
    "CallRequest",
    "Capabilities",
    "Credentials",
    "DialAnswer",
    "EnableXAdapter",
    "EventKind",
    "FollowUp",
    "FractelAdapter",
    "HttpRequest",
    "NumberNotDialable",
    "Progress",
    "ProviderAdapter",
    "Refused",
    "RenderedMessage",
    "Transient",
    "Unparseable",
    "UnsupportedCall",
    "WebexAdapter",
    "WebhookResult",
    "adapter_for",
    "settle_outcome",
]
