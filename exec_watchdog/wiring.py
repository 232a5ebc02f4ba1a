"""Adapters built from the settings: the agent client and the platform."""

from __future__ import annotations

from exec_watchdog.adapters.agent_http import HttpAgentApi
from exec_watchdog.adapters.circuit_breaker import CircuitBreaker
from exec_watchdog.adapters.platform import NoPlatform, Platform
from exec_watchdog.adapters.trinity_db import TrinityDatabase, TrinityPlatform
from exec_watchdog.settings import Settings


def agent_api(settings: Settings) -> HttpAgentApi:
    secret, token = settings.agent_auth_secret, settings.agent_static_token
    return HttpAgentApi(
        settings.agent_url_template,
        agent_urls=settings.agent_urls,
        auth_secret=None if secret is None else secret.get_secret_value(),
        static_token=None if token is None else token.get_secret_value(),
        connect_timeout_s=settings.agent_connect_timeout_s,
        total_timeout_s=settings.agent_timeout_s,
        read_retries=settings.agent_read_retries,
        max_concurrency=settings.agent_max_concurrency,
        breaker=CircuitBreaker(settings.agent_breaker_failures, settings.agent_breaker_reset_s),
    )


def platform(settings: Settings) -> Platform:
    url = settings.platform_database_url
    if url is None:
        return NoPlatform()
    return TrinityPlatform(TrinityDatabase(url.get_secret_value()))
