"""Download one Telegram file through one session, and say in our own terms how it failed.

- ``pyrogram.errors.Flood`` (the 420 base class: ``FloodWait`` *and* ``FloodPremiumWait``, which is not a
  FloodWait) -> :class:`RateLimited` for ``e.value`` seconds: the credential is quarantined, the job moves on.
- An expired file reference is refreshed by fetching the message again in this same session, once.
- A partial file left by another credential is resumed from its last whole 1 MiB chunk.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from pyrogram import errors

from transhades.errors import BadInput, ProviderUnavailable, RateLimited
from transhades.media import LocalFile, TelegramFile
from transhades.telegram.gateway import CHUNK, Gateway

log = logging.getLogger("transhades.telegram")

_STALE_REFERENCE = (errors.FileReferenceExpired, errors.FileReferenceInvalid, errors.FileReferenceEmpty)


def flood_seconds(error: errors.Flood) -> float:
    try:
        return float(error.value)
    except (TypeError, ValueError):
        return 30.0


def download(gateway: Gateway, media: TelegramFile, target: Path, max_bytes: int,
             progress: Callable[[float], None] | None = None, part: tuple[int, int] | None = None) -> LocalFile:
    """The whole file, or with ``part`` = (first chunk, chunks) one range of it, written at its place in
    ``target`` (the ranges of one file are fetched by several sessions at once)."""
    if part is not None and media.size and part[0] * CHUNK >= max_bytes:
        raise BadInput(f"is larger than the {max_bytes // 1_000_000} MB limit").because("too_large")
    for attempt in (1, 2):
        try:
            if part is None:
                _stream_to(gateway, media, target, max_bytes, progress)
            else:
                _range_to(gateway, media, target, part, progress)
            break
        except _STALE_REFERENCE:
            if attempt == 2:
                raise ProviderUnavailable(f"{gateway.name}: the file reference stays invalid after a refresh") from None
            log.info("%s: file reference expired, fetching the message again", gateway.name)
            try:
                media = gateway.refresh(media)
            except errors.Flood as error:
                seconds = flood_seconds(error)
                raise RateLimited(f"{gateway.name}: FloodWait {seconds:g} s", seconds) from None
        except (errors.RPCError, OSError, TimeoutError) as error:
            raise _in_our_terms(gateway.name, error) from None
    size = target.stat().st_size
    if part is None and media.size and size != media.size:
        raise ProviderUnavailable(f"{gateway.name}: got {size} of {media.size} bytes")
    return LocalFile(str(target))


def _in_our_terms(session: str, error: Exception) -> Exception:
    if isinstance(error, errors.Flood):
        seconds = flood_seconds(error)
        return RateLimited(f"{session}: {error.__class__.__name__} {seconds:g} s", seconds)
    if isinstance(error, (errors.MessageIdInvalid, errors.MessageEmpty)):
        return BadInput("the message with this media no longer exists").because("gone")
    if isinstance(error, errors.RPCError):
        return ProviderUnavailable(f"{session}: Telegram answered {error.__class__.__name__}")
    return ProviderUnavailable(f"{session}: download interrupted ({error.__class__.__name__})")


def _range_to(gateway: Gateway, media: TelegramFile, target: Path, part: tuple[int, int],
              progress: Callable[[float], None] | None) -> None:
    first, count = part
    expected = min(count * CHUNK, max(0, media.size - first * CHUNK)) if media.size else count * CHUNK
    descriptor = os.open(target, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        at, written = first * CHUNK, 0
        for block in gateway.stream(media, first, count):
            os.pwrite(descriptor, block, at)
            at += len(block)
            written += len(block)
            if progress and expected:
                progress(min(1.0, written / expected))
    finally:
        os.close(descriptor)
    if media.size and written != expected:
        raise ProviderUnavailable(f"{gateway.name}: got {written} of {expected} bytes of part {first}")


def _stream_to(gateway: Gateway, media: TelegramFile, target: Path, max_bytes: int,
               progress: Callable[[float], None] | None) -> None:
    have = target.stat().st_size if target.exists() else 0
    offset = have // CHUNK  # resume from the last whole chunk another session wrote
    with target.open("r+b" if target.exists() else "wb") as out:
        out.truncate(offset * CHUNK)
        out.seek(offset * CHUNK)
        written = offset * CHUNK
        for block in gateway.stream(media, offset):
            out.write(block)
            written += len(block)
            if written > max_bytes:
                raise BadInput(f"is larger than the {max_bytes // 1_000_000} MB limit").because("too_large")
            if progress and media.size:
                progress(min(1.0, written / media.size))
