"""
A static upstream in Python, used only when nginx is not installed: serves
the benchmark tree on 127.0.0.1 with PEP 691 negotiation, ``/packages/``
rate-limited per connection, and an access log in the same format as the
nginx upstream's.

Run as a separate process (``python bench/pyupstream.py ROOT PORT RATE LOG``)
so it does not share a GIL with the benchmark's clients.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

_JSON = "application/vnd.pypi.simple.v1+json"
_TYPES = {".html": "text/html", ".v1_json": _JSON, ".whl": "application/zip"}
_CHUNK = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    """Serves the tree below ``root``."""

    protocol_version = "HTTP/1.1"
    root: Path
    rate: int
    log_file: IO[str]
    log_lock = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:
        """No stderr log: :meth:`_log` writes the access log."""

    def _log(self, status: int, sent: int) -> None:
        ua = self.headers.get("User-Agent", "-")
        path = self.path.split("?", 1)[0]
        with self.log_lock:
            self.log_file.write(
                f'{time.time():.3f} {self.command} {path} {status} {sent} "{ua}"\n'
            )
            self.log_file.flush()

    def _resolve(self) -> tuple[Path, str] | None:
        path = self.path.split("?", 1)[0]
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts):
            return None
        target = self.root.joinpath(*parts)
        if target.is_dir():
            accept = self.headers.get("Accept", "")
            name = "index.v1_json" if _JSON in accept else "index.html"
            target = target / name
        if not target.is_file():
            return None
        kind = next(
            (t for s, t in _TYPES.items() if target.name.endswith(s)),
            "application/octet-stream",
        )
        return target, kind

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        found = self._resolve()
        if found is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self._log(404, 0)
            return
        path, kind = found
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(size))
        if path.name.startswith("index."):
            self.send_header("Vary", "Accept")
        self.end_headers()
        sent = 0
        if body:
            limited = self.path.startswith("/packages/") and self.rate > 0
            started = time.monotonic()
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    if limited:
                        ahead = sent / self.rate - (time.monotonic() - started)
                        if ahead > 0:
                            time.sleep(ahead)
        self._log(200, sent)


def main(argv: list[str]) -> None:
    """``ROOT PORT RATE LOG``: serve ROOT on 127.0.0.1:PORT until killed."""
    root, port, rate, log = argv
    _Handler.root = Path(root)
    _Handler.rate = int(rate)
    _Handler.log_file = open(log, "a", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", int(port)), _Handler)
    server.daemon_threads = True
    print(f"serving {root} on 127.0.0.1:{port} (pid {os.getpid()})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
