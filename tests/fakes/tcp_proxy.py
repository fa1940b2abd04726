"""A TCP proxy on 127.0.0.1 in front of the test server, which can cut every open connection at
once: a dropped network, as a browser sees it (its EventSource errors, waits its retry delay and
reconnects with Last-Event-ID). It notes the request line and headers each connection opened with,
so a test can say what the browser asked for when it came back."""

from __future__ import annotations

import re
import socket
import threading

_HEAD = re.compile(rb"(?:GET|POST|HEAD) \S+ HTTP/1\.[01]\r\n.*?\r\n\r\n", re.S)


class DroppingProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[str] = []  # the head of each request, as the browser sent it
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, server}
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_browser: bool) -> None:
        seen = b""  # what the browser sent on this connection (one or more requests)
        try:
            while chunk := src.recv(65536):
                if from_browser:
                    seen += chunk
                    while found := _HEAD.search(seen):
                        with self._lock:
                            self.requests.append(found.group().decode("latin-1").strip())
                        seen = seen[found.end() :]
                    seen = seen[-65536:]
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def drop_all(self) -> int:
        """Cut every connection open now, both ways; how many sockets were cut."""
        with self._lock:
            cut = list(self._open)
        for sock in cut:
            self._close(sock)
        return len(cut)

    def requests_for(self, path: str) -> list[str]:
        with self._lock:
            return [r for r in self.requests if r.split(" ", 2)[1:2] == [path]]

    def close(self) -> None:
        self._closed = True
        self.listener.close()
        self.drop_all()
