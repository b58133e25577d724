"""Honest health and an honest exit, in a real ``transhades run`` process whose PostgreSQL (``database_url``) the
test stops: /readyz turns 503 and says why once the database has been away past the grace period; a bot that
cannot do its job past its restarts stops the tree and the process exits 1 (for its process supervisor to start
it again); started again once the database is back, it answers the note that arrived meanwhile, once."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

from conftest import wait_for
from servers import OwnPostgres, free_port
from test_process import TEXT, Service, voices  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, str(error)


def test_a_database_away_makes_the_process_unready_then_exit_1_and_the_restarted_one_answers(tmp_path, voices):
    pg = OwnPostgres()
    service = Service(tmp_path, delay=0.1)
    port = free_port()
    text = service.config.read_text().replace("http: {port: 0}", f"http: {{port: {port}}}")
    service.config.write_text(text + f"""database_url: "{pg.url}"
supervision: {{max_restarts: 1, within_seconds: 60, backoff: {{min_seconds: 0.1, max_seconds: 0.2, jitter: 0}},
               database_wait_seconds: 1}}
""")
    try:
        first = service.start()
        wait_for(lambda: readyz(port)[0] == 200, timeout=60, what=f"ready; {service.output()[-2000:]}")
        pg.stop()
        began = time.monotonic()
        code, why = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(readyz(port)), timeout=30,
                             what="not ready while the database is away")
        assert "the database (database_url) has not answered" in why and time.monotonic() - began >= 9
        note = service.world.post_voice(501, voices[0])
        assert first.wait(60) == 1, service.output()[-3000:]
        last = service.output().strip().splitlines()[-1]
        assert last.startswith("error: the actor tree stopped: bot failed: DatabaseUnavailable: the database could "
                               "not be reached"), last
        pg.start()
        second = service.start()
        wait_for(lambda: service.answers()[note] == 1, timeout=60, what=f"the note answered; "
                                                                         f"{service.output()[-3000:]}")
        assert readyz(port)[0] == 200
        second.terminate()
        assert second.wait(25) == 0
        assert service.answers()[note] == 1
    finally:
        service.close()
        pg.close()
