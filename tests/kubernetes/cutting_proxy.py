"""A TCP proxy in front of the API server that cuts its connections on demand.

The real API server does not drop a watch or a log stream when asked to, so the
faults a network makes are made here: `cut()` closes every open connection mid-
stream, and `hold()` keeps new ones waiting (the TLS handshake too) until
`release()`, as an API server that is briefly unreachable would. Bytes pass
through untouched, so the client still verifies the server's certificate.
"""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import yaml


class CuttingProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True, name="cutting-proxy").start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def kubeconfig(self, original: Path, path: Path) -> Path:
        """`original` with its server replaced by this proxy."""
        config = yaml.safe_load(original.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = self.url
        path.write_text(yaml.safe_dump(config))
        return path

    def cut(self) -> int:
        """Close every open connection, both ways; returns how many were cut."""
        with self._lock:
            cut, self._open = self._open, set()
        for each in cut:
            _close(each)
        return len(cut) // 2

    def hold(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        _close(self._listener)
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        self._released.wait()
        try:
            server = socket.create_connection(self.target)
        except OSError:
            _close(client)
            return
        with self._lock:
            self._open |= {client, server}
            self.connections += 1
        for source, sink in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._open -= {source, sink}
        _close(source)
        _close(sink)


def _close(each: socket.socket) -> None:
    try:
        each.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    each.close()
