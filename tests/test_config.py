from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from transhades import config as config_lib
from transhades.config import ConfigError


def load_text(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return config_lib.load(path, env=env or {})


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(tmp_path, text)
    return caught.value.problems


def test_shipped_config_is_valid_with_no_keys_and_enables_only_local():
    cfg = config_lib.load(ROOT / "config.yaml", env={})
    assert [p.name for p in cfg.enabled_providers] == ["local"]
    reasons = {p.name: p.disabled_reason for p in cfg.providers if not p.enabled}
    assert reasons == {"groq": "GROQ_API_KEY is not set", "deepgram": "DEEPGRAM_API_KEY is not set",
                       "together": "TOGETHER_API_KEY is not set", "openai": "OPENAI_API_KEY is not set"}


def test_key_from_the_environment_enables_the_provider_and_stays_out_of_repr():
    fake_key = "gsk_" + "secret" * 4  # built here, so no key-shaped string sits in the repository
    cfg = config_lib.load(ROOT / "config.yaml", env={"GROQ_API_KEY": fake_key})
    groq = cfg.providers[0]
    assert groq.enabled and groq.api_key == fake_key
    assert "gsk_secret" not in repr(cfg)


def test_variables_expand_with_defaults(tmp_path):
    cfg = load_text(tmp_path, """
providers: [{name: local, kind: local, instances: "${N:-3}"}]
cache: {backend: memory, max_items: "${ITEMS}"}
""", env={"ITEMS": "7"})
    assert cfg.providers[0].instances == 3 and cfg.cache.max_items == 7


def test_dotenv_values_apply_and_the_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("# keys\nexport A_KEY='from-dotenv'\nB_KEY=dot # comment\nnot a line\n")
    monkeypatch.setenv("B_KEY", "from-env")
    env = config_lib.environment(tmp_path / ".env")
    assert env["A_KEY"] == "from-dotenv" and env["B_KEY"] == "from-env"


def test_bad_values_give_one_line_per_problem_naming_the_key(tmp_path):
    found = problems(tmp_path, """
providers:
  - {name: local, kind: local}
  - {name: groq, kind: openai, base_url: ftp://x, api_key: k, instances: 0}
  - {name: local, kind: whisperer}
cache: {backend: mongo}
dispatcher: {max_concurrent_jobs: many, retries: -1}
supervision: {backoff: {min_seconds: 5, max_seconds: 1}, colour: red}
""")
    assert "providers[1].instances: must be >= 1" in found
    assert any(p.startswith("providers[1].base_url: must start with http") for p in found)
    assert any(p.startswith("providers[2].kind: must be one of local, openai, deepgram") for p in found)
    assert any(p.startswith("providers[2].name: 'local' is used twice") for p in found)
    assert any(p.startswith("cache.backend: must be one of") for p in found)
    assert any(p.startswith("dispatcher.max_concurrent_jobs: must be a whole number") for p in found)
    assert "dispatcher.retries: must be >= 0" in found
    assert "supervision.backoff.max_seconds: must be >= min_seconds" in found
    assert any(p.startswith("supervision.colour: unknown key") for p in found)


def test_operations_settings_are_read_and_checked(tmp_path):
    found = problems(tmp_path, """
providers: [{name: l, kind: local}]
telegram: {user_jobs_per_minute: -1, drain_seconds: 60, journal_keep_hours: soon}
logging: {format: xml, level: loud}
""")
    assert "telegram.user_jobs_per_minute: must be >= 0" in found
    assert "telegram.drain_seconds: must be <= 20" in found, "the drain must leave time to stop within 25 s"
    assert any(p.startswith("telegram.journal_keep_hours: must be a number") for p in found)
    assert "logging.format: must be one of plain, json, got 'xml'" in found
    assert any(p.startswith("logging.level: must be one of debug, info") for p in found)
    cfg = config_lib.parse({"providers": [{"name": "l", "kind": "local"}], "logging": {"format": "json"},
                            "telegram": {"user_jobs_per_minute": 3, "drain_seconds": 5}}, env={})
    assert (cfg.logging.format, cfg.telegram.user_jobs_per_minute, cfg.telegram.drain_seconds) == ("json", 3, 5.0)
    assert config_lib.parse({"providers": [{"name": "l", "kind": "local"}]}, env={}).logging.format == "plain"


def test_unset_variable_outside_a_provider_key_is_an_error_naming_it(tmp_path):
    found = problems(tmp_path, "providers: [{name: l, kind: local}]\ncache: {backend: redis, url: '${REDIS_URL}'}\n")
    assert "${REDIS_URL}: is used in the config but not set; set it in the environment or .env" in found


def test_yaml_syntax_error_names_the_line(tmp_path):
    (found,) = problems(tmp_path, "providers:\n  - name: [unclosed\n")
    assert "line 3" in found or "line 2" in found


def test_missing_providers_and_missing_file(tmp_path):
    assert problems(tmp_path, "cache: {backend: memory}\n") == [
        "providers: must be a non-empty list (the failover order)"]
    with pytest.raises(ConfigError) as caught:
        config_lib.load(tmp_path / "nope.yaml")
    assert "no such config file" in caught.value.problems[0]


def test_config_path_comes_from_flag_then_variable_then_cwd():
    assert config_lib.resolve_path("a.yaml", {"TRANSHADES_CONFIG": "b.yaml"}) == Path("a.yaml")
    assert config_lib.resolve_path(None, {"TRANSHADES_CONFIG": "b.yaml"}) == Path("b.yaml")
    assert config_lib.resolve_path(None, {}) == Path("config.yaml")


def test_check_config_prints_the_tree_and_exits_zero():
    done = run_cli("check-config", "--config", str(ROOT / "config.yaml"), env={"GROQ_API_KEY": "gsk_x" * 5})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "provider:groq-1, provider:groq-2 (openai" in out
    assert "provider:deepgram  x0  disabled: DEEPGRAM_API_KEY is not set" in out
    assert "audio-1, audio-2" in out and "dispatcher (max 5 jobs, 3 per user, 2 retries)" in out
    assert "failover order: groq -> local" in out
    assert "credential:API-2   x0  skipped: api_id or api_hash is empty" in out
    assert "bot                x0  not started: needs TELEGRAM_BOT_TOKEN, TELEGRAM_API_ID, TELEGRAM_API_HASH" in out
    assert "gsk_x" not in out + done.stderr


def test_check_config_on_a_bad_file_exits_2_with_one_line_per_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers:\n  - {name: a, kind: local, instances: 0}\n  - {name: b, kind: local, beam_size: 99}\n")
    done = run_cli("check-config", "--config", str(bad))
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: providers[0].instances: must be >= 1",
                                        "error: providers[1].beam_size: must be <= 10"]
    assert "Traceback" not in done.stderr


def test_a_provider_without_api_key_is_enabled_and_one_whose_variable_is_unset_is_not():
    cfg = config_lib.parse({"providers": [
        {"name": "selfhosted", "kind": "openai", "base_url": "http://127.0.0.1:8000/v1"},
        {"name": "groq", "kind": "openai", "base_url": "https://api.groq.com/openai/v1", "api_key": "${GROQ_API_KEY}"},
    ]}, env={}, source="x")
    selfhosted, groq = cfg.providers
    assert selfhosted.enabled and selfhosted.api_key is None and selfhosted.disabled_reason is None
    assert not groq.enabled and groq.disabled_reason == "GROQ_API_KEY is not set"


NUMERIC_KEYS = [
    ("providers", "instances"), ("providers", "timeout_seconds"), ("providers", "max_upload_mb"),
    ("providers", "breaker_seconds"), ("dispatcher", "max_concurrent_jobs"), ("dispatcher", "retries"),
    ("audio", "max_duration_seconds"), ("audio", "chunk_seconds"), ("audio", "workers"),
    ("backoff", "min_seconds"), ("backoff", "max_seconds"), ("backoff", "jitter"), ("supervision", "within_seconds"),
    ("cache", "max_items"), ("telegram", "journal_keep_hours"), ("telegram", "downloads_per_credential"),
]


def _document_with(section: str, key: str, literal: str) -> str:
    provider = "{name: l, kind: local}"
    if section == "providers":
        return f"providers: [{{name: l, kind: local, {key}: {literal}}}]\n"
    if section == "backoff":
        return f"providers: [{provider}]\nsupervision: {{backoff: {{{key}: {literal}}}}}\n"
    return f"providers: [{provider}]\n{section}: {{{key}: {literal}}}\n"


@pytest.mark.parametrize("literal", [".inf", "-.inf", ".nan", ".NaN", "1e400", "-1e400", "1.0e+400", "1.0e+300"])
@pytest.mark.parametrize("section,key", NUMERIC_KEYS)
def test_non_finite_and_huge_numbers_are_one_line_errors_naming_the_key(tmp_path, section, key, literal):
    where = {"providers": "providers[0]", "backoff": "supervision.backoff"}.get(section, section)
    found = problems(tmp_path, _document_with(section, key, literal))
    assert found and all(p.startswith(f"{where}.{key}: must be ") for p in found), found


def test_nan_never_turns_a_limit_off(tmp_path):
    (found,) = problems(tmp_path, "providers: [{name: l, kind: local}]\naudio: {max_duration_seconds: .nan}\n")
    assert found == "audio.max_duration_seconds: must be a finite number, got nan"


def test_a_deeply_nested_document_is_one_line_not_a_recursion_error(tmp_path):
    (found,) = problems(tmp_path, "providers: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in found


def test_a_scalar_document_says_the_file_must_be_a_mapping(tmp_path):
    found = problems(tmp_path, "just a sentence\n")
    assert found[0] == "the config file: must be a mapping of keys to values, got a string"


@pytest.mark.parametrize("literal", [".inf", ".nan", "1e400"])
def test_check_config_with_a_non_finite_number_exits_2_without_a_traceback(tmp_path, literal):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"providers:\n  - {{name: a, kind: local, instances: {literal}}}\n")
    done = run_cli("check-config", "--config", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: providers[0].instances: must be ")


def test_the_language_model_is_off_while_its_key_is_unset_and_its_problems_are_one_line_each(tmp_path):
    shipped = config_lib.load(ROOT / "config.yaml", env={})
    assert shipped.llm is not None and not shipped.llm.enabled
    assert shipped.llm.disabled_reason == "GROQ_API_KEY is not set"
    fake_key = "gsk_" + "llm" * 6
    cfg = config_lib.load(ROOT / "config.yaml", env={"GROQ_API_KEY": fake_key})
    assert cfg.llm.enabled and cfg.llm.api_key == fake_key and cfg.llm.model == "llama-3.3-70b-versatile"
    assert fake_key in cfg.secrets() and fake_key not in repr(cfg)
    assert problems(tmp_path, "providers: [{name: local, kind: local}]\nllm: {base_url: ftp://x, mdl: m}\n") == [
        "llm.mdl: unknown key; known keys are base_url, model, api_key, instances, timeout_seconds, max_input_chars, "
        "max_wait_seconds, http_attempts, retry_min_seconds, retry_max_seconds",
        "llm.model: is required (the chat model's name, e.g. llama-3.3-70b-versatile)",
        "llm.base_url: must start with http:// or https://, got 'ftp://x'"]
    assert problems(tmp_path, "providers: [{name: local, kind: local}]\nllm: {model: m, max_input_chars: 10}\n") == [
        "llm.max_input_chars: must be >= 200", "llm.base_url: is required (e.g. https://api.groq.com/openai/v1)"]


def test_check_config_shows_the_language_model():
    done = run_cli("check-config", "--config", str(ROOT / "config.yaml"), env={"GROQ_API_KEY": "gsk_x" * 5})
    assert "llm                x2  llm-1, llm-2 (model llama-3.3-70b-versatile, https://api.groq.com/openai/v1;" in \
        done.stdout
    done = run_cli("check-config", "--config", str(ROOT / "config.yaml"), env={"GROQ_API_KEY": ""})
    assert "llm                x0  disabled: GROQ_API_KEY is not set (/translate en uses the local model)" in \
        done.stdout
