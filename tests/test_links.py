"""Links instead of uploads: a real HTTP server on loopback with redirects, wrong types, oversize files, a page, a
slow answer and errors; the fetcher's refusals of private addresses (before connecting, after every redirect, and
at the address actually reached); then the whole path through the CLI and the bot."""

from __future__ import annotations

import dataclasses
import http.server
import ipaddress
import socket
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import SAMPLES, run_cli, wait_for

from transhades.errors import BadInput, Cancelled, ProviderUnavailable, TranshadesError
from transhades.links.fetch import LinkFetcher, LinkPolicy, find_link, shown

VOICE = (SAMPLES / "hello-en.ogg").read_bytes()
HALO = (SAMPLES / "halo-id.ogg").read_bytes()


class Recordings(http.server.BaseHTTPRequestHandler):
    """What cloud drives and file servers answer: files under odd names and types, redirects, refusals."""

    protocol_version = "HTTP/1.1"
    served: list[str] = []
    dropped: set[str] = set()
    trickles_ended: list[float] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/octet-stream", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # one branch per kind of answer, read as a table
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.served.append(url.path)
        if url.path == "/download":  # a drive's download: no extension, a wrong type
            self._send(200, VOICE, "text/plain")
        elif url.path == "/halo":
            self._send(200, HALO, "audio/ogg")
        elif url.path.startswith("/hop/"):  # /hop/3 -> /hop/2 -> ... -> /download
            left = int(url.path.rsplit("/", 1)[1])
            self._send(302, b"", Location="/download" if left == 0 else f"/hop/{left - 1}")
        elif url.path == "/to":
            self._send(302, b"", Location=query["url"][0])
        elif url.path == "/page":
            self._send(200, b"<!DOCTYPE html><html><body>Share: voice.ogg</body></html>", "text/html")
        elif url.path == "/text":
            self._send(200, b"just some words, not a recording at all " * 40, "audio/ogg")
        elif url.path == "/declared-huge":
            self.send_response(200)
            self.send_header("Content-Length", str(5_000_000_000))
            self.end_headers()
            self.wfile.write(VOICE[:1000])
        elif url.path == "/endless":  # no length given, more than any limit
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            block = b"\0" * 65536
            try:
                for _ in range(2000):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
            except OSError:
                return
        elif url.path == "/drops-once":  # the connection breaks mid-file the first time, then the file comes whole
            first = url.path not in self.dropped
            self.dropped.add(url.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(VOICE)))
            self.end_headers()
            self.wfile.write(VOICE[: len(VOICE) // 3] if first else VOICE)
            if first:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
        elif url.path == "/trickle":  # a byte now and then, for ever: inside any per-read timeout
            self.send_response(200)
            self.send_header("Content-Length", str(10_000_000))
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                self.trickles_ended.append(time.monotonic())  # the client shut the connection
        elif url.path == "/slow":
            time.sleep(3)
            self._send(200, VOICE)
        elif url.path == "/gone":
            self._send(404, b"Not Found", "text/plain")
        elif url.path == "/broken":
            self._send(503, b"Service Unavailable", "text/plain", Retry_After="30")
        else:
            self._send(404, b"", "text/plain")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up on an oversize or refused answer is what these tests do


@pytest.fixture(scope="module")
def server():
    httpd = Server(("127.0.0.1", 0), Recordings)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


LOOPBACK = LinkPolicy(allow_private=True, max_bytes=20_000_000, timeout_seconds=1.5)


def failure(policy: LinkPolicy, url: str, tmp_path: Path, stop=None, **kw) -> TranshadesError:
    target = tmp_path / "refused" / "source"
    with pytest.raises(TranshadesError) as caught:
        LinkFetcher(policy, **kw).fetch(url, target, stop=stop)
    assert not target.exists(), "nothing half-fetched is left behind"
    return caught.value


def test_a_link_without_extension_or_right_type_is_fetched_byte_for_byte(server, tmp_path):
    fractions = []
    local = LinkFetcher(LOOPBACK).fetch(f"{server}/download", tmp_path / "source", fractions.append)
    assert Path(local.path).read_bytes() == VOICE
    assert fractions and fractions[-1] == 1.0


def test_redirects_are_followed_five_times_and_no_more(server, tmp_path):
    local = LinkFetcher(LOOPBACK).fetch(f"{server}/hop/4", tmp_path / "source")  # five redirects
    assert Path(local.path).read_bytes() == VOICE
    error = failure(LOOPBACK, f"{server}/hop/5", tmp_path)  # six
    assert isinstance(error, BadInput) and error.reason == "link_redirects"
    assert "more than 5 times" in str(error)


def test_private_loopback_and_link_local_addresses_are_refused_by_default(server, tmp_path):
    served = len(Recordings.served)
    error = failure(LinkPolicy(), f"{server}/download", tmp_path)
    assert isinstance(error, BadInput) and error.reason == "link_private"
    assert "loopback address (127.0.0.1)" in str(error) and "links.allow_private" in str(error)
    assert len(Recordings.served) == served, "refused before a single request"
    for url, what in [("http://169.254.169.254/latest/meta-data/", "link-local"), ("http://10.1.2.3/a.ogg", "private"),
                      ("http://[::1]:9/a.ogg", "loopback"), ("http://224.0.0.1/x", "multicast"),
                      ("http://0.0.0.0/x", "unspecified"), ("http://[::ffff:192.168.1.5]/x", "private")]:
        error = failure(LinkPolicy(), url, tmp_path)
        assert error.reason == "link_private" and f"{what} address" in str(error), url


def test_every_redirect_is_checked_again(server, tmp_path):
    """Only the file server is allowed (127.0.0.1/32): its redirect to another loopback address (127.0.0.2, also
    this machine) and to the cloud metadata address are refused, though the first hop was fine."""
    only_server = LinkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),), timeout_seconds=2)
    assert Path(LinkFetcher(only_server).fetch(f"{server}/hop/1", tmp_path / "ok").path).read_bytes() == VOICE
    port = urlsplit(server).port
    for target in (f"http://127.0.0.2:{port}/download", "http://169.254.169.254/latest/meta-data/"):
        error = failure(only_server, f"{server}/to?url={target}", tmp_path)
        assert error.reason == "link_private" and urlsplit(target).hostname in str(error), target


def test_an_address_that_changes_between_the_check_and_the_connection_is_refused(server, tmp_path):
    """DNS rebinding: the name resolves to a public address when checked, the connection reaches loopback."""
    public = lambda host, port, type=0: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]  # noqa: E731
    port = urlsplit(server).port
    error = failure(LinkPolicy(timeout_seconds=2), f"http://localhost:{port}/download", tmp_path, resolve=public)
    assert error.reason == "link_private" and "127.0.0.1" in str(error)


def test_size_is_checked_before_and_during_the_download(server, tmp_path):
    small = LinkPolicy(allow_private=True, max_bytes=1_000_000, timeout_seconds=5)
    error = failure(small, f"{server}/declared-huge", tmp_path)
    assert error.reason == "too_large" and "5000 MB" in str(error)
    error = failure(small, f"{server}/endless", tmp_path)
    assert error.reason == "too_large" and "larger than 1 MB" in str(error)


def test_pages_errors_timeouts_and_other_schemes_each_say_what_is_wrong(server, tmp_path):
    cases = [(f"{server}/page", BadInput, "link_page", "is a web page"),
             (f"{server}/gone", BadInput, "link_status", "answered 404"),
             (f"{server}/broken", ProviderUnavailable, "link_status", "answered 503"),
             (f"{server}/slow", ProviderUnavailable, "link_unreachable", "no answer within 2 s"),
             ("http://127.0.0.1:1/a.ogg", ProviderUnavailable, "link_unreachable", "cannot connect"),
             ("file:///etc/passwd", BadInput, "link_bad", "not an http(s) link"),
             ("ftp://example.org/a.ogg", BadInput, "link_bad", "not an http(s) link"),
             ("http://no-such-host.invalid/a.ogg", BadInput, "link_unreachable", "no such host")]
    for url, kind, reason, words in cases:
        error = failure(LOOPBACK, url, tmp_path)
        assert isinstance(error, kind) and error.reason == reason and words in str(error), (url, error)
        assert "\n" not in str(error)


def test_a_server_that_trickles_for_ever_is_cut_off_at_max_seconds_with_its_connection_shut(server, tmp_path):
    """A byte every 0.2 s keeps inside the per-read timeout for ever; the whole download has ``max_seconds``, then
    its connection is shut (the server sees it go) and the user is told the server is too slow."""
    from transhades.telegram.texts import reason_text

    policy = dataclasses.replace(LOOPBACK, timeout_seconds=1.0, max_seconds=2.0)
    began = time.monotonic()
    error = failure(policy, f"{server}/trickle", tmp_path)
    took = time.monotonic() - began
    assert 2.0 <= took < 4.0, took
    assert isinstance(error, ProviderUnavailable) and "links.max_seconds" in error.message
    assert reason_text("en", error).startswith("the link's server sends the recording too slowly")
    wait_for(lambda: any(t >= began + 2.0 for t in Recordings.trickles_ended), timeout=3,
             what="the server to see its connection shut")
    assert LinkFetcher(policy).fetch(f"{server}/halo", tmp_path / "after" / "source"), "the next fetch is unaffected"


def test_a_download_that_breaks_off_is_removed_and_the_job_fetches_it_again(server, tmp_path):
    """The server drops the connection a third of the way in: nothing half-fetched stays, the error says it broke
    off (a server fault, so the job tries again), and the job's next attempt gets the whole file."""
    Recordings.dropped.discard("/drops-once")
    error = failure(LOOPBACK, f"{server}/drops-once", tmp_path)
    assert isinstance(error, ProviderUnavailable) and error.reason == "link_unreachable"
    assert "broke off" in str(error)

    from test_tree import Script

    from transhades import config as config_lib
    from transhades.app.tree import start_tree
    from transhades.media import WebLink
    from transhades.messages import Completed, JobRequest, SubmitJob

    Recordings.dropped.discard("/drops-once")
    config = config_lib.parse({"providers": [{"name": "alpha", "kind": "openai", "base_url": "http://127.0.0.1:9",
                                              "api_key": "k"}], "cache": {"backend": "memory"},
                               "audio": {"temp_dir": str(tmp_path / "tmp")}, "links": {"allow_private": True}},
                              env={})
    tree = start_tree(config, provider_factory=Script().factory)
    try:
        events: list = []
        tree.tell_dispatcher(SubmitJob(JobRequest("link-1", "u", WebLink(f"{server}/drops-once")), events.append))
        done = wait_for(lambda: next((e for e in events if isinstance(e, Completed)), None), timeout=30,
                        what=f"the job to finish; got {events}")
        assert "by alpha" in done.transcript.text
        assert Recordings.served.count("/drops-once") >= 2
    finally:
        tree.stop()


def test_a_port_out_of_range_and_an_ipv6_host_are_said_as_they_are(tmp_path):
    from transhades.telegram.texts import reason_text

    assert shown("http://[2001:db8::1]:8080/a.ogg?sig=secret") == "http://[2001:db8::1]:8080/a.ogg"
    error = failure(LinkPolicy(), "http://example.com:99999/a.ogg", tmp_path)
    assert isinstance(error, BadInput) and error.message.startswith("http://example.com:99999/a.ogg: the port is not")
    assert reason_text("en", error) == "the link's port is not a number from 1 to 65535; check the link"
    assert reason_text("id", error).startswith("port pada tautan itu bukan angka")


def test_links_are_found_in_text_and_shown_without_their_secrets():
    assert find_link("dengarkan ini: https://drive.example/file/d/abc/view?usp=sharing.") == \
        "https://drive.example/file/d/abc/view?usp=sharing"
    assert find_link("(see http://x.example/a.ogg)") == "http://x.example/a.ogg"
    assert find_link("no link here, only www.example.org") is None
    assert shown("https://user:pw@bucket.example/a.ogg?X-Amz-Signature=secret") == "https://bucket.example/a.ogg"


# ----------------------------------------------------------------------------------------------- the CLI


def config_file(tmp_path: Path, links: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"providers:\n  - {{name: local, kind: local, model: base}}\n"
                    f"cache: {{backend: sqlite, path: {tmp_path / 'cache.sqlite3'}}}\nlinks: {links}\n")
    return path


@pytest.mark.slow
def test_transcribe_a_link_and_the_same_recording_as_a_file_is_transcribed_once(server, tmp_path):
    import json

    config = config_file(tmp_path, "{allow_private: true}")
    done = run_cli("transcribe", "--config", str(config), "--format", "json", f"{server}/hop/2?token=s3cr3t",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first = json.loads(done.stdout)
    assert "welcome" in first["text"].lower() and first["cached"] is False
    assert "s3cr3t" not in done.stdout + done.stderr, "a link's query (a signed link's token) is not repeated"
    again = run_cli("transcribe", "--config", str(config), "--format", "json", str(SAMPLES / "hello-en.ogg"),
                    cwd=tmp_path)
    second = json.loads(again.stdout)
    assert second["cached"] is True and second["text"] == first["text"], \
        "the cache knows the recording by its bytes, not by where it came from"


def test_transcribe_refuses_a_private_link_in_one_line_by_default(server, tmp_path):
    done = run_cli("transcribe", "--config", str(config_file(tmp_path, "{}")), f"{server}/download?key=abc",
                   str(tmp_path / "missing.ogg"), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert lines[0] == (f"error: {server}/download: {server}/download points to a loopback address (127.0.0.1), "
                        "which links may not reach; an operator can allow it with links.allow_private or "
                        "links.allow_networks")
    assert "abc" not in done.stderr and len(lines) == 2, "the other file still gets its own line"


def test_with_links_turned_off_a_link_is_one_clear_error(server, tmp_path):
    done = run_cli("transcribe", "--config", str(config_file(tmp_path, "{enabled: false}")), f"{server}/download",
                   cwd=tmp_path)
    assert done.returncode == 1
    assert f"error: {server}/download: links are turned off here (links.enabled); send the file itself" in \
        done.stderr.splitlines()


# ----------------------------------------------------------------------------------------------- the bot


@pytest.fixture
def bot(tmp_path):
    """The whole tree with the local model against the fake Telegram, ``links:`` as given."""
    from transhades import config as config_lib
    from transhades.app.tree import start_tree
    from transhades.telegram.fake import FakeGateway, FakeTelegram

    started = []

    def start(links: dict, name: str):
        world, sessions = FakeTelegram(), tmp_path / name / "sessions"
        raw = {"providers": [{"name": "local", "kind": "local", "model": "base"}],
               "cache": {"backend": "sqlite", "path": str(tmp_path / name / "cache.sqlite3")},
               "data_dir": str(tmp_path / name / "data"), "languages": ["id", "en"], "links": links,
               "telegram": {"bot_token": "123456:" + "x" * 35, "session_dir": str(sessions),
                            "credentials": [{"name": "API-1", "api_id": 1001, "api_hash": "h" * 32}],
                            "send_interval_seconds": 0.01, "edit_interval_seconds": 0.02}}
        tree = start_tree(config_lib.parse(raw, env={}),
                          gateway_factory=lambda c, r: FakeGateway(world, c.name, sessions, r))
        started.append(tree)
        wait_for(lambda: world.receiver is not None, what="the receiving session")
        return world

    yield start
    for tree in started:
        tree.stop()


def said(world, chat_id: int, needle: str, timeout: float = 60) -> str:
    return wait_for(lambda: next((t for t in world.texts_to(chat_id) if needle in t.lower()), None), timeout,
                    what=f"a message with {needle!r}; got {world.texts_to(chat_id)}")


@pytest.mark.slow
def test_a_link_sent_to_the_bot_is_transcribed_like_a_voice_note(server, bot):
    world = bot({"allow_private": True}, "open")
    budi = world.user(501, "id", "Budi")
    world.deliver(world.text_message(budi, f"tolong transkripsi {server}/halo ya"))
    said(world, 501, "terima kasih", timeout=120)


@pytest.mark.slow
def test_one_users_slow_links_take_one_fetcher_and_another_users_link_goes_meanwhile(server, bot):
    """links.per_user (1): user A's two trickling links are fetched one at a time, so user B's ordinary link takes
    the other fetcher at once and is transcribed while A's first link still trickles."""
    world = bot({"allow_private": True, "workers": 2, "timeout_seconds": 5}, "slots")
    ayu, budi = world.user(501, "en", "Ayu"), world.user(502, "id", "Budi")
    served = Recordings.served.count("/trickle")
    world.deliver(world.text_message(ayu, f"{server}/trickle?one"))
    world.deliver(world.text_message(ayu, f"{server}/trickle?two"))
    wait_for(lambda: Recordings.served.count("/trickle") >= served + 1, what="A's first trickle under way")
    world.deliver(world.text_message(budi, f"tolong {server}/halo"))
    said(world, 502, "terima kasih", timeout=120)
    assert Recordings.served.count("/trickle") == served + 1, "A's second link waits for A's first, not B"
    world.deliver(world.text_message(ayu, "/cancel"))
    said(world, 501, "cancelled 2 job(s)")


@pytest.mark.slow
def test_cancel_stops_a_users_trickling_downloads_at_once_and_another_users_link_goes_on(server, bot):
    """User A's two links trickle (a byte now and then, for ever) and hold both fetchers (links.per_user 2); user B's
    ordinary link waits. A's /cancel shuts A's connections within a second, and B's link is fetched and
    transcribed."""
    world = bot({"allow_private": True, "workers": 2, "per_user": 2, "timeout_seconds": 5}, "fair")
    ayu, budi = world.user(501, "en", "Ayu"), world.user(502, "id", "Budi")
    before = len(Recordings.trickles_ended)
    world.deliver(world.text_message(ayu, f"{server}/trickle?one"))
    world.deliver(world.text_message(ayu, f"{server}/trickle?two"))
    wait_for(lambda: Recordings.served.count("/trickle") >= 2, what="both trickles under way")
    world.deliver(world.text_message(budi, f"tolong {server}/halo"))
    world.deliver(world.text_message(ayu, "/cancel"))
    said(world, 501, "cancelled 2 job(s)")
    began = time.monotonic()
    wait_for(lambda: len(Recordings.trickles_ended) >= before + 2, timeout=5, what="both trickles shut")
    assert time.monotonic() - began < 2.0
    said(world, 502, "terima kasih", timeout=120)


def test_the_bot_tells_a_private_link_and_links_off_in_the_users_language(server, bot):
    world = bot({}, "default")
    budi = world.user(501, "id", "Budi")
    world.deliver(world.text_message(budi, f"{server}/download"))
    refusal = said(world, 501, "alamat privat")
    assert "127.0.0.1" not in refusal, "the user reads the reason; the address is for the log"
    world = bot({"enabled": False}, "off")
    ayu = world.user(502, "en", "Ayu")
    world.deliver(world.text_message(ayu, f"look: {server}/download"))
    said(world, 502, "does not open links")


def test_a_link_job_is_written_down_and_shared_like_a_file_job():
    """The bot's journal and the cluster's stream carry link jobs too (a restart or a worker resumes them)."""
    from transhades.cluster.codec import dump_request, load_request
    from transhades.media import WebLink
    from transhades.messages import JobRequest

    request = JobRequest("tg-501-7-7", "501", WebLink("https://files.example/a.ogg?sig=1"), language="id",
                         language_hint="id")
    assert load_request(dump_request(request)) == request


# ----------------------------------------------------------------------------------------------- pages (yt-dlp)


class Pages(Recordings):
    """A video site's page on loopback: an HTML5 player whose source is the recording, and a page with none."""

    def do_GET(self) -> None:
        if self.path == "/watch/rapat":
            self._send(200, b'<!DOCTYPE html><html><head><meta property="og:title" content="Rapat Senin"></head>'
                            b'<body><video controls><source src="/media/rapat" type="audio/ogg"></video></body></html>',
                       "text/html; charset=utf-8")
        elif self.path == "/media/rapat":
            self._send(200, HALO, "audio/ogg")
        elif self.path == "/watch/nothing":
            self._send(200, b"<!DOCTYPE html><html><body><p>No player here.</p></body></html>", "text/html")
        else:
            super().do_GET()


@pytest.fixture(scope="module")
def pages():
    pytest.importorskip("yt_dlp", reason="the links extra (yt-dlp) is not installed")
    httpd = Server(("127.0.0.1", 0), Pages)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_with_extractors_a_page_gives_the_recording_it_shows_and_without_it_is_refused(pages, tmp_path):
    extracting = LinkPolicy(allow_private=True, timeout_seconds=5, extractors=True)
    local = LinkFetcher(extracting).fetch(f"{pages}/watch/rapat", tmp_path / "source")
    assert Path(local.path).read_bytes() == HALO
    error = failure(extracting, f"{pages}/watch/nothing", tmp_path)
    assert error.reason == "link_page" and "no recording" in str(error)
    error = failure(LOOPBACK, f"{pages}/watch/rapat", tmp_path)
    assert error.reason == "link_page" and "is a web page" in str(error)


def test_what_a_page_names_is_fetched_with_every_check(pages, tmp_path):
    """The page is allowed (127.0.0.1/32), the recording it names is on another address: refused."""
    only_pages = LinkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),), timeout_seconds=5,
                            extractors=True)
    port = urlsplit(pages).port

    class Elsewhere(Pages):
        def do_GET(self) -> None:
            if self.path == "/watch/elsewhere":
                self._send(200, (f'<!DOCTYPE html><html><body><audio src="http://127.0.0.2:{port}/media/rapat">'
                                 f'</audio></body></html>').encode(), "text/html")
            else:
                super().do_GET()

    httpd = Server(("127.0.0.1", 0), Elsewhere)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        error = failure(only_pages, f"http://127.0.0.1:{httpd.server_address[1]}/watch/elsewhere", tmp_path)
    finally:
        httpd.shutdown()
    assert error.reason == "link_private" and "127.0.0.2" in str(error)


def test_yt_dlps_own_requests_pass_the_address_checks_too(pages, tmp_path):
    """The page is allowed (127.0.0.1/32) and serves its HTML to transhades' user agent; any other user agent (yt-dlp
    reads the page again with its own) is redirected to 127.0.0.2, outside allow_networks: that request never
    reaches 127.0.0.2, and the user is told why."""
    only_pages = LinkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),), timeout_seconds=5,
                            extractors=True)
    reached: list[str] = []

    class Cloaked(Pages):
        def do_GET(self) -> None:
            if self.path == "/watch/cloaked" and "transhades" not in self.headers.get("User-Agent", ""):
                self._send(302, b"", Location=f"http://127.0.0.2:{self.server.server_address[1]}/watch/inside")
            elif self.path == "/watch/cloaked":
                self._send(200, b"<!DOCTYPE html><html><body><p>Nothing for you.</p></body></html>", "text/html")
            else:
                reached.append(self.path)
                super().do_GET()

    httpd = Server(("0.0.0.0", 0), Cloaked)  # on every loopback address: 127.0.0.2 would answer if asked
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        error = failure(only_pages, f"http://127.0.0.1:{httpd.server_address[1]}/watch/cloaked", tmp_path)
    finally:
        httpd.shutdown()
    assert error.reason == "link_private" and "127.0.0.2" in str(error), error
    assert "/watch/inside" not in reached, "the redirect's target was never asked"


@pytest.mark.slow
def test_a_page_link_through_the_cli_with_extractors_on(pages, tmp_path):
    config = config_file(tmp_path, "{allow_private: true, extractors: true}")
    done = run_cli("transcribe", "--config", str(config), "--language", "id", f"{pages}/watch/rapat", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "terima kasih" in done.stdout.lower()


@pytest.mark.slow
def test_a_link_typed_into_transhades_chat_is_answered_with_its_transcript(server, tmp_path):
    import json

    config = config_file(tmp_path, "{allow_private: true}")
    done = run_cli("chat", "--json", "--config", str(config), "--language", "id", cwd=tmp_path, timeout=240,
                   stdin=f"ini rekamannya: {server}/halo\n")
    assert done.returncode == 0, done.stderr
    said = [json.loads(line) for line in done.stdout.splitlines()]
    assert any("terima kasih" in e.get("text", "").lower() for e in said if e["event"] in ("send", "edit")), said


def test_a_download_stops_within_a_second_of_its_job_being_cancelled(server, tmp_path):
    cancelled = threading.Event()
    threading.Timer(0.5, cancelled.set).start()
    began = time.monotonic()
    error = failure(LOOPBACK, f"{server}/trickle", tmp_path, stop=cancelled.is_set)
    assert isinstance(error, Cancelled) and time.monotonic() - began < 1.5


def test_a_links_query_string_is_never_logged_even_at_debug(server, tmp_path):
    """Signed links carry their token in the query: urllib3's own debug line ("GET /halo?sig=… HTTP/1.1") and ours
    leave it out at any verbosity."""
    import io
    import logging

    from transhades.app import logs

    stream = io.StringIO()
    logs.setup(logging.DEBUG, stream)
    pool, parent = logging.getLogger("urllib3.connectionpool"), logging.getLogger("urllib3")
    was = pool.disabled, pool.level, parent.level
    # urllib3 at debug, as -vv would have it (a library imported by another test quietens it)
    pool.disabled, pool.level, parent.level = False, logging.NOTSET, logging.DEBUG
    try:
        LinkFetcher(LOOPBACK).fetch(f"{server}/halo?X-Amz-Signature=s3cr3tsig&expires=1", tmp_path / "q" / "source")
        logging.getLogger("transhades.links").info("fetched %s", f"{server}/halo?X-Amz-Signature=s3cr3tsig")
    finally:
        logs.setup(logging.WARNING)
        pool.disabled, pool.level, parent.level = was
    written = stream.getvalue()
    assert "GET /halo?…" in written, "urllib3's request line is there, without its query"
    assert "s3cr3tsig" not in written and "expires=1" not in written
