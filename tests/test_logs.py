"""Log lines: plain or JSON, each naming the actor, the job and the user; secrets redacted everywhere."""

from __future__ import annotations

import io
import json
import logging

import pytest

from transhades.actors.base import ExitMonitor, SupervisedActor
from transhades.app import logs
from transhades.media import LocalFile
from transhades.messages import JobRequest, SubmitJob

TOKEN = "123456789:" + "A" * 35
KEY = "gsk_" + "z" * 40


class Quiet:
    def tell(self, message):
        pass


class Talker(SupervisedActor):
    def receive(self, message):
        logging.getLogger("transhades.test").info("working on it with %s", KEY)
        if message.request.id == "boom":
            try:
                raise ValueError(f"token {TOKEN} was refused")
            except ValueError:
                logging.getLogger("transhades.test").exception("it broke")


@pytest.fixture
def captured():
    stream = io.StringIO()
    yield stream
    logs.setup(logging.WARNING)


def talk(job_id: str) -> None:
    actor = Talker.start("cache", ExitMonitor(Quiet(), "cache", 1))
    try:
        actor.ask(SubmitJob(JobRequest(job_id, "501", LocalFile("x.ogg")), print), timeout=5)
    finally:
        actor.stop()


def test_json_lines_name_actor_job_and_user_and_hide_secrets(captured):
    logs.setup(logging.INFO, captured, [KEY], fmt="json")
    talk("boom")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    mine = [line for line in lines if line["logger"] == "transhades.test"]
    assert [(line["actor"], line["job_id"], line["user_id"]) for line in mine] == [("cache", "boom", "501")] * 2
    assert mine[0]["message"] == "working on it with [redacted]" and mine[0]["level"] == "info"
    assert "Traceback" in mine[1]["error"] and "[redacted] was refused" in mine[1]["error"]
    assert KEY not in captured.getvalue() and TOKEN not in captured.getvalue()


def test_plain_lines_carry_the_same_context(captured):
    logs.setup(logging.INFO, captured, [KEY])
    talk("tg-5-6-7")
    line = next(text for text in captured.getvalue().splitlines() if "working on it" in text)
    assert "[cache job=tg-5-6-7 user=501] transhades.test: working on it with [redacted]" in line


def test_a_line_from_outside_any_actor_says_so(captured):
    logs.setup(logging.INFO, captured, fmt="json")
    logging.getLogger("transhades.test").info("hello")
    line = json.loads(captured.getvalue())
    assert (line["actor"], line["job_id"], line["user_id"]) == ("MainThread", "-", "-")
