"""Files that hold users' data (transcripts, settings, the journal, sessions) are this user's alone.

Folders transhades creates are mode 0700 and its database files 0600, set explicitly after creation so that no
umask widens them. Parent folders that already existed (``~/.cache``) are left as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's companions hold the same data as the database


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents as 0700; make ``path`` itself 0700 if it existed wider."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Make sure a database file exists as 0600 before SQLite opens it (SQLite gives its -wal and -shm files
    the database's own mode); files from older versions are narrowed too."""
    path = Path(path)
    private_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SIDE_FILES)):
        try:
            if candidate.stat().st_mode & 0o077:
                os.chmod(candidate, 0o600)
        except FileNotFoundError:
            continue
    return path
