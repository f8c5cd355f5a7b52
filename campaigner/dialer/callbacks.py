"""Pointing a provider's call events at the receiver, for a provider that takes its callback URL
once per caller ID (Fractel's FoneNumbers) rather than with each call.

Setting the same URL again changes nothing, so a command that got no answer can simply be run
again.
"""

from __future__ import annotations

from ..errors import ProviderError
from ..providers import Credentials, ProviderAdapter, Refused, Transient
from ..providers._parsing import json_object
from .http import Ambiguous, ProviderClient, Timeouts


async def point_callbacks(
    adapter: ProviderAdapter,
    caller_id: str,
    url: str,
    credentials: Credentials,
    timeouts: Timeouts | None = None,
) -> bool:
    """Have the provider post the events of calls from `caller_id` to `url`. False, with nothing
    sent, for a provider that takes the URL with each call; ProviderError if the provider refuses
    or does not answer."""
    request = adapter.callback_request(caller_id, url, credentials)
    if request is None:
        return False
    client = ProviderClient(adapter, timeouts or Timeouts())
    try:
        response = await client.exchange(request)
    finally:
        client.close()
    provider = adapter.provider.value
    if isinstance(response, Transient | Ambiguous):
        raise ProviderError(
            f"{provider}: the callback URL was not confirmed ({response.reason}): run the command "
            "again"
        )
    document = json_object(response.content) or {}
    failure = adapter.failed_answer(
        response.status_code, response.headers, response.content, document
    )
    if isinstance(failure, Refused):
        raise ProviderError(
            f"{provider} refused the callback URL for {caller_id}: {failure.message} "
            f"(code {failure.code})"
        )
    if isinstance(failure, Transient):
        raise ProviderError(
            f"{provider} could not set the callback URL now ({failure.reason}): run the command "
            "again"
        )
    return True
