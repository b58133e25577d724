"""The GE2E voice encoder: 40 mel bands of 25 ms windows every 10 ms (numpy, here), a 3-layer LSTM of 256, a linear
layer, ReLU, unit length (``ge2e.onnx``, on onnxruntime). One embedding per 1.6 s window of speech.

The weights are Resemblyzer's ``pretrained.pt`` (Apache-2.0; see ``GE2E-LICENSE`` beside this file), converted once
to ``ge2e.onnx`` (float32, the same numbers; ``transhades/devtools/ge2e_onnx.py`` says how): no torch, no librosa
and no download at run time. The mel filterbank follows the Slaney formula (librosa's default, which the encoder was
trained with), computed here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
WEIGHTS = Path(__file__).with_name("ge2e.onnx")
BATCH = 128  # windows per matrix product: large enough for BLAS, small enough for the cache


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log_start, log_step = 1000.0 / (200.0 / 3), np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, log_start + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_start, log_step = 1000.0 / (200.0 / 3), np.log(6.4) / 27.0
    return np.where(mel >= log_start, 1000.0 * np.exp(log_step * (mel - log_start)), mel * (200.0 / 3))


@cache
def mel_filters() -> np.ndarray:
    """(40, 201) triangular filters between 0 Hz and 8 kHz, each normalised to unit area (Slaney)."""
    fft_hz = np.linspace(0, RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(RATE / 2)), N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    filters = np.maximum(0, np.minimum(lower, upper))
    filters *= (2.0 / (edges[2:N_MELS + 2] - edges[:N_MELS]))[:, None]
    return filters.astype(np.float32)


def mel(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) power mel spectrogram: frames centred every 10 ms (zero padding at both ends), periodic Hann."""
    wav = np.asarray(wav, dtype=np.float32)
    padded = np.pad(wav, N_FFT // 2)
    frames = 1 + (len(padded) - N_FFT) // HOP if len(padded) >= N_FFT else 0
    if frames <= 0:
        return np.zeros((0, N_MELS), np.float32)
    strided = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][:frames]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    power = np.abs(np.fft.rfft(strided * window, axis=1)) ** 2
    return (power.astype(np.float32) @ mel_filters().T).astype(np.float32)


class VoiceEncoder:
    """(n, 160, 40) mel windows -> (n, 256) unit vectors, on onnxruntime (which faster-whisper brings)."""

    def __init__(self, path: Path = WEIGHTS) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1  # one graph, one path: its LSTMs use the intra-op threads
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(path), sess_options=options,
                                                     providers=["CPUExecutionProvider"])

    def embed(self, windows: np.ndarray) -> np.ndarray:
        if len(windows) == 0:
            return np.zeros((0, 256), np.float32)
        return np.concatenate([self._embed(windows[i:i + BATCH]) for i in range(0, len(windows), BATCH)])

    def _embed(self, x: np.ndarray) -> np.ndarray:
        steps_first = np.ascontiguousarray(np.asarray(x, dtype=np.float32).transpose(1, 0, 2))
        vectors = self._session.run(None, {"mel": steps_first})[0]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
