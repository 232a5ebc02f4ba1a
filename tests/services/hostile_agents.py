"""Agents that misbehave on purpose, on loopback: a raw TCP server that answers every request its way.

- `slow_loris`: the status line and headers at once, then the body one byte a second.
- `hang`: accepts the connection and never answers.
- `huge`: a 50 MB body of valid-looking JSON.
- `html`: a 200 with an HTML page.
- `redirect`: a 302 to another host.
- `wrong_shape`: JSON of the wrong shape (`running` as a string, a required field missing).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

Mode = Literal["slow_loris", "hang", "huge", "html", "redirect", "wrong_shape"]
MODES: tuple[Mode, ...] = ("slow_loris", "hang", "huge", "html", "redirect", "wrong_shape")


def _head(status: str, content_type: str, length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _answer(mode: Mode, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    path = request.split(b" ", 2)[1].decode()
    if mode == "hang":
        await asyncio.sleep(3600)
    elif mode == "slow_loris":
        body = json.dumps({"executions": [], "recently_completed_ids": []}).encode()
        writer.write(_head("200 OK", "application/json", len(body)))
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1.0)
    elif mode == "huge":
        size = 50 * 1024 * 1024
        writer.write(_head("200 OK", "application/json", size))
        chunk = b" " * 65536
        for _ in range(size // len(chunk)):
            writer.write(chunk)
            await writer.drain()
    elif mode == "html":
        body = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
        writer.write(_head("200 OK", "text/html", len(body)) + body)
    elif mode == "redirect":
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n")
    else:
        shape = {"running": "yes"} if path.endswith("/status") else {"executions": [{"execution_id": 7}]}
        body = json.dumps(shape).encode()
        writer.write(_head("200 OK", "application/json", len(body)) + body)
    await writer.drain()


class HostileAgent:
    """Serves one mode on a free loopback port from a thread of its own; `url_template` names it."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0
        self._server: asyncio.Server

    @property
    def url_template(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.requests += 1
            try:
                await self.answer(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        self._server = self._loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        self._server.close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _answer(self.mode, reader, writer)

    def start(self) -> HostileAgent:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@contextmanager
def hostile(mode: Mode) -> Iterator[HostileAgent]:
    agent = HostileAgent(mode).start()
    try:
        yield agent
    finally:
        agent.stop()


HANG = b"hang"
"""In a script: accept the request and never answer."""


def reply(status: str, body: bytes = b"", **headers: str) -> bytes:
    """One whole HTTP/1.1 reply, `status` like "404 Not Found"; header names with `_` for `-`."""
    lines = [f"HTTP/1.1 {status}", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class ScriptedAgent(HostileAgent):
    """Answers its requests with `script` in order (the last one again once it runs out): a reply's
    bytes, `HANG`, or None to close the connection without a word. `paths` lists what was asked."""

    def __init__(self, script: list[bytes | None]) -> None:
        super().__init__("hang")
        self.script = script
        self.paths: list[str] = []

    async def answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        self.paths.append(request.split(b" ", 2)[1].decode())
        step = self.script[min(len(self.paths), len(self.script)) - 1]
        if step is None:
            return
        if step == HANG:
            await asyncio.sleep(3600)
        writer.write(step)
        await writer.drain()


@contextmanager
def scripted(*script: bytes | None) -> Iterator[ScriptedAgent]:
    agent = ScriptedAgent(list(script))
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()
