"""`exec-watchdog run`: the service in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from exec_watchdog.adapters.migrate import StoreNotMigrated
from exec_watchdog.service.collector import tune_for_long_lived_state
from exec_watchdog.service.service import Service
from exec_watchdog.service.startup import StartupError
from exec_watchdog.settings import Settings
from exec_watchdog.telemetry.logs import configure_logging
from exec_watchdog.telemetry.masking import mask_text
from producers.topics import TopicLayoutError

EXIT_OK, EXIT_USAGE = 0, 2


def run_service(settings: Settings) -> int:
    if not settings.kafka_bootstrap:
        print(
            "exec-watchdog run: setting WATCHDOG_KAFKA_BOOTSTRAP is not set; give the Kafka bootstrap "
            "servers, e.g. WATCHDOG_KAFKA_BOOTSTRAP=localhost:9092 (or try `exec-watchdog demo`)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    configure_logging()
    tune_for_long_lived_state()
    try:
        service = Service(settings)
    except (ValueError, StoreNotMigrated, StartupError) as error:
        print(f"exec-watchdog run: {mask_text(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    try:
        asyncio.run(_serve(service))
    except (TopicLayoutError, StartupError) as error:
        print(f"exec-watchdog run: {mask_text(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


async def _serve(service: Service) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger(__name__).info("starting")
    await service.run(stop)
