"""The package's own servers (transhades.devtools.servers) for tests: they skip cleanly where the programs are not
installed, and fail instead where CI requires them (TRANSHADES_REQUIRE_REDIS/POSTGRES=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from transhades.devtools import servers
from transhades.devtools.servers import free_port  # noqa: F401  (for the tests)


def _missing(exc: servers.Missing, variable: str):
    if os.environ.get(variable) == "1":
        pytest.fail(str(exc))
    pytest.skip(str(exc))


def OwnRedis(folder: Path, persist: bool = True) -> servers.OwnRedis:  # noqa: N802
    try:
        return servers.OwnRedis(folder, persist)
    except servers.Missing as exc:
        _missing(exc, "TRANSHADES_REQUIRE_REDIS")
        raise


def OwnPostgres() -> servers.OwnPostgres:  # noqa: N802
    try:
        return servers.OwnPostgres()
    except servers.Missing as exc:
        _missing(exc, "TRANSHADES_REQUIRE_POSTGRES")
        raise
