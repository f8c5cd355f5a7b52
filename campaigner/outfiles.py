"""Where an output file goes: replaced whole, or written straight to.

A report or a rejects file is written to a hidden temporary file beside its path and renamed over
it once complete, so that a failure never leaves a half-written file. That is wrong for a path
that is not a file: renaming over `/dev/null`, `/dev/stdout` or a named pipe would replace the
device or the pipe with an ordinary file. Such paths are written straight to; there is nothing
in them for a half-written output to spoil.
"""

from __future__ import annotations

import stat
from pathlib import Path


def written_in_place(path: Path) -> bool:
    """Whether `path` is a device, a pipe or a socket (not a file, nor a directory)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
