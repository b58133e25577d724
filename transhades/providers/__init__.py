"""Transcription provider clients: one method, audio chunk in, transcript out.

Clients raise the typed errors of :mod:`transhades.errors` (rate limited, unavailable, rejected key, bad
input) and nothing else on an expected failure; the provider actor turns them into ``TaskFailed`` replies.
"""

from __future__ import annotations

from pathlib import Path

from transhades.config import ProviderConfig
from transhades.providers.base import Progress, Provider

__all__ = ["Progress", "Provider", "build_provider"]


def build_provider(cfg: ProviderConfig, data_dir: Path) -> Provider:
    """The client for one configured provider. Called inside the provider actor's thread."""
    if cfg.kind == "local":
        from transhades.providers.local import LocalWhisper

        return LocalWhisper(cfg.name, cfg.model, data_dir / "models", beam_size=cfg.beam_size,
                            cpu_threads=cfg.cpu_threads, device=cfg.device, compute_type=cfg.compute_type,
                            batch_size=cfg.batch_size, word_timestamps=cfg.word_timestamps,
                            per_part=cfg.language_per_part)
    from transhades.providers.http import RetryPolicy

    retry = RetryPolicy(cfg.http_attempts, cfg.retry_min_seconds, cfg.retry_max_seconds)
    if cfg.kind == "openai":
        from transhades.providers.openai import OpenAICompatible

        assert cfg.base_url, "checked by the config"
        return OpenAICompatible(cfg.name, cfg.base_url, cfg.model, cfg.api_key, cfg.timeout_seconds, retry,
                                cfg.auto_language, word_timestamps=cfg.word_timestamps)
    if cfg.kind == "deepgram":
        from transhades.providers.deepgram import Deepgram

        assert cfg.base_url, "checked by the config"
        return Deepgram(cfg.name, cfg.base_url, cfg.model, cfg.api_key, cfg.timeout_seconds, retry)
    raise ValueError(f"unknown provider kind {cfg.kind!r}")
