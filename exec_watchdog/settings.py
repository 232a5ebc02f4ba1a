"""One settings model for every command: defaults < TOML file (`--config`) < environment (`WATCHDOG_`)
< command line. Invalid values stop the command with exit code 2 and a message naming the setting."""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from exec_watchdog.adapters.kafka_connection import MECHANISMS, PROTOCOLS, KafkaConnection
from exec_watchdog.telemetry.masking import mask_url
from schemas.fields import AGENT_NAME_PATTERN, whole_match
from statemachine.policy import Policy

_AGENT_NAME = whole_match(AGENT_NAME_PATTERN)
ENV_PREFIX = "WATCHDOG_"
Seconds = Annotated[float, Field(gt=0, le=366 * 86400, allow_inf_nan=False)]
"""A duration: more than zero, at most a year, never inf or nan."""
_config_file: ContextVar[Path | None] = ContextVar("config_file", default=None)


class ConfigError(Exception):
    """Bad configuration: the message names the setting, the value and what is expected."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", case_sensitive=False)

    kafka_bootstrap: str | None = Field(None, description="Kafka bootstrap servers (host:port,...)")
    kafka_security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    kafka_sasl_mechanism: str | None = Field(None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_*)")
    kafka_sasl_username: str | None = Field(None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password")
    kafka_ssl_cafile: str | None = Field(None, description="CA bundle for TLS (default: the system's)")
    kafka_ssl_certfile: str | None = Field(None, description="client certificate for mutual TLS")
    kafka_ssl_keyfile: str | None = Field(None, description="client key for mutual TLS")
    database_url: str = Field("sqlite:///./watchdog.db", description="exec-watchdog's own store")
    auto_migrate: bool = Field(True, description="bring the store's schema up to date when a command opens it")
    heartbeat_timeout_s: Seconds = Field(90, description="silence before an execution is suspected")
    min_age_s: float = Field(
        60, ge=0, le=366 * 86400, allow_inf_nan=False, description="never declare an orphan younger than this"
    )
    idle_after_s: Seconds = Field(1800, description="alive but without activity this long: idle")
    idle_without_activity: bool = Field(
        False,
        description="also announce idle executions that never reported activity (off: their source may emit none)",
    )
    default_timeout_s: Seconds = Field(3600, description="runtime limit when nothing else gives one")
    agent_timeouts: dict[str, Seconds] = Field(
        default_factory=dict, description='per-agent runtime limits, JSON {"agent": seconds}'
    )
    auto_terminate: bool = Field(False, description="terminate idle executions past their limit")
    tick_interval_s: Seconds = Field(5, description="how often time advances")
    max_clock_skew_s: Seconds = Field(
        30, description="how far an event's occurred_at may lie behind the watchdog's clock and still be believed"
    )
    probe_retry_s: Seconds = Field(15, description="first wait before probing again (doubles, capped)")
    probe_retry_max_s: Seconds = Field(300, description="longest wait between probes")
    command_retry_s: Seconds = Field(30, description="first wait before retrying a failed command")
    command_retry_max_s: Seconds = Field(600, description="longest wait between command retries")
    terminal_retention_s: Seconds = Field(3600, description="how long finished executions are remembered")
    brake_enabled: bool = Field(True, description="the mass-failure brake: hold kills when many executions look dead")
    brake_share: float = Field(
        0.3, gt=0, le=1, description="share of tracked executions (all, or one agent's) that engages the brake"
    )
    brake_min_executions: int = Field(10, ge=1, description="the brake never engages for fewer executions than this")
    brake_window_s: Seconds = Field(300, description="the window the brake counts suspicions in")
    incident_list_limit: int = Field(20, ge=1, le=1000, description="executions listed by name in an incident")
    agent_url_template: str = Field("http://agent-{agent_name}:8000", description="agent base URL")
    agent_urls: dict[str, str] = Field(
        default_factory=dict, description='per-agent base URLs, JSON {"agent": "http://host:port"}, before the template'
    )
    agent_auth_secret: SecretStr | None = Field(None, description="HMAC secret for X-Trinity-Agent-Token")
    agent_static_token: SecretStr | None = Field(
        None, description="a fixed X-Trinity-Agent-Token for every agent (when there is no HMAC secret)"
    )
    agent_connect_timeout_s: Seconds = Field(5, description="agent calls: connect timeout")
    agent_timeout_s: Seconds = Field(15, description="agent calls: total timeout")
    agent_read_retries: int = Field(2, ge=0, le=10, description="retries of agent read calls (jittered backoff)")
    agent_max_concurrency: int = Field(4, ge=1, le=256, description="concurrent calls per agent")
    terminate_grace_s: Seconds = Field(
        15, description="after a terminate the agent acknowledged: how long the execution has to leave its running list"
    )
    agent_breaker_failures: int = Field(5, ge=1, description="consecutive failures that open an agent's circuit")
    agent_breaker_reset_s: Seconds = Field(30, description="how long an open circuit stays open")
    platform_database_url: SecretStr | None = Field(None, description="the platform's database (optional)")
    platform_redis_url: SecretStr | None = Field(None, description="the platform's Redis (optional)")
    notify_webhook_url: str | None = Field(None, description="POST every recovery event here (optional)")
    notify_webhook_secret: SecretStr | None = Field(None, description="HMAC secret for webhook signatures")
    webhook_timeout_s: Seconds = Field(5, description="webhook: time allowed for one delivery attempt")
    webhook_max_attempts: int = Field(8, ge=1, le=100, description="webhook: attempts before a delivery gives up")
    bridge_interval_s: Seconds = Field(15, description="how often `bridge` reads the platform")
    bridge_max_streams: int = Field(
        500, ge=0, le=100_000, description="`bridge`: log streams followed at once for activity (0: none)"
    )
    group_id: str = Field("exec-watchdog", min_length=1, description="the Kafka consumer group")
    startup_timeout_s: float = Field(
        60, ge=0, le=86400, description="`run`: how long to wait for a broker at start-up before exiting 2"
    )
    kafka_session_timeout_s: float = Field(
        10, ge=1, le=300, description="how long the group waits for a silent instance before handing its partitions on"
    )
    http_port: int = Field(9464, ge=0, le=65535, description="/metrics, /healthz, /readyz; 0 turns it off")
    http_host: str = Field("127.0.0.1", min_length=1, description="address the HTTP endpoints bind to (0.0.0.0: all)")
    lifecycle_topic: str = Field("executions.lifecycle", min_length=1, description="input topic")
    recoveries_topic: str = Field("watchdog.recoveries", min_length=1, description="recovery events")
    dlq_topic: str = Field("watchdog.dlq", min_length=1, description="rejected input records")
    control_topic: str = Field("watchdog.control", min_length=1, description="ticks and effect results")
    audit_topic: str = Field("watchdog.audit", min_length=1, description="decision records")
    snapshot_interval_s: Seconds = Field(10, description="how often partition state is snapshotted")
    checkpoint_interval_s: Seconds = Field(900, description="how often a snapshot is kept for replays and audits")
    topic_replication_factor: int | None = Field(
        None, ge=1, description="replication of the topics the service creates (default: min(3, brokers))"
    )

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Settings:
        protocol, mechanism = self.kafka_security_protocol, self.kafka_sasl_mechanism
        if protocol not in PROTOCOLS:
            raise ValueError(
                f"setting WATCHDOG_KAFKA_SECURITY_PROTOCOL: {protocol!r} is not one of {', '.join(PROTOCOLS)}"
            )
        if protocol.startswith("SASL_"):
            if mechanism not in MECHANISMS:
                raise ValueError(
                    f"setting WATCHDOG_KAFKA_SASL_MECHANISM: {mechanism!r} is not one of {', '.join(MECHANISMS)} "
                    f"(required with {protocol})"
                )
            if not self.kafka_sasl_username or self.kafka_sasl_password is None:
                raise ValueError(
                    "settings WATCHDOG_KAFKA_SASL_USERNAME and WATCHDOG_KAFKA_SASL_PASSWORD are required with "
                    f"{protocol} (the password may come from a file in WATCHDOG_SECRETS_DIR)"
                )
        return self

    def kafka(self) -> KafkaConnection:
        if not self.kafka_bootstrap:
            raise ValueError("WATCHDOG_KAFKA_BOOTSTRAP is not set")
        password = self.kafka_sasl_password
        return KafkaConnection(
            self.kafka_bootstrap,
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_sasl_username,
            None if password is None else password.get_secret_value(),
            self.kafka_ssl_cafile,
            self.kafka_ssl_certfile,
            self.kafka_ssl_keyfile,
        )

    @field_validator("agent_url_template")
    @classmethod
    def _template_names_the_agent(cls, value: str) -> str:
        if "{agent_name}" not in value or not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL containing {agent_name}, e.g. http://agent-{agent_name}:8000")
        return value

    @field_validator("agent_urls")
    @classmethod
    def _urls_are_agents_and_bases(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            if not _AGENT_NAME.match(name):
                raise ValueError(f"{name!r} is not an agent name (^[a-z0-9][a-z0-9-]{{0,62}}$)")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
                raise ValueError(
                    f"{name}: {url!r} must be an http(s) base URL without query, e.g. http://10.0.0.7:8000"
                )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, file_secret_settings, _TomlFile(settings_cls))

    def policy(self) -> Policy:
        return Policy(**{name: getattr(self, name) for name in Policy.model_fields})

    def masked(self) -> dict[str, Any]:
        """The effective configuration for people: secrets masked, and in every URL its credentials
        (host, port and database stay visible; `exec_watchdog.telemetry.masking`)."""
        return {name: _shown(getattr(self, name)) for name in type(self).model_fields}


def _shown(value: Any) -> Any:
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        return mask_url(secret) if "://" in secret else "**********"
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    if isinstance(value, dict):
        return {key: _shown(item) for key, item in value.items()}
    return value


class _TomlFile(PydanticBaseSettingsSource):
    """Values from the `--config` TOML file: keys are the setting names, without the prefix."""

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get()
        if path is None:
            return {}
        try:
            data = tomllib.loads(path.read_text())
        except OSError as error:
            raise ConfigError(f"--config {path}: cannot read the file ({error.strerror})") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"--config {path}: not valid TOML ({error})") from None
        section = data.get("watchdog", data)
        values = {key.lower().removeprefix(ENV_PREFIX.lower()): value for key, value in section.items()}
        unknown = [
            f"--config {path}: key {key!r} is not a setting{_did_you_mean(key, lowercase=True)}"
            for key in values
            if key not in Settings.model_fields
        ]
        if unknown:
            raise ConfigError("\n".join(unknown))
        return values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, or raise `ConfigError` with one line per bad setting."""
    token = _config_file.set(config_file)
    secrets_dir = os.environ.get(f"{ENV_PREFIX}SECRETS_DIR")
    values = {k: v for k, v in overrides.items() if v is not None}
    if secrets_dir:
        if not Path(secrets_dir).is_dir():
            raise ConfigError(f"setting {ENV_PREFIX}SECRETS_DIR: {secrets_dir!r} is not a directory")
        values["_secrets_dir"] = secrets_dir
    unknown = [
        f"setting {name}: no such setting{_did_you_mean(name.upper().removeprefix(ENV_PREFIX), lowercase=False)}"
        for name in sorted(os.environ)
        if name.upper().startswith(ENV_PREFIX) and name.upper().removeprefix(ENV_PREFIX) not in _VARIABLES
    ]
    if unknown:
        _config_file.reset(token)
        raise ConfigError("\n".join(unknown))
    try:
        return Settings(**values)
    except ValidationError as error:
        raise ConfigError(_explain(error)) from None
    except SettingsError as error:  # a complex value (JSON) that does not parse
        raise ConfigError(_explain_unparsable(error)) from None
    finally:
        _config_file.reset(token)


_VARIABLES = {name.upper() for name in Settings.model_fields} | {"SECRETS_DIR", "CONFIG"}
"""Every `WATCHDOG_*` variable that means something: the settings, the secrets folder, the config file."""


def _did_you_mean(name: str, *, lowercase: bool) -> str:
    known = sorted(Settings.model_fields) if lowercase else sorted(_VARIABLES)
    close = difflib.get_close_matches(name.lower() if lowercase else name.upper(), known, n=1, cutoff=0.75)
    if not close:
        return "; the README's Configuration table lists them"
    return f"; did you mean {close[0]!r}?" if lowercase else f"; did you mean {ENV_PREFIX}{close[0]}?"


def _explain_unparsable(error: SettingsError) -> str:
    match = re.search(r'field "(\w+)"', str(error))
    name = match.group(1) if match else "?"
    env_name = f"{ENV_PREFIX}{name.upper()}"
    value = os.environ.get(env_name, next((v for k, v in os.environ.items() if k.upper() == env_name), None))
    field = Settings.model_fields.get(name)
    hint = f" ({field.description})" if field is not None and field.description else ""
    return f"setting {env_name}: value {value!r} is not valid: expected JSON{hint}"


def _explain(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_url=False):
        if not item["loc"]:  # a check across settings: its message names them
            lines.append(str(item["msg"]).removeprefix("Value error, "))
            continue
        name = str(item["loc"][0]) if item["loc"] else "?"
        field = Settings.model_fields.get(name)
        hint = f" ({field.description})" if field is not None and field.description else ""
        value = item.get("input")
        lines.append(f"setting {ENV_PREFIX}{name.upper()}: value {value!r} is not valid: {item['msg']}{hint}")
    return "\n".join(lines)
