"""Audio preparation: check the media, fingerprint it, and turn it into 16 kHz mono speech audio.

ffmpeg runs through ffmpeg-python's argument builder and ``subprocess`` with an argument list, never a shell,
with a timeout; partial output is removed on any failure. Probing uses PyAV (already a faster-whisper
dependency), because the ffmpeg that ``imageio-ffmpeg`` ships comes without ffprobe.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import ffmpeg

from transhades.audio import chunking
from transhades.errors import BadInput, ProviderUnavailable
from transhades.media import AudioChunk, PreparedAudio
from transhades.private import private_dir

logger = logging.getLogger(__name__)

CODECS = {
    # name: (ffmpeg encoder, file suffix, content type)
    "opus": ("libopus", ".ogg", "audio/ogg"),
    "mp3": ("libmp3lame", ".mp3", "audio/mpeg"),
    # 16 kHz mono PCM: no lossy step and almost no encoding time, for the local model (it never uploads)
    "wav": ("pcm_s16le", ".wav", "audio/wav"),
}
WAV_BYTES_PER_SECOND = 32_000
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
    audio_streams: int = 1
    default_audio: int | None = None  # the audio stream (0-based among audio streams) marked default, if any


def _readable(path: Path) -> None:
    if not path.exists():
        raise BadInput("no such file").because("unreadable")
    if path.is_dir():
        raise BadInput("is a directory, not a media file").because("unreadable")
    if not os.access(path, os.R_OK):
        raise BadInput("cannot read the file (permission denied)").because("unreadable")
    if path.stat().st_size == 0:
        raise BadInput("the file is empty").because("empty_file")


def probe(path: Path) -> MediaInfo:
    """What the file holds. Raises :class:`BadInput` for anything that is not media with an audio track."""
    _readable(path)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            audio = container.streams.audio
            if not audio:
                raise BadInput("has no audio track").because("no_audio")
            stream = audio[0]
            duration = None
            if container.duration:
                duration = container.duration / 1_000_000
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            defaults = [i for i, s in enumerate(audio) if int(getattr(s, "disposition", 0) or 0) & 1]
            return MediaInfo(duration, stream.codec_context.name, bool(container.streams.video), len(audio),
                             defaults[0] if defaults else None)
    except BadInput:
        raise
    except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        raise BadInput("is not an audio or video file that ffmpeg can read").because("unreadable") from None


def sha256_of(path: Path) -> str:
    _readable(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _directory_name(job_id: str) -> str:
    """Job ids never become paths unchecked: no separators, no '..', bounded length."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)[:120].strip(".")
    return name or "job"


_made: set[str] = set()  # the job directories this process made and has not removed yet


def workdir(root: Path, job_id: str) -> Path:
    """A private directory for one job's files (mode 0700)."""
    path = private_dir(root / _directory_name(job_id))
    _made.add(str(path))
    return path


def discard(root: Path, job_id: str) -> None:
    """A job's temporary files, gone. This runs in the dispatcher for every job, and most never had a directory
    (a cache hit): those cost no system call, which under load would wait for the GIL after it."""
    path = str(root / _directory_name(job_id))
    if path in _made:
        _made.discard(path)
        shutil.rmtree(path, ignore_errors=True)


def default_temp_root() -> Path:
    """A directory of this process's own under the user's temp root, so two processes never sweep each other."""
    return Path(tempfile.gettempdir()) / f"transhades-{os.getuid()}" / str(os.getpid())


def sweep_stale(root: Path) -> int:
    """Remove sibling directories left by processes that are gone (after a crash or kill -9)."""
    removed = 0
    parent = root.parent
    if not parent.is_dir():
        return 0
    for entry in parent.iterdir():
        if entry == root or not entry.name.isdigit():
            continue
        try:
            os.kill(int(entry.name), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        except PermissionError:
            continue
    return removed


def conversion_args(source: str, target: Path, codec: str, bitrate_kbps: int, max_bytes: int | None = None,
                    silences: bool = True, stream: int = 0) -> list[str]:
    """The ffmpeg argument list: one audio stream (the first unless told), no video, 16 kHz mono, a compact speech
    codec; silences are
    detected in the same pass (they cost no second decode); ``-fs`` bounds the disk a job may use."""
    encoder = CODECS[codec][0]
    options: dict = {"map": f"0:a:{stream}", "vn": None, "ac": 1, "ar": 16000, "acodec": encoder}
    if codec != "wav":
        options["audio_bitrate"] = f"{bitrate_kbps}k"
    if codec == "opus":
        options["application"] = "voip"
    if silences:
        options["af"] = f"silencedetect=noise={SILENCE_DB}dB:duration={SILENCE_SECONDS}"
    if max_bytes:
        options["fs"] = str(max_bytes)
    command = (
        ffmpeg.input(source)
        .output(str(target), **options)
        .global_args("-nostdin", "-hide_banner", "-nostats", "-loglevel", "info" if silences else "error")
    )
    return command.compile(cmd=ffmpeg_binary(), overwrite_output=True)


def cut_args(source: Path, target: Path, start: float, duration: float) -> list[str]:
    """Copy a time range without re-encoding; ``-ss`` after ``-i`` makes the cut packet-accurate."""
    command = (
        ffmpeg.input(str(source))
        .output(str(target), ss=f"{start:.3f}", t=f"{duration:.3f}", map="0:a:0", c="copy")
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error")
    )
    return command.compile(cmd=ffmpeg_binary(), overwrite_output=True)


SILENCE_DB = -35
SILENT_STREAM_DB = -60.0  # a track whose mean volume is below this carries no speech
LOUDNESS_SECONDS = 300  # how much of each track is measured to choose one
_MEAN_VOLUME = re.compile(r"Parsed_volumedetect_(\d+) @ [^\]]*\] mean_volume: (-?[\d.]+|-inf) dB")


def loudness_args(source: str, streams: int) -> list[str]:
    """One decode that measures the mean volume of every audio track over the first minutes."""
    graph = ";".join(f"[0:a:{i}]volumedetect[v{i}]" for i in range(streams))
    args = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-nostats", "-t", str(LOUDNESS_SECONDS), "-i", source,
            "-filter_complex", graph]
    for i in range(streams):
        args += ["-map", f"[v{i}]", "-f", "null", "-"]
    return args


def speech_stream(loudness: dict[int, float], default: int | None) -> int:
    """The audio track that carries speech: the default one unless it is silent, else the loudest."""
    if default is not None and loudness.get(default, SILENT_STREAM_DB) > SILENT_STREAM_DB:
        return default
    if not loudness:
        return default or 0
    return max(sorted(loudness), key=lambda index: loudness[index])
SILENCE_SECONDS = 0.4
_NO_AUDIO = re.compile(r"matches no streams|does not contain any stream|Output file #0 does not contain")
_NOT_MEDIA = re.compile(r"Invalid data found when processing input|could not find codec parameters|"
                        r"Error opening input|End of file")


def _ffmpeg_failure(log: str, returncode: int) -> BadInput:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    if any(_NO_AUDIO.search(line) for line in lines):
        return BadInput("has no audio track").because("no_audio")
    if any(_NOT_MEDIA.search(line) for line in lines):
        return BadInput("is not an audio or video file that ffmpeg can read").because("unreadable")
    errors = [line for line in lines if "rror" in line] or lines
    detail = errors[-1][:200] if errors else f"exit code {returncode}"
    return BadInput(f"ffmpeg could not decode its audio ({detail})").because("unreadable")


class AudioPreparer:
    """Turns media into :class:`PreparedAudio` inside a job's private directory, cut into chunks that fit."""

    def __init__(self, temp_root: Path, codec: str = "opus", bitrate_kbps: int = 24,
                 max_duration: float = 6 * 3600, timeout: float = 1800, chunk_seconds: float | None = 600.0,
                 overlap: float = 1.0, max_job_bytes: int = 512 << 20, first_part_seconds: float = 0.0) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r}")
        self.temp_root = temp_root
        self.codec = codec
        self.bitrate_kbps = bitrate_kbps
        self.max_duration = max_duration
        self.timeout = timeout
        self.chunk_seconds = chunk_seconds
        self.overlap = overlap
        self.max_job_bytes = max_job_bytes
        self.first_part_seconds = first_part_seconds  # a short first chunk: the first text comes early

    # ------------------------------------------------------------------------------------------- preparing

    def fingerprint(self, source: Path) -> str:
        return sha256_of(source)

    def prepare(self, job_id: str, source: Path | Iterable[bytes], max_chunk_bytes: int | None = None) -> PreparedAudio:
        """``source``: a file, or the blocks of a download as they arrive (conversion overlaps the download)."""
        feed = None
        if isinstance(source, Path):
            source = source.resolve()  # absolute: ffmpeg must never read a name as a protocol or an option
            info = probe(source)
            if info.duration is not None and info.duration > self.max_duration:
                raise BadInput(self._too_long(info.duration)).because("too_long")
            input_spec = str(source)
            if self._as_is(info):
                return self._unconverted(source, info)
        else:
            feed, input_spec = source, "pipe:0"
        codec = self._codec_for(info.duration if feed is None else None)
        _, suffix, content_type = CODECS[codec]
        target = workdir(self.temp_root, job_id) / f"audio{suffix}"
        stream = self._speech_stream(input_spec, info) if feed is None and info.audio_streams > 1 else 0
        log = self._run(conversion_args(input_spec, target, codec, self.bitrate_kbps, self.max_job_bytes,
                                        stream=stream), target, feed)
        duration = self._duration_of(target)
        size = target.stat().st_size
        if size >= self.max_job_bytes * 0.99:
            target.unlink(missing_ok=True)
            raise BadInput("is too long to prepare within this job's disk allowance").because("too_long")
        if duration <= 0.05:
            raise BadInput("its audio track is empty").because("no_audio")
        if duration > self.max_duration:
            raise BadInput(self._too_long(duration)).because("too_long")
        spans = chunking.plan(duration, size, chunking.parse_silences(log), max_chunk_bytes, self.chunk_seconds,
                              self.overlap, self.first_part_seconds)
        if len(spans) == 1:
            chunks: tuple[AudioChunk, ...] = (AudioChunk(0, str(target), 0.0, duration, size, content_type),)
        else:
            chunks = tuple(self._cut_spans(target, spans, max_chunk_bytes, content_type))
        return PreparedAudio(str(target), duration, size, content_type, chunks)

    def _as_is(self, info: MediaInfo) -> bool:
        """For the local model alone (codec wav), a recording with one audio track that needs no cutting is read
        by the model straight from the file: converting it first would only cost time."""
        return (self.codec == "wav" and info.audio_streams == 1 and not info.has_video and info.duration is not None
                and 0.05 < info.duration <= (self.chunk_seconds or float("inf")))

    @staticmethod
    def _unconverted(source: Path, info: MediaInfo) -> PreparedAudio:
        size = source.stat().st_size
        duration = float(info.duration or 0.0)
        chunk = AudioChunk(0, str(source), 0.0, duration, size, "application/octet-stream")
        return PreparedAudio(str(source), duration, size, chunk.content_type, (chunk,))

    def _codec_for(self, duration: float | None) -> str:
        """PCM only when the whole recording surely fits the job's disk allowance; a compact codec otherwise."""
        if self.codec == "wav" and (duration is None or duration * WAV_BYTES_PER_SECOND > 0.8 * self.max_job_bytes):
            return "opus"
        return self.codec

    def _speech_stream(self, source: str, info: MediaInfo) -> int:
        """With several audio tracks (dubbing, commentary) the one that carries speech, said in the log."""
        process = CHILDREN.start(loudness_args(source, info.audio_streams), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, err = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            err = b""
        finally:
            CHILDREN.forget(process)
        log = err.decode("utf-8", "replace")
        loudness = {int(i): (float("-inf") if v == "-inf" else float(v)) for i, v in _MEAN_VOLUME.findall(log)}
        chosen = speech_stream(loudness, info.default_audio)
        heard = ", ".join(f"#{i + 1} {v:.0f} dB" for i, v in sorted(loudness.items()))
        logger.info("%d audio tracks (%s); transcribing track #%d", info.audio_streams, heard, chosen + 1)
        return chosen

    def split(self, chunk: AudioChunk, parts: int = 2) -> tuple[AudioChunk, ...]:
        """Cut one chunk smaller (a provider answered 413); the pieces keep the chunk's place in the whole."""
        if chunk.duration < 2 * self.overlap + 2:
            raise BadInput("a piece of this recording is too large for every provider even when cut small")
        step = chunk.duration / parts
        spans = []
        for i in range(parts):
            lo, hi = chunk.offset + i * step, chunk.offset + (i + 1) * step
            start = lo - self.overlap if i else chunk.offset
            spans.append(chunking.Span(start, hi if i < parts - 1 else chunk.offset + chunk.duration,
                                       max(chunk.keep_from, lo) if i else chunk.keep_from,
                                       min(chunk.keep_until, hi) if i < parts - 1 else chunk.keep_until))
        source = Path(chunk.path)
        pieces = []
        for i, span in enumerate(spans):
            target = source.with_name(f"{source.stem}.{i}{source.suffix}")
            self._run(cut_args(source, target, span.start - chunk.offset, span.end - span.start), target)
            pieces.append(AudioChunk(chunk.index, str(target), span.start, self._duration_of(target),
                                     target.stat().st_size, chunk.content_type, span.keep_from, span.keep_until))
        return tuple(pieces)

    def _cut_spans(self, source: Path, spans: list[chunking.Span], max_bytes: int | None,
                   content_type: str) -> list[AudioChunk]:
        chunks: list[AudioChunk] = []
        pending = list(spans)
        while pending:
            span = pending.pop(0)
            target = source.with_name(f"chunk{len(chunks):04d}-{int(span.start * 1000)}{source.suffix}")
            self._run(cut_args(source, target, span.start, span.end - span.start), target)
            size = target.stat().st_size
            if max_bytes and size > max_bytes and span.end - span.start > 2 * self.overlap + 2:
                target.unlink()  # louder than average: cut this span in two and try again
                middle = (span.start + span.end) / 2
                pending[:0] = [chunking.Span(span.start, middle, span.keep_from, middle),
                               chunking.Span(middle - self.overlap, span.end, middle, span.keep_until)]
                continue
            chunks.append(AudioChunk(len(chunks), str(target), span.start, self._duration_of(target), size,
                                     content_type, span.keep_from, span.keep_until))
        return chunks

    def _too_long(self, duration: float) -> str:
        return f"is {duration / 60:.0f} minutes long; the limit is {self.max_duration / 60:.0f} minutes"

    # ------------------------------------------------------------------------------------------- ffmpeg

    def _run(self, args: list[str], target: Path, feed: Iterable[bytes] | None = None) -> str:
        """Run ffmpeg; returns its log. Bad media -> BadInput; overrunning -> killed, ProviderUnavailable."""
        process = CHILDREN.start(args, stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            return self._wait_for(process, target, feed)
        finally:
            CHILDREN.forget(process)

    def _wait_for(self, process: subprocess.Popen, target: Path, feed: Iterable[bytes] | None) -> str:
        log_parts: list[bytes] = []
        stderr = process.stderr
        assert stderr is not None  # started with stderr=PIPE
        reader = threading.Thread(target=lambda: log_parts.append(stderr.read()), daemon=True)
        reader.start()
        writer = None
        if feed is not None:
            writer = threading.Thread(target=_feed, args=(process, feed), daemon=True)
            writer.start()
        try:
            process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            target.unlink(missing_ok=True)
            raise ProviderUnavailable(f"ffmpeg took longer than {self.timeout:g} s and was stopped") from None
        finally:
            reader.join(timeout=5)
            if writer is not None:
                writer.join(timeout=5)
        log = b"".join(log_parts).decode("utf-8", "replace")
        if process.returncode != 0:
            target.unlink(missing_ok=True)
            raise _ffmpeg_failure(log, process.returncode)
        return log
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


class ChildProcesses:
    """Every ffmpeg this process runs, so that an interrupted command can stop them all and start no more
    (a child left behind would go on converting, re-parented to init, into a directory being removed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self._closed = False

    def start(self, args: list[str], **options: Any) -> subprocess.Popen:
        with self._lock:
            if self._closed:
                raise ProviderUnavailable("transhades is stopping; no new ffmpeg is started")
            process = subprocess.Popen(args, **options)
            self._running.add(process)
            return process

    def forget(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._running.discard(process)

    def stop_all(self) -> int:
        """Kill every running child and refuse new ones; returns how many were killed."""
        with self._lock:
            self._closed = True
            running = list(self._running)
        for process in running:
            process.kill()
        for process in running:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return len(running)

    def reopen(self) -> None:
        with self._lock:
            self._closed = False


CHILDREN = ChildProcesses()


def _feed(process: subprocess.Popen, blocks: Iterable[bytes]) -> None:
    """Write a download's blocks to ffmpeg as they come; stop quietly if ffmpeg has already given up."""
    stdin = process.stdin
    assert stdin is not None  # started with stdin=PIPE
    try:
        for block in blocks:
            stdin.write(block)
        stdin.close()
    except (BrokenPipeError, ValueError, OSError):
        pass
    except Exception:  # the source gave up (the job ended while it downloaded): ffmpeg must not wait for more
        process.kill()
