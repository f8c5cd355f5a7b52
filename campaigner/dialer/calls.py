"""Building each contact's dial request: the message rendered for them, in the provider's words.

Called inside the claim transaction (`store.queue.claim_due`'s `prepare`), so a contact whose call
the provider cannot make (a number it cannot dial, an audio URL it cannot fetch, a value the
message needs is missing) gets its attempt recorded as such instead of a request.
"""

from __future__ import annotations

from ..campaigns import Campaign
from ..model import MessageKind, Outcome
from ..providers import (
    CallRequest,
    Credentials,
    HttpRequest,
    NumberNotDialable,
    ProviderAdapter,
    RenderedMessage,
    UnsupportedCall,
)
from ..store.queue import DueContact, Uncallable


class CallBuilder:
    """Turns a due contact and its correlation key into the HTTP request that dials it."""

    def __init__(
        self,
        campaign: Campaign,
        adapter: ProviderAdapter,
        credentials: Credentials,
        callback_url: str | None,
    ) -> None:
        self.settings = campaign.settings
        self.adapter = adapter
        self.credentials = credentials
        self.callback_url = callback_url
        self.message = campaign.settings.played_message()  # with the opt-out prompt, if any
        self._template = self.message.template()

    def __call__(self, contact: DueContact, correlation_key: str) -> HttpRequest:
        call = CallRequest(
            correlation_key=correlation_key,
            to=contact.phone,
            caller_id=self.settings.caller_id,
            message=self.render(contact),
            callback_url=self.callback_url,
            collect_dtmf=self.settings.keys.collects_keys,
            key_timeout=self.settings.keys.key_timeout,
        )
        try:
            return self.adapter.dial_request(call, self.credentials)
        except NumberNotDialable as exc:
            raise Uncallable(Outcome.INVALID_NUMBER, str(exc)) from None
        except UnsupportedCall as exc:
            raise Uncallable(Outcome.REJECTED_REQUEST, str(exc)) from None

    def render(self, contact: DueContact) -> RenderedMessage:
        message = self.message
        content = message.body
        if self._template is not None:
            missing = self._template.missing(contact.fields)
            if missing:
                raise Uncallable(
                    Outcome.REJECTED_REQUEST,
                    f"the message needs a value in {', '.join(missing)}",
                )
            content = self._template.render(contact.fields)
        elif message.kind is MessageKind.AUDIO_URL_COLUMN:
            content = (contact.fields.get(message.body) or "").strip()
            if not content:
                raise Uncallable(Outcome.REJECTED_REQUEST, f"no audio URL in column {message.body}")
            try:
                self.adapter.check_audio_url(content)
            except UnsupportedCall as exc:
                raise Uncallable(Outcome.REJECTED_REQUEST, str(exc)) from None
        return RenderedMessage(message.kind, content, message.voice, message.language)
