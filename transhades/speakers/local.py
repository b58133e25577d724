"""Who spoke when, offline on the CPU: speech regions from the VAD faster-whisper ships (Silero), a speaker embedding
for every 1.6 s window of speech from the GE2E voice encoder (``encoder.py``: numpy, with its weights in this
package), clustering with the number of speakers estimated, and turns. Nothing beyond the base install is needed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from transhades.speakers import encoder as ge2e

log = logging.getLogger(__name__)
RATE = 16000
WINDOW_FRAMES = 160  # 1.6 s of 10 ms mel frames, what the encoder was trained on
HOP_FRAMES = 60  # a window every 0.6 s
SAME_SPEAKER = 0.71  # cosine similarity above which two clusters are one speaker (tuned on espeak-ng dialogues)
LEAST_WINDOWS = 3  # a cluster of fewer windows (1.2 s of speech) is no speaker of its own: it joins the nearest
MOST_WINDOWS = 1500  # clustered directly; on longer audio the rest join the nearest cluster


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: int  # numbered in order of first appearance, from 1


MISSING = ("speaker labels need the voice encoder's weights (transhades/speakers/ge2e.npz), missing from this "
           "install: reinstall transhades")


def available() -> bool:
    """Is the offline diarizer here? Its weights ship in this package; only a broken install lacks them."""
    return ge2e.WEIGHTS.is_file()


class VoiceEncoder(ge2e.VoiceEncoder):
    """The encoder with its input: GE2E embeddings of mel windows."""

    def mel(self, wav: np.ndarray) -> np.ndarray:
        return ge2e.mel(wav)


class LocalDiarizer:
    def __init__(self, max_speakers: int = 6, threshold: float = SAME_SPEAKER) -> None:
        self.max_speakers = max_speakers
        self.threshold = threshold
        self._encoder: VoiceEncoder | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._encoder = None

    def turns(self, wav: np.ndarray) -> list[Turn]:
        """Speaker turns of 16 kHz mono audio; one speaker, or none found, is a single turn or none."""
        regions = speech_regions(wav)
        if not regions:
            return []
        with self._lock:
            if self._encoder is None:
                self._encoder = VoiceEncoder()
            encoder = self._encoder
        mel = encoder.mel(wav)
        starts = window_starts(regions, len(mel))
        if not starts:
            return [Turn(regions[0][0], regions[-1][1], 1)]
        windows = np.stack([mel[s:s + WINDOW_FRAMES] for s in starts])
        labels = cluster(encoder.embed(windows), self.threshold, self.max_speakers)
        return turns_of(regions, starts, smooth(labels))


def speech_regions(wav: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of speech, from faster-whisper's Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(wav, VadOptions(min_silence_duration_ms=250, speech_pad_ms=100))
    return [(item["start"] / RATE, item["end"] / RATE) for item in found]


def window_starts(regions: list[tuple[float, float]], frames: int) -> list[int]:
    """The first mel frame of each window inside speech; a region shorter than a window gets one window that
    starts at it (it spills into what follows, which is the best the encoder can hear of it)."""
    starts: list[int] = []
    for begin, end in regions:
        first, last = int(begin * 100), int(end * 100)
        position = first
        while True:
            start = min(position, max(0, frames - WINDOW_FRAMES))
            if not starts or start != starts[-1]:
                starts.append(start)
            if position + WINDOW_FRAMES >= last:
                break
            position += HOP_FRAMES
    return [s for s in starts if s + WINDOW_FRAMES <= frames]


def cluster(vectors: np.ndarray, threshold: float, most: int) -> np.ndarray:
    """Average-linkage agglomerative clustering on cosine similarity, merged while two clusters are more alike
    than ``threshold``, and at most ``most`` speakers. Labels 0..k-1."""
    n = len(vectors)
    if n <= 1:
        return np.zeros(n, dtype=int)
    picked = np.arange(n) if n <= MOST_WINDOWS else np.linspace(0, n - 1, MOST_WINDOWS).astype(int)
    sample = vectors[picked]
    members: list[list[int]] = [[i] for i in range(len(sample))]
    similarity = sample @ sample.T
    np.fill_diagonal(similarity, -np.inf)
    active = list(range(len(sample)))
    while len(active) > 1:
        sub = similarity[np.ix_(active, active)]
        i, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
        best = sub[i, j]
        if best < threshold and len(active) <= most:
            break
        a, b = active[i], active[j]
        size_a, size_b = len(members[a]), len(members[b])
        merged = (similarity[a] * size_a + similarity[b] * size_b) / (size_a + size_b)
        similarity[a], similarity[:, a] = merged, merged
        similarity[a, a] = -np.inf
        members[a] += members[b]
        active.remove(b)
    if len(active) > 1:
        kept = [a for a in active if len(members[a]) >= LEAST_WINDOWS] or active
        active = kept
    centroids = np.stack([sample[members[a]].mean(axis=0) for a in active])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return np.argmax(vectors @ centroids.T, axis=1)


def smooth(labels: np.ndarray, width: int = 3) -> np.ndarray:
    """A label that differs from both sides for less than ``width`` windows is taken as noise."""
    out = labels.copy()
    half = width // 2
    for i in range(len(labels)):
        window = labels[max(0, i - half):i + half + 1]
        values, counts = np.unique(window, return_counts=True)
        out[i] = values[np.argmax(counts)]
    return out


def turns_of(regions: list[tuple[float, float]], starts: list[int], labels: np.ndarray) -> list[Turn]:
    """Each region's speech split where the windows' speaker changes (halfway between the two windows' centres);
    speakers numbered by first appearance."""
    centres = np.array([(s + WINDOW_FRAMES / 2) / 100 for s in starts])
    order: dict[int, int] = {}
    turns: list[Turn] = []
    for begin, end in regions:
        inside = [i for i, c in enumerate(centres) if begin - 0.8 <= c <= end + 0.8] or \
            [int(np.argmin(np.abs(centres - (begin + end) / 2)))]
        runs: list[list[int]] = []  # [label, first window, last window]
        for i in inside:
            if runs and runs[-1][0] == int(labels[i]):
                runs[-1][2] = i
            else:
                runs.append([int(labels[i]), i, i])
        cut = begin
        for r, (label, _first, last) in enumerate(runs):
            stop = end if r == len(runs) - 1 else min(end, max(cut, (centres[last] + centres[runs[r + 1][1]]) / 2))
            speaker = order.setdefault(label, len(order) + 1)
            if stop > cut:
                if turns and turns[-1].speaker == speaker and cut - turns[-1].end < 0.5:
                    turns[-1] = Turn(turns[-1].start, stop, speaker)
                else:
                    turns.append(Turn(cut, stop, speaker))
            cut = stop
    return turns


def load_audio(path: str) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    return np.asarray(decode_audio(path, sampling_rate=RATE), dtype=np.float32)


def describe(turns: list[Turn]) -> dict[str, Any]:
    return {"speakers": len({t.speaker for t in turns}), "turns": len(turns)}
