"""A stop asked for while ``transhades run`` is still loading its modules is remembered, not fatal: the command
line (``transhades.__main__``) installs this guard before it imports anything else, and the service's own stop
handlers take up what it caught (``service.stop_signals``). A supervisor's SIGTERM during a boot is then a clean
stop, exit 0."""

from __future__ import annotations

import os
import signal

caught: list[int] = []
_previous: dict[int, object] = {}


def guard(argv: list[str], service: bool = False) -> None:
    """For ``transhades run`` (or ``service``: ``supervisor.py``, which runs nothing else); every other command keeps
    Python's default handlers."""
    program = os.path.basename(argv[0]) if argv else ""
    command = next((arg for arg in argv[1:] if not arg.startswith("-")), None)  # options before it take no value
    if not service and (program not in ("transhades", "__main__.py") or command != "run") or _previous:
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        _previous[sig] = signal.signal(sig, lambda signum, _frame: caught.append(signum))


def leave(code: int) -> int:
    """The process's exit code, kept even when a child that did not stop in time still runs native threads (a model
    decoding): those would abort the interpreter's exit ("terminate called without an active exception", SIGABRT),
    so the process leaves at once, its output flushed."""
    import sys

    tree = sys.modules.get("transhades.app.tree")
    if tree is not None and tree.ABANDONED:
        print(f"stopped without waiting for {', '.join(tree.ABANDONED)}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def taken() -> list[int]:
    """The signals caught before the service's handlers were in place (each once); the guard is done."""
    _previous.clear()
    out = list(caught)
    caught.clear()
    return out
