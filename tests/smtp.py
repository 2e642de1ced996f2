"""A mail server on a local port for the tests that need one to fail and come back: ``accept``
takes every message (kept in ``received``), ``hang`` accepts the connection and never answers,
and a stopped server refuses connections."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes
from email.message import Message


class SmtpServer:
    def __init__(self) -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.received: list[Message] = []
        self._socket: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self, mode: str = "accept") -> SmtpServer:
        assert mode in ("accept", "hang")
        self._stop.clear()
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", self.port))
        self._socket.listen(8)
        self._socket.settimeout(0.2)
        thread = threading.Thread(target=self._serve, args=(self._socket, mode), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _serve(self, listener: socket.socket, mode: str) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            if mode == "hang":
                # Keep it open, answer nothing, until the server stops.
                self._stop.wait()
                conn.close()
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")

        def say(line: str) -> None:
            conn.sendall(line.encode() + b"\r\n")

        say("220 test SMTP")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                verb = line.strip().split(b" ")[0].upper()
                if verb in (b"EHLO", b"HELO"):
                    say("250 test")
                elif verb == b"DATA":
                    say("354 go on")
                    data = b""
                    while (chunk := reader.readline()) not in (b".\r\n", b""):
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    self.received.append(message_from_bytes(data))
                    say("250 queued")
                elif verb == b"QUIT":
                    say("221 bye")
                    return
                else:
                    say("250 ok")
        finally:
            conn.close()
