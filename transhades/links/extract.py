"""A page (a video site, a cloud drive's share page) to the link of its recording, through yt-dlp: the optional
``links`` extra (``pip install -e ".[links]"``), used when ``links.extractors`` is on.

Only the extraction is yt-dlp's: it reads the page (whose address the fetcher checked first) and names the media,
and every request it makes for that (the page again, redirects, the site's API) goes through a proxy of ours that
checks the address as the fetcher does (``proxy.py``); the media itself is fetched by
:class:`transhades.links.fetch.LinkFetcher` with every check (address on every hop, size, timeouts). Only formats
served over plain http(s) are chosen, audio alone when the page offers it, since a streaming playlist (HLS, DASH)
is not a file.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from transhades.errors import BadInput
from transhades.links.proxy import CheckingProxy

log = logging.getLogger(__name__)
FORMAT = "bestaudio[protocol^=http]/best[protocol^=http]"


def media_of_page(url: str, timeout_seconds: float, refusal: Callable[[str], str | None] = lambda address: None,
                  resolve: Callable[..., Any] = socket.getaddrinfo) -> tuple[str, dict[str, str]]:
    """The recording a page shows, as (its URL, the request headers the site expects); ``refusal`` is the link
    policy's, asked of every address yt-dlp's requests would reach."""
    try:
        import yt_dlp
    except ImportError:
        raise BadInput("links.extractors is on but yt-dlp is not installed; pip install 'transhades[links]'").because(
            "link_page") from None
    with CheckingProxy(refusal, timeout_seconds, resolve) as proxy:
        options = {"quiet": True, "no_warnings": True, "noplaylist": True, "format": FORMAT, "socket_timeout":
                   timeout_seconds, "logger": _Quiet(), "noprogress": True, "cachedir": False, "proxy": proxy.url}
        try:
            with yt_dlp.YoutubeDL(options) as extractor:
                info = extractor.extract_info(url, download=False)
        except yt_dlp.utils.DownloadError as exc:
            if proxy.refused:
                raise BadInput(f"the page sends its reader to {proxy.refused[0]}, which this bot does not open"
                               ).because("link_private") from None
            log.info("links: no recording found on a page: %s", str(exc).splitlines()[0][:200])
            raise BadInput("the page shows no recording that can be fetched; send a link to the file itself"
                           ).because("link_page") from None
    chosen = _chosen(info or {})
    if chosen is None:
        raise BadInput("the page's recording is only streamed (HLS or DASH), not a file; send a link to the file"
                       ).because("link_page")
    return chosen["url"], {str(k): str(v) for k, v in (chosen.get("http_headers") or {}).items()}


def _chosen(info: dict[str, Any]) -> dict[str, Any] | None:
    if info.get("_type") == "playlist":
        entries = [e for e in info.get("entries") or [] if e]
        info = entries[0] if entries else {}
    for candidate in (info, *(info.get("requested_formats") or ())):
        if candidate.get("url") and str(candidate.get("protocol", "https")).startswith("http"):
            return candidate
    return None


class _Quiet:
    """yt-dlp's messages go to our log at debug level, never to the user's terminal."""

    def debug(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def warning(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        log.debug("yt-dlp: %s", message)
