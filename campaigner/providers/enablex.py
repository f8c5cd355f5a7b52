"""EnableX Voice API: dial, read its answers and events, hang up, look a call up.

On the wire (PROVIDERS.md; the vendor pages are the authority): `POST {base}/call` with HTTP Basic
`APP_ID:APP_KEY`, our correlation key as `owner_ref` (echoed in events) and as `Idempotency-Key`
(a repeat within 24 hours returns the first answer instead of a second call), the message as
`action_on_connect.play`. Events carry `voice_id` (`voice_Id` in DTMF events) and a `state` or a
`playstate`. After the message has played the call stays up until someone hangs up, so those
events ask for a `DELETE {base}/call/{voice_id}` (FollowUp.HANG_UP).

Keys: with `collect_dtmf` the play asks for one (`dtmf: true`, `prompt_ref` MESSAGE_REF, the key
timeout as `start_timeout`); `digitcollected` carries the `digit`, `menutimeout` says no key came
(`CallEvent.no_key`). A replay (`replay_request`) is `PUT {base}/call/{voice_id}/play` with
`prompt_ref` REPLAY_REF, echoed in its events (`CallEvent.replayed`).

Outcomes (PROVIDERS.md, "Our outcomes"): `playfinished` (and `digitcollected` / `menutimeout`,
which end a prompt that waited for a key) is delivered; `disconnected` with "User Busy" is busy;
any other `disconnected` is a hang-up whose outcome depends on whether the call was answered
(`settle_outcome`); `state: failed` and `playstate: failed | error` are failed.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from urllib.parse import quote

from ..model import MessageKind, Outcome, Provider
from . import _parsing
from .base import (
    Accepted,
    CallEvent,
    CallRequest,
    Capabilities,
    Credentials,
    DialAnswer,
    EventKind,
    FollowUp,
    HttpRequest,
    Progress,
    ProviderAdapter,
    Refused,
    RenderedMessage,
    Transient,
    Unparseable,
    WebhookResult,
)

DEFAULT_BASE_URL = "https://api.enablex.io/voice/v1"
DEFAULT_VOICE = "female"
DEFAULT_LANGUAGE = "en-US"
# prompt_ref of the message's first play and of its replay (echoed back in play events).
MESSAGE_REF = "campaigner-message"
REPLAY_REF = "campaigner-replay"

# state -> (kind, progress, outcome). Anything else (incomingcall, bridging, bridged,
# bridge(d)_disconnected, recording and speech states) is INFO: not about delivering our message.
# The pages also use `failed` for a failed bridge or recording; campaigner does neither, so a
# `failed` state can only be the call's.
_CALL_STATES: Mapping[str, tuple[EventKind, Progress | None, Outcome | None]] = {
    "initiated": (EventKind.PROGRESS, Progress.ACCEPTED, None),
    "ringing": (EventKind.PROGRESS, Progress.RINGING, None),
    "connected": (EventKind.PROGRESS, Progress.ANSWERED, None),
    "disconnected": (EventKind.FINAL, Progress.ENDED, None),
    "failed": (EventKind.FINAL, Progress.ENDED, Outcome.FAILED),
    "dtmfcollected": (EventKind.DTMF, Progress.ANSWERED, None),
}
# playstate -> (kind, progress, outcome). A failed play says nothing of whether the callee
# answered, so it carries no progress (it must not turn a no_answer into delivered).
_PLAY_STATES: Mapping[str, tuple[EventKind, Progress | None, Outcome | None]] = {
    "initiated": (EventKind.PROGRESS, Progress.PLAYING, None),
    "playfinished": (EventKind.FINAL, Progress.PLAYED, Outcome.DELIVERED),
    "digitcollected": (EventKind.FINAL, Progress.PLAYED, Outcome.DELIVERED),
    "menutimeout": (EventKind.FINAL, Progress.PLAYED, Outcome.DELIVERED),
    "failed": (EventKind.FINAL, None, Outcome.FAILED),
    "error": (EventKind.FINAL, None, Outcome.FAILED),
}
# The play is over but the line is still open: hang up, or the callee hears silence.
_HANG_UP_AFTER = frozenset({"playfinished", "digitcollected", "menutimeout", "failed", "error"})
_BUSY = "user busy"

# GET {base}/call/{voice_id} answers with the state of a live call.
_LIVE_STATES: Mapping[str, Progress] = {
    "in progress": Progress.ACCEPTED,  # not yet connected: ringing or still being placed
    "connected": Progress.ANSWERED,
    "ivr": Progress.PLAYING,
}


class EnableXAdapter(ProviderAdapter):
    provider = Provider.ENABLEX
    default_base_url = DEFAULT_BASE_URL
    secret_setting = "app_key"
    account_setting = "app_id"
    capabilities = Capabilities(
        kinds=frozenset(MessageKind),
        collects_dtmf=True,
        voices=frozenset({"male", "female"}),
        chooses_language=True,
        audio_suffixes=None,  # anything Asterisk plays
        https_only=True,
        idempotent_dial=True,
        max_key_timeout=10,  # start_timeout: 1-10 s (seeds/enablex-voice-api-routes-v2.txt)
    )

    def dial_request(self, call: CallRequest, credentials: Credentials) -> HttpRequest:
        self.check_call(call)
        play = _play(call.message)
        if call.collect_dtmf:
            play |= _key_wait(MESSAGE_REF, call.key_timeout)
        body: dict[str, object] = {
            "owner_ref": call.correlation_key,
            "from": call.caller_id,
            "to": call.to,
            "action_on_connect": {"play": play},
        }
        if call.callback_url:
            body["event_url"] = call.callback_url
        headers = {
            **_headers(credentials),
            "Content-Type": "application/json",
            "Idempotency-Key": call.correlation_key,
        }
        return HttpRequest("POST", f"{credentials.base_url}/call", headers, body)

    def _read_accepted(self, document: Mapping[str, object]) -> DialAnswer:
        code, message = self._error_fields(document)
        state = (_parsing.text(document, "state") or "").lower()
        voice_id = _parsing.text(document, "voice_id")
        if state == "failed":
            return Refused(code or "failed", message or "EnableX could not initiate the call", 200)
        if voice_id is None:
            return Refused("unreadable", f"answer has no voice_id ({', '.join(document)})", 200)
        return Accepted(voice_id)

    def _error_fields(self, document: Mapping[str, object]) -> tuple[str | None, str | None]:
        return _parsing.text(document, "result"), _parsing.text(document, "msg", "message")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookResult:
        document = _parsing.json_object(body)
        if document is None:
            return Unparseable(f"not a JSON object: {_parsing.excerpt(body)}")
        return read_event(document)

    def follow_up_request(self, event: CallEvent, credentials: Credentials) -> HttpRequest | None:
        if event.follow_up is FollowUp.HANG_UP and event.call_id:
            return HttpRequest(
                "DELETE", _call_url(credentials, event.call_id), _headers(credentials)
            )
        return None

    def replay_request(
        self,
        call_id: str,
        message: RenderedMessage,
        key_timeout: int | None,
        credentials: Credentials,
    ) -> HttpRequest:
        """`PUT {base}/call/{voice_id}/play`: the message again, waiting for a key; its events
        carry prompt_ref REPLAY_REF."""
        play = _play(message) | _key_wait(REPLAY_REF, key_timeout)
        headers = {**_headers(credentials), "Content-Type": "application/json"}
        return HttpRequest("PUT", f"{_call_url(credentials, call_id)}/play", headers, play)

    def lookup_request(self, call_id: str, credentials: Credentials) -> HttpRequest:
        """Ask for a call's live state, to reconcile a call whose events never came."""
        return HttpRequest("GET", _call_url(credentials, call_id), _headers(credentials))

    def parse_lookup_answer(
        self, call_id: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> CallEvent | Refused | Transient:
        """The answer to `lookup_request` as an event; a call EnableX no longer knows has ended.

        EnableX only describes live calls: 400 (the one error its page documents) or 404 means
        the call is over, which is a hang-up to settle like `disconnected`.
        """
        document = _parsing.json_object(body) or {}
        if status in (400, 404):
            said = _parsing.text(document, "msg") or f"HTTP {status}"
            reason = f"no longer live: {said}"
            return CallEvent(
                EventKind.FINAL, call_id, progress=Progress.ENDED, provider_reason=reason
            )
        failure = self.failed_answer(status, headers, body, document)
        if failure is not None:
            return failure
        state = _parsing.text(document, "state")
        if state is None:
            return Refused(
                "unreadable", f"lookup answer has no state: {_parsing.excerpt(body)}", status
            )
        progress = _LIVE_STATES.get(state.lower())
        return CallEvent(
            EventKind.PROGRESS if progress else EventKind.INFO,
            _parsing.text(document, "voice_id") or call_id,
            progress=progress,
            provider_reason=state,
            occurred_at=_parsing.timestamp(document.get("timestamp")),
        )


def read_event(document: Mapping[str, object]) -> WebhookResult:
    """One EnableX event object, from a webhook body."""
    call_id = _parsing.text(document, "voice_id", "voice_Id")
    key = _parsing.text(document, "owner_ref")
    if call_id is None and key is None:
        return Unparseable("an EnableX event names a voice_id (or voice_Id) or an owner_ref")
    playstate = _parsing.text(document, "playstate")
    state = _parsing.text(document, "state")
    known = _PLAY_STATES if playstate else _CALL_STATES
    said = playstate or state
    if said is None:
        return Unparseable("an EnableX event has a state or a playstate")
    lowered = said.lower()
    kind, progress, outcome = known.get(lowered, (EventKind.INFO, None, None))
    if lowered == "disconnected" and not playstate:
        disconnect_reason = _parsing.text(document, "disconnect_reason")
        if (disconnect_reason or "").lower() == _BUSY:
            outcome = Outcome.BUSY
        detail = disconnect_reason
    else:  # a refused play carries EnableX's code and message
        words = (_parsing.text(document, "result"), _parsing.text(document, "msg"))
        detail = " ".join(word for word in words if word) or None
    return CallEvent(
        kind,
        call_id,
        correlation_key=key,
        progress=progress,
        outcome=outcome,
        provider_reason=f"{said}: {detail}" if detail else said,
        dtmf=_parsing.dtmf_digits(document.get("digit")),
        occurred_at=_parsing.timestamp(document.get("timestamp", document.get("timeStamp"))),
        follow_up=FollowUp.HANG_UP if playstate and lowered in _HANG_UP_AFTER else None,
        no_key=bool(playstate) and lowered == "menutimeout",
        replayed=_parsing.text(document, "prompt_ref") == REPLAY_REF,
    )


def _play(message: RenderedMessage) -> dict[str, object]:
    """The `play` object: exactly one of text (with voice and language), ssml, prompt_name, url."""
    if message.kind is MessageKind.TTS:
        return {
            "text": message.content,
            "voice": message.voice or DEFAULT_VOICE,
            "language": message.language or DEFAULT_LANGUAGE,
        }
    if message.kind is MessageKind.SSML:
        return {"ssml": message.content}
    if message.kind is MessageKind.PROMPT:
        return {"prompt_name": message.content}
    return {"url": message.content}  # an audio URL, the campaign's or the contact's own


def _key_wait(prompt_ref: str, key_timeout: int | None) -> dict[str, object]:
    """Wait for a key after the play. EnableX documents no wait of its own for keys: the key
    timeout is sent as `start_timeout`, its documented wait for the caller's input (1-10 s)."""
    wait: dict[str, object] = {"dtmf": True, "prompt_ref": prompt_ref}
    if key_timeout is not None:
        wait["start_timeout"] = key_timeout
    return wait


def _headers(credentials: Credentials) -> dict[str, str]:
    pair = f"{credentials.account or ''}:{credentials.secret}".encode()
    return {
        "Authorization": f"Basic {base64.b64encode(pair).decode('ascii')}",
        "Accept": "application/json",
    }


def _call_url(credentials: Credentials, call_id: str) -> str:
    return f"{credentials.base_url}/call/{quote(call_id, safe='')}"
