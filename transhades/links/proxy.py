"""A forward proxy on loopback through which yt-dlp makes every request of an extraction (the page, its redirects,
the site's API calls, formats): each is refused unless the link policy allows the address its host resolves to, and
the connection goes to that very address (no second lookup to rebind). yt-dlp follows redirects and sends its own
user agent, so checking the page once before handing it over is not enough: a page may redirect yt-dlp, and not us,
to an address outside ``allow_networks``.

Plain http arrives as ``GET http://host/path`` (forwarded, and answered, with ``Connection: close``: one request per
connection, so no client reuses one this proxy has closed), https as ``CONNECT host:443``
(a tunnel; the TLS stays between yt-dlp and the site).
"""

from __future__ import annotations

import logging
import select
import socket
import socketserver
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)
BUFFER = 65536
FORBIDDEN = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class CheckingProxy:
    def __init__(self, refusal: Callable[[str], str | None], timeout: float,
                 resolve: Callable[..., Any] = socket.getaddrinfo) -> None:
        self.refusal, self.timeout, self.resolve = refusal, timeout, resolve
        self.refused: list[str] = []  # why each refused request was refused (what the user is told)
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._serve(self)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                         name="transhades-link-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CheckingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _address(self, host: str, port: int) -> tuple[str, int] | None:
        """The address to connect to, or None (the reason kept) when the policy refuses it."""
        try:
            found = self.resolve(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            self.refused.append(f"{host}: no such host")
            return None
        for *_, address in found:
            why = self.refusal(address[0])
            if why is not None:
                self.refused.append(why)
                log.info("links: an extraction's request to %s refused: %s", host, why)
                return None
        return found[0][4][0], port

    def _serve(self, handler: socketserver.StreamRequestHandler) -> None:
        client = handler.connection
        client.settimeout(self.timeout)
        line = handler.rfile.readline(BUFFER).decode("latin-1")
        headers = []
        while True:
            header = handler.rfile.readline(BUFFER)
            if header in (b"\r\n", b"\n", b""):
                break
            headers.append(header.decode("latin-1"))
        method, target, *_ = (line.split() + ["", ""])[:3]
        opened = self._tunnel(client, target) if method.upper() == "CONNECT" else \
            self._forward(client, method, target, headers)
        if opened is None:
            client.sendall(FORBIDDEN)
        if not isinstance(opened, socket.socket):
            return
        with opened:
            _pipe(client, opened, self.timeout)

    def _tunnel(self, client: socket.socket, target: str) -> socket.socket | None:
        """``CONNECT host:port``: a connection to the checked address, told to the client; None when refused."""
        host, _, port_text = target.rpartition(":")
        address = self._address(host, int(port_text)) if port_text.isdigit() else None
        if address is None:
            return None
        upstream = socket.create_connection(address, timeout=self.timeout)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return upstream

    def _forward(self, client: socket.socket, method: str, target: str,
                 headers: list[str]) -> socket.socket | None | bool:
        """``GET http://host/path``: the request sent on to the checked address, its answer's head relayed (told
        ``Connection: close``); the connection, for the body; None when refused; False when already answered."""
        parts = urlsplit(target)
        try:
            number: int | None = parts.port or 80
        except ValueError:
            number = None
        address = self._address(parts.hostname or "", number) if parts.scheme == "http" and number else None
        if address is None:
            return None
        upstream = socket.create_connection(address, timeout=self.timeout)
        kept = [h for h in headers if not h.lower().startswith(("connection:", "proxy-connection:", "keep-alive:"))]
        query = "?" + parts.query if parts.query else ""
        upstream.sendall(f"{method} {parts.path or '/'}{query} HTTP/1.1\r\n".encode("latin-1")
                         + "".join(kept).encode("latin-1") + b"Connection: close\r\n\r\n")
        if not _relay_head(upstream, client):  # the server closed without an answer
            upstream.close()
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return False
        return upstream


def _relay_head(upstream: socket.socket, client: socket.socket) -> bool:
    """The response's status line and headers, told ``Connection: close``: this proxy serves one request per
    connection, so a client that kept the connection for its next request (a redirect's) would find it closed."""
    head = b""
    while b"\r\n\r\n" not in head:
        if len(head) > BUFFER:
            return False
        try:
            data = upstream.recv(BUFFER)
        except OSError:
            return False
        if not data:
            return False
        head += data
    head, _, rest = head.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n")
             if not line.lower().startswith((b"connection:", b"keep-alive:", b"proxy-connection:"))]
    client.sendall(b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + rest)
    return True


def _pipe(one: socket.socket, other: socket.socket, timeout: float) -> None:
    """Bytes both ways until either side closes or nothing moves for ``timeout``."""
    sockets = [one, other]
    while True:
        readable, _, _ = select.select(sockets, [], [], timeout)
        if not readable:
            return
        for source in readable:
            try:
                data = source.recv(BUFFER)
            except OSError:
                return
            if not data:
                return
            (other if source is one else one).sendall(data)
