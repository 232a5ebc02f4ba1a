"""`/healthz` (the process is alive), `/readyz` (partitions assigned and caught up), `/metrics`,
`/status` (what the instance thinks right now, as JSON: `exec_watchdog.telemetry.status`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from exec_watchdog.telemetry.metrics import Metrics

_REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


class HealthServer:
    def __init__(
        self,
        port: int,
        metrics: Metrics,
        ready: Callable[[], bool],
        host: str = "127.0.0.1",
        status: Callable[[], bytes] | None = None,
    ) -> None:
        self.host = host
        self.status = status
        self.port = port
        self.metrics = metrics
        self.ready = ready
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)).strip():
                pass  # headers are not needed
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            status, body, kind = self._route(path)
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()

    def _route(self, path: str) -> tuple[int, bytes, str]:
        if path == "/healthz":
            return 200, b"ok\n", "text/plain"
        if path == "/readyz":
            return (200, b"ready\n", "text/plain") if self.ready() else (503, b"not ready\n", "text/plain")
        if path == "/metrics":
            return 200, self.metrics.exposition(), "text/plain; version=0.0.4; charset=utf-8"
        if path == "/status" and self.status is not None:
            return 200, self.status(), "application/json"
        return 404, b"not found\n", "text/plain"
