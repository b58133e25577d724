"""Who spoke when, offline on the CPU: speech regions from the VAD faster-whisper ships (Silero), a speaker embedding
for every 1.6 s window of speech from the GE2E voice encoder (``encoder.py``: onnxruntime, with its weights in this
package), then:

- the embeddings are centred on the recording's own mean: what every voice of this recording shares (the channel,
  the band, the room) goes, and what tells the voices apart stays (on real telephone voices, raw similarities of
  two speakers overlapped those of one; centred, every dialogue of the evaluation set separated);
- each window is averaged with its neighbours in the same stretch of speech (about 4 s), and the windows are
  clustered spectrally: a graph keeping each window's most similar ones (how many: chosen per recording by the
  normalised maximum eigengap), its Laplacian's largest eigengap for the number of speakers (a fixed similarity
  threshold over-split real voices), k-means on the eigenvectors;
- the speakers are found again window by window (Viterbi over their centroids, a price on every change), so a
  change of speaker inside a stretch of speech is found where it happens.

On held-out dialogues of the evaluation set's voices (other clips, other pairs) a fixed fraction of 0.15, 0.2 or
0.25 each miscounted one of 18; the per-recording choice miscounts one too, with nothing tuned. Nothing beyond the
base install is needed.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from transhades.speakers import encoder as ge2e

log = logging.getLogger(__name__)
RATE = 16000
WINDOW_FRAMES = 160  # 1.6 s of 10 ms mel frames, what the encoder was trained on
HOP_FRAMES = 90  # a window every 0.9 s (0.6 s was no better on the held-out dialogues, and a third slower; 1.2 s lost)
SHORT_HOP_FRAMES = 60  # on short audio, whose few windows would not make a graph: there the cost is small anyway
FEW_WINDOWS = 60
NEIGHBOURS = 2  # windows on each side averaged with a window (within its stretch of speech)
FRACTIONS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)  # of its most similar windows a window keeps, tried
SAME_VOICE = 0.917  # across / within similarity of one voice split in two: 0.921-0.97; of two voices: 0.912 at most
SAME_SIDE = 0.2  # centred centroids this alike are one voice
SWITCH_PRICE = 0.5  # what a change of speaker costs the Viterbi pass, in cosine similarity
LEAST_WINDOWS = 5  # a cluster of fewer windows (3 s of speech) is no speaker of its own: it joins the nearest
MOST_WINDOWS = 1500  # clustered directly; on longer audio the rest join the nearest cluster
VAD = {"threshold": 0.25, "min_silence_duration_ms": 300, "speech_pad_ms": 60}  # telephone speech is quiet to Silero


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: int  # numbered in order of first appearance, from 1


@dataclass(frozen=True)
class Diarization:
    turns: list[Turn]
    voices: dict[int, np.ndarray]  # speaker number -> the unit mean of its windows' raw embeddings


MISSING = ("speaker labels need the voice encoder's weights (transhades/speakers/ge2e.onnx), missing from this "
           "install: reinstall transhades")


def available() -> bool:
    """Is the offline diarizer here? Its weights ship in this package; only a broken install lacks them."""
    return ge2e.WEIGHTS.is_file()


class VoiceEncoder(ge2e.VoiceEncoder):
    """The encoder with its input: GE2E embeddings of mel windows."""

    def mel(self, wav: np.ndarray) -> np.ndarray:
        return ge2e.mel(wav)


class LocalDiarizer:
    def __init__(self, max_speakers: int = 6) -> None:
        self.max_speakers = max_speakers
        self._encoder: VoiceEncoder | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._encoder = None

    def turns(self, wav: np.ndarray) -> list[Turn]:
        """Speaker turns of 16 kHz mono audio; one speaker, or none found, is a single turn or none."""
        return self.diarize(wav).turns

    def diarize(self, wav: np.ndarray) -> Diarization:
        """The turns, and each speaker's voice: the unit mean of its windows' embeddings as the encoder gave
        them (not centred: a voice is compared with voices of other recordings)."""
        with self._lock:
            if self._encoder is None:
                self._encoder = VoiceEncoder()
            encoder = self._encoder
        with ThreadPoolExecutor(1) as beside:  # the VAD keeps one core; the spectrogram takes the other meanwhile
            spectrogram = beside.submit(encoder.mel, wav)
            regions = speech_regions(wav)
            mel = spectrogram.result()
        if not regions:
            return Diarization([], {})
        starts = window_starts(regions, len(mel))
        if len(starts) < FEW_WINDOWS:
            starts = window_starts(regions, len(mel), SHORT_HOP_FRAMES)
        if not starts:
            return Diarization([Turn(regions[0][0], regions[-1][1], 1)], {})
        windows = np.stack([mel[s:s + WINDOW_FRAMES] for s in starts])
        centres = np.array([(s + WINDOW_FRAMES / 2) / 100 for s in starts])
        stretch = stretch_of(regions, centres)
        embeddings = encoder.embed(windows)
        labels = assign(embeddings, stretch, self.max_speakers)
        turns, order = turns_of(regions, centres, stretch, labels)
        voices = {speaker: _unit(embeddings[labels == label].mean(axis=0)) for label, speaker in order.items()
                  if (labels == label).any()}
        return Diarization(turns, voices)


def speech_regions(wav: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of speech, from faster-whisper's Silero VAD."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(wav, VadOptions(**VAD))
    return [(item["start"] / RATE, item["end"] / RATE) for item in found]


def window_starts(regions: list[tuple[float, float]], frames: int, hop: int = HOP_FRAMES) -> list[int]:
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
            position += hop
    return [s for s in starts if s + WINDOW_FRAMES <= frames]


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def stretch_of(regions: list[tuple[float, float]], centres: np.ndarray) -> np.ndarray:
    """Which stretch of speech (region) each window belongs to: the first that holds its centre (half a second
    either side), else the nearest."""
    inside = np.array([[a - 0.5 <= c <= b + 0.5 for a, b in regions] for c in centres])
    middles = np.array([(a + b) / 2 for a, b in regions])
    nearest = np.argmin(np.abs(centres[:, None] - middles[None, :]), axis=1)
    return np.where(inside.any(axis=1), np.argmax(inside, axis=1), nearest)


def assign(embeddings: np.ndarray, stretch: np.ndarray, most: int) -> np.ndarray:
    """A speaker (0..k-1) for every window: centred, smoothed, clustered spectrally, then found again by Viterbi."""
    n = len(embeddings)
    if n < 2 * LEAST_WINDOWS:
        return np.zeros(n, dtype=int)
    centred = _unit(embeddings - embeddings.mean(axis=0))
    smoothed = np.empty_like(centred)
    for i in range(n):
        near = [j for j in range(max(0, i - NEIGHBOURS), min(n, i + NEIGHBOURS + 1)) if stretch[j] == stretch[i]]
        smoothed[i] = centred[near].mean(axis=0)
    smoothed = _unit(smoothed)
    picked = np.arange(n) if n <= MOST_WINDOWS else np.linspace(0, n - 1, MOST_WINDOWS).astype(int)
    sample = smoothed[picked]
    labels = np.argmax(smoothed @ centroids(sample, cluster(sample, most), 1).T, axis=1)
    for _ in range(2):  # each speaker's centroid, then every window again, each change priced
        labels = viterbi(smoothed @ centroids(centred, labels, LEAST_WINDOWS).T, SWITCH_PRICE)
    return one_voice_merged(embeddings, labels)


def one_voice_merged(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Two clusters are one speaker when, centred, they point the same way (a voice split by its stretches of
    speech: two voices sit on opposite sides of the recording's mean), or when, uncentred, they are as alike as one
    voice is (centring a single voice leaves only noise, which clustering splits all the same). Labels 0..k-1."""
    labels = labels.copy()
    centred = _unit(embeddings - embeddings.mean(axis=0))
    while True:
        present = sorted(set(int(x) for x in labels))
        if len(present) < 2:
            break
        pair = max(((i, j) for i in range(len(present)) for j in range(i + 1, len(present))),
                   key=lambda ij: _alike(embeddings, centred, labels, present[ij[0]], present[ij[1]]))
        if _alike(embeddings, centred, labels, present[pair[0]], present[pair[1]]) <= 0:
            break
        labels[labels == present[pair[1]]] = present[pair[0]]
    return np.unique(labels, return_inverse=True)[1]


def _alike(raw: np.ndarray, centred: np.ndarray, labels: np.ndarray, a: int, b: int) -> float:
    """Above 0 when clusters ``a`` and ``b`` are one voice by either test (see one_voice_merged)."""
    one, other = raw[labels == a], raw[labels == b]
    within = np.sqrt(_mean_pair(one @ one.T) * _mean_pair(other @ other.T))
    raw_test = float((one @ other.T).mean() / max(within, 1e-9)) - SAME_VOICE
    centres = _unit(np.stack([centred[labels == a].mean(axis=0), centred[labels == b].mean(axis=0)]))
    return max(raw_test, float(centres[0] @ centres[1]) - SAME_SIDE)


def _mean_pair(similarity: np.ndarray) -> float:
    n = len(similarity)
    return float((similarity.sum() - np.trace(similarity)) / (n * (n - 1))) if n > 1 else 1.0


def centroids(vectors: np.ndarray, labels: np.ndarray, least: int) -> np.ndarray:
    """The unit mean of each cluster of at least ``least`` windows (the largest one when none is)."""
    counts = np.bincount(labels)
    kept = [k for k in range(len(counts)) if counts[k] >= least] or [int(np.argmax(counts))]
    return _unit(np.stack([vectors[labels == k].mean(axis=0) for k in kept]))


def cluster(vectors: np.ndarray, most: int) -> np.ndarray:
    """Spectral clustering of unit vectors: each one's most similar make a graph, the number of speakers is where
    its Laplacian's eigenvalues jump most (at most ``most``), then k-means on the eigenvectors. How many neighbours
    each keeps is chosen per recording: the fraction whose jump, against the largest eigenvalue, is biggest for
    the fewest neighbours (Park et al.'s normalised maximum eigengap), so no threshold is tuned to voices."""
    n = len(vectors)
    if n < 4:
        return np.zeros(n, dtype=int)
    similarity = vectors @ vectors.T
    order = np.argsort(-similarity, axis=1)
    rows = np.arange(n)[:, None]
    best: tuple[float, int, np.ndarray] | None = None
    for fraction in FRACTIONS:
        nearest = order[:, :max(2, int(fraction * n))]
        graph = np.zeros_like(similarity)
        graph[rows, nearest] = similarity[rows, nearest]
        graph = np.maximum(0.0, (graph + graph.T) / 2)
        values, vectors_ = np.linalg.eigh(np.diag(graph.sum(axis=1)) - graph)
        gaps = np.diff(values[:most + 1])
        ratio = fraction / max(float(gaps.max()) / max(float(values[-1]), 1e-9), 1e-9)
        if best is None or ratio < best[0]:
            best = (ratio, int(np.argmax(gaps)) + 1, vectors_)
    assert best is not None
    _, count, vectors_ = best
    if count == 1:
        return np.zeros(n, dtype=int)
    return kmeans(_unit(vectors_[:, :count]), count)


def kmeans(points: np.ndarray, k: int, rounds: int = 30) -> np.ndarray:
    """k-means from the farthest-point start (the same answer every time)."""
    chosen = [points[0]]
    for _ in range(1, k):
        distance = np.min(((points[:, None, :] - np.array(chosen)[None]) ** 2).sum(-1), axis=1)
        chosen.append(points[int(np.argmax(distance))])
    middle = np.array(chosen)
    labels: np.ndarray = np.zeros(len(points), dtype=int)
    for _ in range(rounds):
        labels = np.argmin(((points[:, None, :] - middle[None]) ** 2).sum(-1), axis=1)
        middle = np.array([points[labels == q].mean(axis=0) if (labels == q).any() else middle[q] for q in range(k)])
    return labels


def viterbi(scores: np.ndarray, price: float) -> np.ndarray:
    """The label sequence with the best total score, each change of label costing ``price``."""
    n, k = scores.shape
    best = scores[0].copy()
    back = np.zeros((n, k), dtype=int)
    for i in range(1, n):
        switch = best.max() - price
        back[i] = np.where(best >= switch, np.arange(k), int(best.argmax()))
        best = np.maximum(best, switch) + scores[i]
    path = np.zeros(n, dtype=int)
    path[-1] = int(best.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i][path[i]]
    return path


def turns_of(regions: list[tuple[float, float]], centres: np.ndarray, stretch: np.ndarray,
             labels: np.ndarray) -> tuple[list[Turn], dict[int, int]]:
    """Each region's speech split where its windows' speaker changes (halfway between the two windows' centres);
    a region without a window of its own takes the nearest window's speaker; speakers numbered by first
    appearance (the second value: label -> number)."""
    order: dict[int, int] = {}
    turns: list[Turn] = []
    for index, (begin, end) in enumerate(regions):
        inside: list[int] = [int(i) for i in np.nonzero(stretch == index)[0]]
        inside = inside or [int(np.argmin(np.abs(centres - (begin + end) / 2)))]
        cut = begin
        for position, i in enumerate(inside):
            last = position == len(inside) - 1
            if not last and labels[inside[position + 1]] == labels[i]:
                continue
            stop = end if last else min(end, max(cut, (centres[i] + centres[inside[position + 1]]) / 2))
            speaker = order.setdefault(int(labels[i]), len(order) + 1)
            if stop > cut:
                if turns and turns[-1].speaker == speaker and cut - turns[-1].end < 0.5:
                    turns[-1] = Turn(turns[-1].start, stop, speaker)
                else:
                    turns.append(Turn(cut, stop, speaker))
            cut = stop
    return turns, order


def load_audio(path: str) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    return np.asarray(decode_audio(path, sampling_rate=RATE), dtype=np.float32)


def describe(turns: list[Turn]) -> dict[str, Any]:
    return {"speakers": len({t.speaker for t in turns}), "turns": len(turns)}
