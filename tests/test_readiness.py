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


def test_an_unreachable_cluster_redis_at_start_is_one_line_naming_the_setting_and_exit_3(tmp_path):
    from conftest import run_cli

    (tmp_path / "config.yaml").write_text(f"""
providers: [{{name: local, kind: local}}]
data_dir: "{tmp_path / 'data'}"
cluster: {{redis_url: "redis://:sup3rsecretpw@127.0.0.1:{free_port()}/0"}}
telegram: {{bot_token: "123456:{'t' * 35}", credentials: [{{name: a, api_id: 1, api_hash: "{'a' * 32}"}}]}}
http: {{port: 0}}
""")
    done = run_cli("run", "--role", "worker", "--config", str(tmp_path / "config.yaml"), cwd=tmp_path, timeout=60)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the cluster's Redis at cluster.redis_url")
    assert "sup3rsecretpw" not in done.stderr + done.stdout and "Traceback" not in done.stderr


@pytest.mark.parametrize("setting, value", [
    ("cluster", 'cluster: {redis_url: "redis://:sup3rsecretpw@127.0.0.1:63x79/0"}'),
    ("database", 'database_url: "postgresql://app:sup3rsecretpw@127.0.0.1:99999/test"'),
    ("cache", 'cache: {backend: redis, url: "redis://:sup3rsecretpw@127.0.0.1:0/0"}'),
])
def test_a_malformed_server_port_is_a_bad_setting_exit_2_not_an_unreachable_server(tmp_path, setting, value):
    """Exit 3 (cannot reach) makes a process supervisor restart the process for ever; a port that is no port is a
    mistake in the config, exit 2, in one line naming the key."""
    from conftest import run_cli

    (tmp_path / "config.yaml").write_text(f"""
providers: [{{name: local, kind: local}}]
data_dir: "{tmp_path / 'data'}"
{value}
telegram: {{bot_token: "123456:{'t' * 35}", credentials: [{{name: a, api_id: 1, api_hash: "{'a' * 32}"}}]}}
http: {{port: 0}}
""")
    role = ["--role", "worker"] if setting == "cluster" else []
    done = run_cli("run", *role, "--config", str(tmp_path / "config.yaml"), cwd=tmp_path, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not a number from 1 to 65535" in lines[0], lines
    assert lines[0].startswith(f"error: {'cluster.redis_url' if setting == 'cluster' else 'database_url' if setting == 'database' else 'cache.url'}: ")
    assert "sup3rsecretpw" not in done.stderr + done.stdout and "Traceback" not in done.stderr


@pytest.mark.redis
def test_a_fronts_readiness_holds_through_a_short_redis_restart_and_names_a_long_outage(tmp_path):
    """A real front (its own Redis and PostgreSQL): a Redis restart shorter than the 10 s grace keeps /readyz 200 at
    every probe (the front's dispatcher may be slow meanwhile, and says so); Redis away for longer turns it 503 after
    the grace, naming Redis; back, it is ready again."""
    from servers import OwnRedis

    from transhades.devtools.lab import Lab, Provider

    (tmp_path / "redis").mkdir()
    redis, pg, provider = OwnRedis(tmp_path / "redis", persist=True), OwnPostgres(), Provider(0.1)
    lab = Lab(tmp_path, provider, redis, pg, lease_seconds=20)
    try:
        front = lab.start("front")
        lab.start("worker")  # the front is ready once a worker's provider is usable
        wait_for(lambda: readyz(front.port)[0] == 200, timeout=90,
                 what=f"the front ready; {readyz(front.port)} {lab.output(front)[-2000:]}")
        probes: list[tuple[int, str]] = []
        redis.stop()
        began = time.monotonic()
        while time.monotonic() - began < 4.0:
            probes.append(readyz(front.port))
            time.sleep(0.25)
        redis.start()
        wait_for(lambda: readyz(front.port) == (200, "ready\n"), timeout=20, what="ready again after the restart")
        assert all(code == 200 for code, _ in probes), [p for p in probes if p[0] != 200][:3]

        redis.stop()
        began = time.monotonic()
        code, why = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(readyz(front.port)), timeout=20,
                             what="not ready once Redis has been away past the grace")
        assert time.monotonic() - began >= 9.5, "not before the grace"
        assert "Redis has not answered" in why or "dispatcher has not answered" in why, why
        redis.start()
        wait_for(lambda: readyz(front.port)[0] == 200, timeout=30, what="ready once Redis is back")
        assert front.popen.poll() is None, "an outage shorter than the lease stops nothing"
    finally:
        lab.close()
        redis.stop()
        pg.close()
        provider.close()
