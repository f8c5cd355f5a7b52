"""The webhook receiver: providers post call events here, and they are stored, then applied.

    app = create_app(database, settings, on_applied=dialer.on_applied)
    async with serving(app, "127.0.0.1", 8080) as running:
        ...  # webhooks go to auth.callback_url(public_url, provider)

`create_app` builds the receiver (routes, credentials, the group-commit writer, the
follow-up sender); `start_receiver` / `serving` serve it in the running event loop, and
`serving_in_child` from a process of its own.
The rules it applies (duplicates, reordering, orphans) live in `campaigner.store.attempts`.
"""

from ._app import DEFAULT_MAX_BODY, ReceiverApp, create_app
from ._auth import WebhookAuth
from ._child import ReceiverFailed, serving_in_child
from ._server import RunningReceiver, serving, start_receiver
from ._writer import StoreFailed

__all__ = [
    "DEFAULT_MAX_BODY",
    "ReceiverApp",
    "ReceiverFailed",
    "RunningReceiver",
    "StoreFailed",
    "WebhookAuth",
    "create_app",
    "serving",
    "serving_in_child",
    "start_receiver",
]
