"""Audio preparation: check the media, fingerprint it, and turn it into 16 kHz mono speech audio.

ffmpeg runs through ffmpeg-python's argument builder and ``subprocess`` with an argument list, never a shell,
with a timeout; partial output is removed on any failure. Probing uses PyAV (already a faster-whisper
dependency), because the ffmpeg that ``imageio-ffmpeg`` ships comes without ffprobe.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import av
import ffmpeg

from .errors import BadInput, ProviderUnavailable
from .media import AudioChunk, PreparedAudio

CODECS = {
    # name: (ffmpeg encoder, file suffix, content type)
    "opus": ("libopus", ".ogg", "audio/ogg"),
    "mp3": ("libmp3lame", ".mp3", "audio/mpeg"),
}
READ_BLOCK = 1 << 20


@lru_cache(maxsize=1)
def ffmpeg_binary() -> str:
    """The system ffmpeg when on PATH, else the binary ``imageio-ffmpeg`` ships, so pip alone is enough."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # pragma: no cover - depends on the machine
        raise ProviderUnavailable(
            "ffmpeg is not installed; install it (apt-get install ffmpeg) or pip install imageio-ffmpeg"
        ) from exc


@dataclass(frozen=True)
class MediaInfo:
    duration: float | None  # seconds; None when the container does not say
    audio_codec: str
    has_video: bool


def _readable(path: Path) -> None:
    if not path.exists():
        raise BadInput("no such file")
    if path.is_dir():
        raise BadInput("is a directory, not a media file")
    if not os.access(path, os.R_OK):
        raise BadInput("cannot read the file (permission denied)")
    if path.stat().st_size == 0:
        raise BadInput("the file is empty")


def probe(path: Path) -> MediaInfo:
    """What the file holds. Raises :class:`BadInput` for anything that is not media with an audio track."""
    _readable(path)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            audio = container.streams.audio
            if not audio:
                raise BadInput("has no audio track")
            stream = audio[0]
            duration = None
            if container.duration:
                duration = container.duration / 1_000_000
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            return MediaInfo(duration, stream.codec_context.name, bool(container.streams.video))
    except BadInput:
        raise
    except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        raise BadInput("is not an audio or video file that ffmpeg can read") from None


def sha256_of(path: Path) -> str:
    _readable(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def workdir(root: Path, job_id: str) -> Path:
    """A private directory for one job's files (mode 0700); job ids never become paths unchecked."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)[:120] or "job"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = root / safe
    path.mkdir(exist_ok=True, mode=0o700)
    return path


def discard(root: Path, job_id: str) -> None:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)[:120] or "job"
    shutil.rmtree(root / safe, ignore_errors=True)


def default_temp_root() -> Path:
    return Path(tempfile.gettempdir()) / f"transhades-{os.getuid()}"


def conversion_args(source: Path, target: Path, codec: str, bitrate_kbps: int) -> list[str]:
    """The ffmpeg argument list: first audio stream, no video, 16 kHz mono, a compact speech codec."""
    encoder = CODECS[codec][0]
    options = {"map": "0:a:0", "vn": None, "ac": 1, "ar": 16000, "acodec": encoder,
               "audio_bitrate": f"{bitrate_kbps}k"}
    if codec == "opus":
        options["application"] = "voip"
    stream = (
        ffmpeg.input(str(source))
        .output(str(target), **options)
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
    )
    return stream.compile(cmd=ffmpeg_binary(), overwrite_output=True)


class AudioPreparer:
    """Turns a media file into :class:`PreparedAudio` inside a job's private directory."""

    def __init__(self, temp_root: Path, codec: str = "opus", bitrate_kbps: int = 24,
                 max_duration: float = 6 * 3600, timeout: float = 1800) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r}")
        self.temp_root = temp_root
        self.codec = codec
        self.bitrate_kbps = bitrate_kbps
        self.max_duration = max_duration
        self.timeout = timeout

    def prepare(self, job_id: str, source: Path, max_chunk_bytes: int | None = None) -> PreparedAudio:
        source = source.resolve()  # absolute: ffmpeg must never read a name as a protocol or an option
        info = probe(source)
        if info.duration is not None and info.duration > self.max_duration:
            raise BadInput(f"is {info.duration / 60:.0f} minutes long; the limit is "
                           f"{self.max_duration / 60:.0f} minutes")
        _, suffix, content_type = CODECS[self.codec]
        target = workdir(self.temp_root, job_id) / f"audio{suffix}"
        self._run(conversion_args(source, target, self.codec, self.bitrate_kbps), target)
        duration = self._duration_of(target)
        if duration <= 0.05:
            raise BadInput("its audio track is empty")
        if duration > self.max_duration:
            raise BadInput(f"is {duration / 60:.0f} minutes long; the limit is {self.max_duration / 60:.0f} minutes")
        size = target.stat().st_size
        chunk = AudioChunk(0, str(target), 0.0, duration, size, content_type)
        return PreparedAudio(str(target), duration, size, content_type, (chunk,))

    def _run(self, args: list[str], target: Path) -> None:
        try:
            done = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            target.unlink(missing_ok=True)
            raise ProviderUnavailable(f"ffmpeg took longer than {self.timeout:g} s and was stopped") from None
        if done.returncode != 0:
            target.unlink(missing_ok=True)
            detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
            last = detail[-1][:200] if detail else f"exit code {done.returncode}"
            raise BadInput(f"ffmpeg could not decode its audio ({last})")

    @staticmethod
    def _duration_of(path: Path) -> float:
        try:
            with av.open(str(path)) as container:
                if container.duration:
                    return container.duration / 1_000_000
                stream = container.streams.audio[0]
                if stream.duration and stream.time_base:
                    return float(stream.duration * stream.time_base)
                # Fall back to decoding: exact, and cheap for 16 kHz mono.
                samples = sum(frame.samples for frame in container.decode(stream))
                return samples / (stream.rate or 16000)
        except (av.FFmpegError, IndexError, OSError):
            return 0.0
