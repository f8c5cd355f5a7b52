"""The command line's process at its exit."""

from __future__ import annotations

import subprocess
import sys

# Registered before campaigner's own handlers, so it runs after them (atexit runs last-in first).
_PROBE = """
import atexit, gc
atexit.register(lambda: print("frozen", gc.get_freeze_count() > 0))
from campaigner.cli import main
main(["--version"])
"""


def test_objects_are_frozen_before_the_interpreter_s_last_collection() -> None:
    """A command's objects are frozen at exit, so that the interpreter's final collection does not
    walk them all (`cli.app`)."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "frozen True"
