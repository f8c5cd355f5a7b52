"""The signature check the README gives to receiving systems agrees with what campaigner sends."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from campaigner.notifications import sign

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_signature_check_accepts_campaigners_signatures_only() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (snippet,) = [block for block in blocks if "def is_from_campaigner" in block]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    check = namespace["is_from_campaigner"]
    body = b'{"id":"n-1","type":"contact.final"}'
    assert check("s3cret", body, sign("s3cret", body))
    assert not check("s3cret", body + b"\n", sign("s3cret", body))
    assert not check("other", body, sign("s3cret", body))
