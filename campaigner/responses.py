"""Keypress responses: the menu of keys a campaign offers, its opt-out key, and what a key means.

Pure (no I/O), so the rules are tested as tables. A campaign with a menu or an opt-out key asks
the provider to collect one key after the message; the receiver turns the key into the contact's
response with `KeyMenu.response_for`.

The opt-out prompt ("To stop receiving these calls, press 9.") is appended to a TTS or SSML
message unless the template already says "press 9" (or "press nine"). An audio file or a stored
prompt cannot be extended: its recording must say it, and `campaign create` warns about that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import ValidationError

KEYS = "0123456789*#"
OPT_OUT = "opt_out"  # contacts.response of a callee who pressed the opt-out key
OTHER = "other"  # contacts.response of a key that is not on the menu
MAX_KEY_TIMEOUT = 60
_LABEL = re.compile(r"[a-z0-9][a-z0-9_\-]{0,39}")
_KEY_WORDS = {
    "0": "zero",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
    "*": "star",
    "#": "pound",
}


@dataclass(frozen=True)
class KeyMenu:
    """What a campaign does with key presses; the empty menu collects none."""

    keys: Mapping[str, str] = field(default_factory=dict)  # key -> label, e.g. {"1": "confirmed"}
    opt_out_key: str | None = None
    key_timeout: int | None = None  # seconds to wait for a key; None: the provider's default
    replay_on_no_input: bool = False  # play the message once more if no key was pressed

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @property
    def collects_keys(self) -> bool:
        return bool(self.keys) or self.opt_out_key is not None

    def validate(self) -> None:
        labels: dict[str, str] = {}
        for key, label in self.keys.items():
            _check_key(key, f"--key {key}={label}")
            if not _LABEL.fullmatch(label):
                raise ValidationError(
                    f"--key {key}={label}: the label must be 1-40 lower-case letters, digits, "
                    "_ or -, starting with a letter or digit"
                )
            if label in (OPT_OUT, OTHER):
                raise ValidationError(
                    f"--key {key}={label}: {label!r} is reserved (opt_out: the opt-out key, "
                    "other: a key not on the menu)"
                )
            if label in labels:
                raise ValidationError(
                    f"--key {key}={label}: label {label!r} is already given to key {labels[label]}"
                )
            labels[label] = key
        if self.opt_out_key is not None:
            _check_key(self.opt_out_key, f"--opt-out-key {self.opt_out_key}")
            if self.opt_out_key in self.keys:
                raise ValidationError(
                    f"--opt-out-key {self.opt_out_key} is also a menu key "
                    f"({self.opt_out_key}={self.keys[self.opt_out_key]}): choose another digit"
                )
        if not self.collects_keys and (self.key_timeout is not None or self.replay_on_no_input):
            raise ValidationError(
                "--key-timeout and --replay-on-no-input need a menu (--key) or an --opt-out-key"
            )
        if self.key_timeout is not None and not 1 <= self.key_timeout <= MAX_KEY_TIMEOUT:
            raise ValidationError(
                f"--key-timeout must be 1 to {MAX_KEY_TIMEOUT} seconds, not {self.key_timeout}"
            )

    def response_for(self, digits: str) -> str | None:
        """The response a key press means: the first key decides. None: no key in `digits`."""
        key = next((char for char in digits if char in KEYS), None)
        if key is None:
            return None
        if key == self.opt_out_key:
            return OPT_OUT
        return self.keys.get(key, OTHER)

    def opt_out_prompt(self) -> str | None:
        if self.opt_out_key is None:
            return None
        return f"To stop receiving these calls, press {self.opt_out_key}."

    def mentions_opt_out(self, text: str) -> bool:
        """Whether a message already tells the callee the opt-out key ("press 9", "press nine")."""
        key = self.opt_out_key
        if key is None:
            return False
        names = "|".join(re.escape(name) for name in (key, _KEY_WORDS[key]))
        pattern = rf"\bpress(?:ing)?\s+(?:the\s+)?(?:key\s+)?(?:{names})(?![\w*#])"
        return re.search(pattern, text, re.IGNORECASE) is not None


def _check_key(key: str, where: str) -> None:
    if len(key) != 1 or key not in KEYS:
        raise ValidationError(f"{where}: a key is one of 0-9, * or #")


def parse_key_option(value: str) -> tuple[str, str]:
    """`1=confirmed` from `--key`: (key, label)."""
    key, sep, label = value.partition("=")
    if not sep or not key.strip() or not label.strip():
        raise ValidationError(f"--key {value!r} must look like DIGIT=LABEL, e.g. 1=confirmed")
    return key.strip(), label.strip().lower()
