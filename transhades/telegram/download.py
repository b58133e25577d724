"""Download one Telegram file through one session, and say in our own terms how it failed.

- ``pyrogram.errors.Flood`` (the 420 base class: ``FloodWait`` *and* ``FloodPremiumWait``, which is not a
  FloodWait) -> :class:`RateLimited` for ``e.value`` seconds: the credential is quarantined, the job moves on.
- An expired file reference is refreshed by fetching the message again in this same session, once.
- A partial file left by another credential is resumed from its last whole 1 MiB chunk.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from pyrogram import errors

from ..errors import BadInput, ProviderUnavailable, RateLimited
from ..media import LocalFile, TelegramFile
from .gateway import CHUNK, Gateway

log = logging.getLogger("transhades.telegram")

_STALE_REFERENCE = (errors.FileReferenceExpired, errors.FileReferenceInvalid, errors.FileReferenceEmpty)


def flood_seconds(error: errors.Flood) -> float:
    try:
        return float(error.value)
    except (TypeError, ValueError):
        return 30.0


def download(gateway: Gateway, media: TelegramFile, target: Path, max_bytes: int,
             progress: Callable[[float], None] | None = None) -> LocalFile:
    for attempt in (1, 2):
        try:
            _stream_to(gateway, media, target, max_bytes, progress)
            break
        except _STALE_REFERENCE:
            if attempt == 2:
                raise ProviderUnavailable(f"{gateway.name}: the file reference stays invalid after a refresh") from None
            log.info("%s: file reference expired, fetching the message again", gateway.name)
            try:
                media = gateway.refresh(media)
            except errors.Flood as error:
                raise RateLimited(f"{gateway.name}: FloodWait {flood_seconds(error):g} s", flood_seconds(error)) from None
        except errors.Flood as error:
            seconds = flood_seconds(error)
            raise RateLimited(f"{gateway.name}: {error.__class__.__name__} {seconds:g} s", seconds) from None
        except (errors.MessageIdInvalid, errors.MessageEmpty):
            raise BadInput("the message with this media no longer exists") from None
        except errors.RPCError as error:
            raise ProviderUnavailable(f"{gateway.name}: Telegram answered {error.__class__.__name__}") from None
        except (OSError, TimeoutError) as error:
            raise ProviderUnavailable(f"{gateway.name}: download interrupted ({error.__class__.__name__})") from None
    size = target.stat().st_size
    if media.size and size != media.size:
        raise ProviderUnavailable(f"{gateway.name}: got {size} of {media.size} bytes")
    return LocalFile(str(target))


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
                raise BadInput(f"is larger than the {max_bytes // 1_000_000} MB limit")
            if progress and media.size:
                progress(min(1.0, written / media.size))
