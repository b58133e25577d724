"""Downloading a recording from a link, safely: only http(s), at most five redirects, the size limit checked before
and during the download, timeouts, and no private address unless allowed.

Addresses are checked twice: every host is resolved before it is asked (a refusal says which address), and every
connection checks the address it actually reached (so a name that resolves to a public address once and to a
private one the next time, DNS rebinding, is refused too). Proxies from the environment are not used: they would
make the checked address the proxy's. What the file is, is found later by probing its bytes, not from its name or
its Content-Type; a web page is recognised by its first bytes, for a clear answer.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from transhades.config import LinksConfig
from transhades.errors import BadInput, Cancelled, ProviderUnavailable
from transhades.media import LocalFile

MAX_REDIRECTS = 5
BLOCK = 1 << 20
_LINK = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_PAGE = re.compile(rb"^\s*(<!doctype html|<html|<head|<body|<\?xml|<!--)", re.IGNORECASE)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def find_link(text: str | None) -> str | None:
    """The first http(s) link in a message's text, without the punctuation that ends a sentence around it."""
    match = _LINK.search(text or "")
    return match.group(0).rstrip(".,;:!?)]}»”’") if match else None


def is_link(argument: str) -> bool:
    """A command-line argument that is a link rather than a file name."""
    return bool(re.match(r"https?://", argument, re.IGNORECASE))


def shown(url: str) -> str:
    """A link as logs and errors show it: scheme, host and path; no user, password or query (signed links carry
    their token there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 address keeps its brackets
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # out of range or not a number: shown as written (the fetch refuses it in so many words)
        port = ":" + parts.netloc.rsplit(":", 1)[-1][:8]
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


@dataclass(frozen=True)
class LinkPolicy:
    allow_private: bool = False  # a LAN server, or tests on loopback
    allow_networks: tuple[Network, ...] = ()  # these networks only, when not every private address is allowed
    max_bytes: int = 2_000_000_000
    timeout_seconds: float = 30.0
    extractors: bool = False  # a page is handed to yt-dlp for the recording it shows (``links.extract``)
    max_seconds: float = 300.0  # the whole download, however the server paces it (``links.max_seconds``)

    def refusal(self, address: str) -> str | None:
        """Why an address may not be asked, or None."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if self.allow_private or any(ip in network for network in self.allow_networks):
            return None
        for what, flag in (("a loopback", ip.is_loopback), ("a link-local", ip.is_link_local),
                           ("a multicast", ip.is_multicast), ("a reserved", ip.is_reserved),
                           ("an unspecified", ip.is_unspecified), ("a private", ip.is_private)):
            if flag:
                return f"{what} address ({ip})"
        return None


def policy_of(cfg: LinksConfig) -> LinkPolicy:
    """The policy ``links:`` in config.yaml sets."""
    return LinkPolicy(cfg.allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in cfg.allow_networks),
                      int(cfg.max_mb * 1_000_000), cfg.timeout_seconds, cfg.extractors, cfg.max_seconds)


class _Page(Exception):
    """The link opened a web page (its first bytes say so), not a recording."""


class _Refused(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _checked(connection_class: type[HTTPConnection], policy: LinkPolicy,
             opened: list[socket.socket]) -> type[HTTPConnection]:
    class Checked(connection_class):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            why = policy.refusal(sock.getpeername()[0])
            if why is not None:
                sock.close()
                raise _Refused(why)
            opened.append(sock)  # cut at the deadline, or when the job is cancelled
            return sock

    return Checked


class _CheckedAdapter(HTTPAdapter):
    """requests' adapter whose connections refuse a peer the policy refuses, after connecting and before sending."""

    def __init__(self, policy: LinkPolicy, opened: list[socket.socket]) -> None:
        self.policy, self.opened = policy, opened
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http = type("CheckedHTTPPool", (HTTPConnectionPool,),
                    {"ConnectionCls": _checked(HTTPConnection, self.policy, self.opened)})
        https = type("CheckedHTTPSPool", (HTTPSConnectionPool,),
                     {"ConnectionCls": _checked(HTTPSConnection, self.policy, self.opened)})
        self.poolmanager.pool_classes_by_scheme = {"http": http, "https": https}


class _Download:
    """One fetch's connections, to shut them all at once (its deadline passed, or its job was cancelled)."""

    def __init__(self) -> None:
        self.opened: list[socket.socket] = []
        self.cut = threading.Event()
        self.done = threading.Event()
        self.cancelled = False

    def watch(self, seconds: float, stop: Callable[[], bool] | None) -> None:
        """Until the fetch is done: shut it at its deadline, or within a quarter second of ``stop()``."""
        deadline = time.monotonic() + seconds
        while not self.done.wait(0.25 if stop is not None else max(0.0, deadline - time.monotonic())):
            if stop is not None and stop():
                self.cancelled = True
                self.abort()
                return
            if time.monotonic() >= deadline:
                self.abort()
                return

    def abort(self) -> None:
        self.cut.set()
        for sock in list(self.opened):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed already


class LinkFetcher:
    """Fetches one link to a file; every refusal is a :class:`BadInput` with a reason a user can be told."""

    def __init__(self, policy: LinkPolicy, resolve: Callable[..., Any] = socket.getaddrinfo) -> None:
        self.policy = policy
        self.resolve = resolve

    def fetch(self, url: str, target: Path, progress: Callable[[float], None] | None = None,
              headers: dict[str, str] | None = None, page: bool = True,
              stop: Callable[[], bool] | None = None) -> LocalFile:
        """The recording behind ``url`` in ``target``; a page is read by yt-dlp when ``extractors`` is on (once:
        what a page names is fetched as a file). The whole of it takes at most ``max_seconds`` (a server that
        trickles a byte at a time keeps inside the per-read timeout for ever): then every connection is shut, as it
        is within a quarter second of ``stop()`` turning true (the job was cancelled)."""
        download = _Download()
        threading.Thread(target=download.watch, args=(self.policy.max_seconds, stop), name="transhades-link-watch",
                         daemon=True).start()
        try:
            return self._fetch(download, url, target, progress, headers, page)
        except Exception as error:
            if not download.cut.is_set():
                raise
            target.unlink(missing_ok=True)
            if download.cancelled:
                raise Cancelled(f"{shown(url)}: the download stopped: its job was cancelled") from error
            raise ProviderUnavailable(f"{shown(url)}: the download was stopped after {self.policy.max_seconds:.0f} s "
                                      "(links.max_seconds); the server is too slow: try again later or send the file "
                                      "itself").because("link_slow") from error
        finally:
            download.done.set()

    def _fetch(self, download: _Download, url: str, target: Path, progress: Callable[[float], None] | None,
               headers: dict[str, str] | None, page: bool) -> LocalFile:
        session = requests.Session()
        session.trust_env = False  # no proxies from the environment: the address checked is the one reached
        adapter = _CheckedAdapter(self.policy, download.opened)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            response = self._follow(session, url, headers or {})
            with response:
                self._save(response, url, target, progress)
        except _Page:
            if not (self.policy.extractors and page):
                raise BadInput(f"{shown(url)} is a web page, not a recording; send a link to the file itself"
                               ).because("link_page") from None
            from transhades.links.extract import media_of_page

            media, site_headers = media_of_page(url, self.policy.timeout_seconds, self.policy.refusal, self.resolve)
            return self._fetch(download, media, target, progress, site_headers, page=False)
        finally:
            session.close()
        return LocalFile(str(target))

    def _follow(self, session: requests.Session, url: str, headers: dict[str, str]) -> requests.Response:
        for _hop in range(MAX_REDIRECTS + 1):
            self._check(url)
            try:
                response = session.get(url, stream=True, allow_redirects=False,
                                       timeout=(self.policy.timeout_seconds, self.policy.timeout_seconds),
                                       headers={"User-Agent": "transhades (+voice notes to text)", **headers,
                                                "Accept-Encoding": "identity"})
            except _Refused as refused:  # the address reached is not the one checked: DNS rebinding
                raise _private(url, refused.why) from None
            except requests.exceptions.ConnectionError as exc:
                refused_why = _refused_in(exc)
                if refused_why is not None:
                    raise _private(url, refused_why) from None
                raise ProviderUnavailable(f"{shown(url)}: cannot connect ({type(exc).__name__}); try again later") \
                    .because("link_unreachable") from None
            except requests.exceptions.Timeout:
                raise ProviderUnavailable(f"{shown(url)}: no answer within {self.policy.timeout_seconds:.0f} s; "
                                          "try again later").because("link_unreachable") from None
            if response.is_redirect:
                location = response.headers.get("Location", "")
                response.close()
                url = urljoin(url, location)
                continue
            if response.status_code >= 400:
                response.close()
                error = BadInput if response.status_code < 500 or response.status_code == 501 else ProviderUnavailable
                raise error(f"{shown(url)}: the server answered {response.status_code}; check that the link opens "
                            "the recording").because("link_status")
            return response
        raise BadInput(f"the link redirects more than {MAX_REDIRECTS} times; send the final link").because(
            "link_redirects")

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise BadInput(f"{shown(url) or url[:80]!s} is not an http(s) link to a recording").because("link_bad")
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            raise BadInput(f"{shown(url)}: the port is not a number from 1 to 65535; check the link").because(
                "link_port") from None
        try:
            found = self.resolve(parts.hostname, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise BadInput(f"{parts.hostname}: no such host; check the link").because("link_unreachable") from None
        for *_, address in found:
            why = self.policy.refusal(address[0])
            if why is not None:
                raise _private(url, why)

    def _save(self, response: requests.Response, url: str, target: Path,
              progress: Callable[[float], None] | None) -> None:
        limit = self.policy.max_bytes
        declared = _length(response.headers.get("Content-Length"))
        if declared is not None and declared > limit:
            raise _too_large(url, declared, limit)
        written = 0
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(target, "wb") as out:
                for block in response.iter_content(BLOCK):
                    if written == 0 and _PAGE.match(block[:512]):
                        raise _Page()
                    written += len(block)
                    if written > limit:
                        raise _too_large(url, written, limit)
                    out.write(block)
                    if progress is not None and declared:
                        progress(min(written / declared, 1.0))
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.exceptions.Timeout) as exc:
            target.unlink(missing_ok=True)
            raise ProviderUnavailable(f"{shown(url)}: the download broke off after {written} bytes "
                                      f"({type(exc).__name__}); try again").because("link_unreachable") from None
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        if written == 0:
            raise BadInput(f"{shown(url)}: the server sent an empty file").because("unreadable")


def _length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _refused_in(exc: BaseException) -> str | None:
    """The refusal inside requests' wrapping of a connection error, if that is what it was."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, _Refused):
            return seen.why
        nested = [a for a in getattr(seen, "args", ()) if isinstance(a, BaseException)]
        seen = getattr(seen, "reason", None) or (nested[0] if nested else None) or seen.__cause__ or seen.__context__
    return None


def _private(url: str, why: str) -> BadInput:
    return BadInput(f"{shown(url)} points to {why}, which links may not reach; an operator can allow it with "
                    "links.allow_private or links.allow_networks").because("link_private")


def _too_large(url: str, size: int, limit: int) -> BadInput:
    return BadInput(f"{shown(url)} is larger than {limit / 1_000_000:.0f} MB ({size / 1_000_000:.0f} MB or more); "
                    "send a shorter recording").because("too_large")
