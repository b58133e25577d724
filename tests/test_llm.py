"""The chat model behind /translate and /summary, against a loopback server that answers as Groq's
chat-completions endpoint does (bodies, 429 with Retry-After and x-ratelimit headers, 5xx, 401)."""

from __future__ import annotations

import json

import pytest
from provider_servers import ProviderServer, Reply, chat_completion, echo_model, groq_chat_429, openai_error

from transhades.errors import ProviderRejectedKey, ProviderUnavailable, RateLimited
from transhades.llm.client import ChatModel
from transhades.providers.http import RetryPolicy


class Clock:
    """The model's clock and sleep: a sleep moves the clock, and is recorded."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@pytest.fixture
def server():
    made: list[ProviderServer] = []

    def make(replies=None, respond=None) -> ProviderServer:
        made.append(ProviderServer(replies, respond))
        return made[-1]

    yield make
    for s in made:
        s.close()


def model(url: str, clock: Clock, **kwargs) -> ChatModel:
    return ChatModel(url + "/openai/v1", "llama-3.3-70b-versatile", "gsk_secret", timeout=10,
                     retry=RetryPolicy(3, 0.01, 0.02), sleep=clock.sleep, now=clock.now, **kwargs)


def sent(received) -> dict:
    return json.loads(received.body)


def test_a_translation_is_one_request_with_the_target_language_named_and_the_key_sent(server):
    s = server(respond=echo_model)
    answer = model(s.url, Clock()).answer("translate", "Selamat pagi, terima kasih.", "en")
    assert answer == "<translation English> Selamat pagi, terima kasih."
    (got,) = s.received
    assert got.path == "/openai/v1/chat/completions"
    assert got.headers["Authorization"] == "Bearer gsk_secret"
    body = sent(got)
    assert body["model"] == "llama-3.3-70b-versatile"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "into English" in body["messages"][0]["content"]


def test_a_long_transcript_goes_in_pieces_at_sentence_ends_and_comes_back_joined_in_order(server):
    s = server(respond=echo_model)
    sentences = [f"Sentence number {n} is here." for n in range(40)]
    answer = model(s.url, Clock(), max_input_chars=300).answer("translate", " ".join(sentences), "id")
    pieces = [sent(r)["messages"][1]["content"] for r in s.received]
    assert len(pieces) > 3 and all(len(p) <= 300 for p in pieces)
    assert all(p.endswith(".") for p in pieces), "cut at sentence ends"
    assert " ".join(pieces) == " ".join(sentences), "nothing lost, nothing repeated"
    assert answer.split("\n\n") == [f"<translation Indonesian> {p}" for p in pieces], "joined in order"


def brief(received) -> Reply:
    """A model whose summary is the first three words of what it got."""
    body = json.loads(received.body)
    return Reply(200, chat_completion(" ".join(body["messages"][1]["content"].split()[:3]) + "."))


def test_the_summaries_of_several_pieces_are_merged_into_one(server):
    s = server(respond=brief)
    text = " ".join(f"Point {n} matters a lot." for n in range(30))
    answer = model(s.url, Clock(), max_input_chars=300).answer("summary", text, "id")
    instructions = [sent(r)["messages"][0]["content"] for r in s.received]
    assert len(instructions) >= 3
    assert all("summary" in i.lower() and "Indonesian" in i for i in instructions)
    assert "Merge" in instructions[-1] and all("Merge" not in i for i in instructions[:-1]), "merged once, at the end"
    pieces = [sent(r)["messages"][1]["content"] for r in s.received[:-1]]
    merged = sent(s.received[-1])["messages"][1]["content"]
    assert merged.split("\n\n") == [" ".join(p.split()[:3]) + "." for p in pieces], "each piece's summary, in order"
    assert answer == "Point 0 matters.."


def test_summaries_that_do_not_fit_one_request_are_merged_in_rounds_and_a_model_that_does_not_shorten_stops(server):
    s = server(respond=echo_model)  # echoes: never shorter
    text = " ".join(f"Point {n} matters a lot." for n in range(30))
    answer = model(s.url, Clock(), max_input_chars=300).answer("summary", text, "id")
    assert "Point 0" in answer and "Point 29" in answer, "nothing lost when the model cannot shorten"
    assert len(s.received) < 30


def test_a_short_rate_limit_is_waited_out_for_as_long_as_the_server_says(server):
    s = server([groq_chat_429(2), Reply(200, chat_completion("Good morning."))])
    clock = Clock()
    assert model(s.url, clock).answer("translate", "Selamat pagi.", "en") == "Good morning."
    assert clock.slept == [2.0], "Retry-After, not a guess"
    assert len(s.received) == 2


def test_a_long_rate_limit_fails_at_once_and_the_model_is_left_alone_until_its_deadline(server):
    s = server([groq_chat_429(600)])
    clock = Clock()
    chat = model(s.url, clock, max_wait=60)
    with pytest.raises(RateLimited) as first:
        chat.answer("summary", "Selamat pagi.", "en")
    assert first.value.retry_after == pytest.approx(600)
    assert clock.slept == []
    clock.t += 100
    with pytest.raises(RateLimited) as second:
        chat.answer("summary", "Selamat pagi.", "en")
    assert len(s.received) == 1, "quarantined: no request until the deadline"
    assert second.value.retry_after == pytest.approx(500)
    assert "\n" not in str(second.value)
    other = ChatModel(s.url + "/openai/v1", "m", None, sleep=clock.sleep, now=clock.now, quarantine=chat.quarantine)
    with pytest.raises(RateLimited):
        other.answer("summary", "Selamat pagi.", "en")
    assert len(s.received) == 1, "a second model actor shares the quarantine"


def test_server_errors_are_retried_with_backoff_and_a_503_with_a_wait_is_waited_out(server):
    s = server([Reply(500, openai_error("internal error", "internal_server_error")),
                Reply(503, openai_error("over capacity", "service_unavailable"), {"retry-after": "3"}),
                Reply(200, chat_completion("Done."))])
    clock = Clock()
    assert model(s.url, clock).answer("translate", "Halo.", "en") == "Done."
    assert len(s.received) == 3
    assert clock.slept[-1] == 3.0 and len(clock.slept) == 2, "one backoff for the 500, then the 503's own wait"


def test_a_rejected_key_and_an_empty_answer_are_one_line_errors(server):
    s = server([Reply(401, openai_error("Invalid API Key", "invalid_request_error", "invalid_api_key"))])
    with pytest.raises(ProviderRejectedKey, match="the API key was rejected"):
        model(s.url, Clock()).answer("translate", "Halo.", "en")
    s2 = server([Reply(200, chat_completion(""))])
    with pytest.raises(ProviderUnavailable, match="empty message"):
        model(s2.url, Clock()).answer("translate", "Halo.", "en")
    s3 = server([Reply(200, {"choices": []})])
    with pytest.raises(ProviderUnavailable, match="without a message"):
        model(s3.url, Clock()).answer("translate", "Halo.", "en")


# ------------------------------------------------------------------------------------------------ the actor

def test_the_model_actor_answers_every_request_even_one_its_client_crashes_on(server):
    from types import SimpleNamespace

    import pykka
    from conftest import wait_for

    from transhades.actors.llm import LlmActor
    from transhades.messages import AskModel
    from transhades.supervision.registry import Registry

    answers: list = []
    exits: list = []

    class Bot(pykka.ThreadingActor):
        def on_receive(self, message):
            answers.append(message)

    s = server([groq_chat_429(600), Reply(200, chat_completion("Good morning."))])
    registry = Registry()
    bot = Bot.start()
    registry.register("bot", bot)
    monitor = SimpleNamespace(exited=lambda crashed, reason: exits.append((crashed, reason)))
    ref = LlmActor.start("llm", monitor, registry=registry, build=lambda: model(s.url, Clock()))
    try:
        ref.tell(AskModel("bot", "translate", "Selamat pagi.", "en", context="first"))
        wait_for(lambda: answers, what="an answer")
        assert answers[0].context == "first" and isinstance(answers[0].error, RateLimited)
        assert "rate limited" in str(answers[0].error) and ref.is_alive(), "an expected failure is an answer"
        ref.tell(AskModel("bot", "bogus", "Selamat pagi.", "en", context="second"))  # a bug: an unknown task
        wait_for(lambda: len(answers) == 2 and exits, what="the crash")
        assert answers[1].context == "second" and "internal error" in str(answers[1].error)
        assert exits[0][0] is True and "ValueError" in exits[0][1], "it crashed, for its supervisor to restart"
    finally:
        bot.stop()
        if ref.is_alive():
            ref.stop()


# ------------------------------------------------------------------------------------------------ the bot's side

def test_an_answer_replaces_the_status_message_and_a_long_rate_limit_says_when_to_try_again():
    from transhades.telegram.actions import Ask
    from transhades.telegram.followups import Followups
    from transhades.telegram.outbox import Outbox, Outgoing

    outbox = Outbox()
    followups = Followups(None, outbox, local=False, llm=1)
    ask = Ask("ask-1", 5, 77, "id", "translate", "en")
    outbox.put(Outgoing("text", 5, "Menerjemahkan ke Inggris…", reply_to=77, key=("ask", "ask-1")))
    followups.answered(ask, "x " * 2500, None)  # the status message is not out yet: it says the answer's start
    texts = [item.text for item in outbox.queue]
    assert len(texts) == 2 and texts[0].startswith("Terjemahan (Inggris):\n\nx x") and len(texts[0]) <= 4096
    assert outbox.queue[0].key is None and outbox.queue[0].kind == "text"

    outbox.queue.clear()
    followups.sent(("ask", "ask-2"), 1234)  # this one went out as message 1234
    followups.answered(Ask("ask-2", 5, 77, "en", "summary", "en"), None, RateLimited("language model: busy", 600))
    (item,) = outbox.queue
    assert (item.kind, item.message_id) == ("edit", 1234)
    assert item.text == "The language model is busy; please try again in about 10 min."


def test_each_user_has_one_ask_at_a_time_and_asks_spread_over_the_model_actors(tmp_path):
    from transhades.telegram.actions import UseModel
    from transhades.telegram.followups import Followups, Where
    from transhades.telegram.history import History
    from transhades.telegram.outbox import Outbox
    from transhades.transcript import Transcript

    history = History(tmp_path / "h.sqlite3")
    for user in (1, 2):
        history.add(user, f"job-{user}", Transcript(f"words of user {user}", "en", 3.0, "local"))
    outbox = Outbox()
    followups = Followups(history, outbox, local=True, llm=2)

    def ask(user: int) -> list:
        return followups.summary(Where(user, user, 10, "en", f"{user}-10"))

    (first,) = ask(1)
    assert isinstance(first, UseModel) and first.text == "words of user 1" and first.ask.actor == "llm-1"
    assert ask(1) == [] and outbox.queue[-1].text.startswith("I am still working on your last"), "one at a time"
    (other,) = ask(2)
    assert other.ask.actor == "llm-2", "another user's ask goes to the other model actor"
    followups.answered(first.ask, "a summary", None)
    (again,) = ask(1)
    assert again.ask.actor == "llm-1"


def test_a_language_code_nobody_knows_and_a_forged_button_get_one_line_and_ask_nothing(tmp_path):
    from transhades.telegram.followups import Followups, Where
    from transhades.telegram.history import History
    from transhades.telegram.outbox import Outbox
    from transhades.transcript import Transcript

    history = History(tmp_path / "h.sqlite3")
    history.add(1, "job-1", Transcript("words", "en", 3.0, "local"))
    outbox = Outbox()
    followups = Followups(history, outbox, local=True, llm=1)
    where = Where(1, 1, 10, "en", "1-10")
    assert followups.translate(where, "xx") == []
    assert outbox.queue[-1].text == "I do not know the language code 'xx'. Use a code such as en, id, es or de."
    assert followups.translate(where, "english") == [] and outbox.queue[-1].text.startswith("Write the language")
    assert followups.translate(Where(2, 2, 10, "id", "2-10"), "es", "job-1") == [], "another user's transcript"
    assert outbox.queue[-1].text.startswith("Tidak ada transkrip Anda yang tersimpan")
    assert followups.pending == {}, "nothing was asked of the model"
    assert len(followups.translate(where, "es", "job-1")) == 1, "a known code goes to the model"
