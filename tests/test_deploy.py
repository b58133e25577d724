"""Deployment, tested with the real tools against the shared fake Telegram: supervisord (PyPI's ``supervisor``,
installed in the same environment as transhades) with ``deploy/supervisord.conf``, and honcho with the
``Procfile``. The bot answers; under supervisord a ``kill -9`` is restarted by the tool and the next note answered
once; a stop drains and exits 0."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, wait_for
from test_process import TEXT, Service, voices  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def tool(name: str) -> str:
    found = shutil.which(name) or (str(Path(sys.executable).parent / name)
                                   if (Path(sys.executable).parent / name).exists() else None)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return found


def environment(service: Service) -> dict[str, str]:
    return {**os.environ, "TRANSHADES_FAKE_TELEGRAM": str(service.world_path), "GROQ_API_KEY": "gsk_" + "k" * 40,
            "TELEGRAM_BOT_TOKEN": "123456:" + "t" * 35, "TRANSHADES_HOME": str(service.tmp),
            "TRANSHADES_CONFIG": str(service.config)}


def test_supervisord_from_pypi_lives_beside_transhades_restarts_a_killed_bot_and_stops_it_cleanly(tmp_path, voices):
    beside = subprocess.run([sys.executable, "-c", "import supervisor.options, transhades.app.tree, "
                             "transhades.actors.bot; print(supervisor.__file__)"], cwd=tmp_path, capture_output=True,
                            text=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    if beside.returncode != 0 and "No module named 'supervisor'" in beside.stderr:
        pytest.skip("supervisord is not installed (pip install -e '.[dev]')")
    assert beside.returncode == 0, beside.stderr  # PyPI's supervisord and transhades, in one environment
    assert "site-packages" in beside.stdout and str(ROOT) not in beside.stdout
    service = Service(tmp_path, delay=0.1)
    conf = tmp_path / "supervisord.conf"
    shutil.copy(ROOT / "deploy" / "supervisord.conf", conf)
    env = environment(service)
    log = open(tmp_path / "supervisord.log", "w")
    daemon = subprocess.Popen([tool("supervisord"), "-c", str(conf)], env=env, stdout=log, stderr=subprocess.STDOUT)
    ctl = [tool("supervisorctl"), "-c", str(conf)]

    def pid() -> int:
        out = subprocess.run([*ctl, "pid", "transhades"], capture_output=True, text=True, env=env).stdout.strip()
        return int(out) if out.isdigit() and out != "0" else 0

    def output() -> str:
        return (tmp_path / "supervisord.log").read_text()

    try:
        first = service.world.post_voice(501, voices[0])
        wait_for(lambda: service.answers()[first] == 1, timeout=90, what=f"the first note; {output()[-3000:]}")
        before = pid()
        os.kill(before, signal.SIGKILL)
        wait_for(lambda: pid() not in (0, before), timeout=60, what=f"supervisord restarting it; {output()[-2000:]}")
        second = service.world.post_voice(501, voices[1])
        wait_for(lambda: service.answers()[second] == 1, timeout=90, what=f"the next note; {output()[-3000:]}")
        stopped = subprocess.run([*ctl, "stop", "transhades"], capture_output=True, text=True, env=env, timeout=60)
        assert "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
        assert "exit status 0" in output() or "stopped: transhades (terminated by SIGTERM)" not in output()
        assert '"message": "stopped"' in output(), output()[-2000:]
        assert service.answers()[first] == 1 and service.answers()[second] == 1
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        service.close()


def test_the_procfile_under_honcho_answers_and_a_stop_drains_and_exits_0(tmp_path, voices):
    service = Service(tmp_path, delay=0.1)
    env_file = tmp_path / "honcho.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in environment(service).items()
                                if k.startswith(("TRANSHADES_", "GROQ_", "TELEGRAM_"))))
    log = open(tmp_path / "honcho.log", "w")
    honcho = subprocess.Popen([tool("honcho"), "-f", str(ROOT / "Procfile"), "-d", str(ROOT), "-e", str(env_file),
                               "start", "worker"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def output() -> str:
        return (tmp_path / "honcho.log").read_text()

    try:
        note = service.world.post_voice(501, voices[2])
        wait_for(lambda: service.answers()[note] == 1, timeout=90, what=f"the note; {output()[-3000:]}")
        began = time.monotonic()
        honcho.send_signal(signal.SIGTERM)  # as a platform stops a dyno; honcho itself then exits 128 + 15
        honcho.wait(40)
        assert time.monotonic() - began < 30
        assert '"message": "stopped"' in output() and "worker.1 stopped (rc=0)" in output(), output()[-2000:]
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
        service.close()


def test_the_systemd_unit_is_valid_where_systemd_can_check_it(tmp_path):
    analyze = shutil.which("systemd-analyze")
    unit = ROOT / "deploy" / "systemd" / "transhades.service"
    text = unit.read_text()
    for line in ("ExecStart=/srv/transhades/venv/bin/transhades run", "KillSignal=SIGTERM", "Restart=on-failure",
                 "TimeoutStopSec=30"):
        assert line in text
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here; the unit's lines were checked")
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in done.stderr.splitlines()
                if "transhades.service" in line and "Command /srv/transhades" not in line
                and "User=" not in line]
    assert not problems, done.stderr
