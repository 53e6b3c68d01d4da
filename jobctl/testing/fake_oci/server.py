"""A threaded stdlib HTTP server for the WSGI app, bound to 127.0.0.1 only.

The request handler passes the raw request target (`environ["REQUEST_URI"]`) and the raw headers on,
because signatures cover the target exactly as sent, before any percent-decoding.
"""

from __future__ import annotations

import selectors
import socket
import socketserver
import sys
import threading
from typing import IO, TYPE_CHECKING, Any, cast
from wsgiref.handlers import SimpleHandler
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from jobctl.testing.fake_oci.app import DropConnection

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

HOST = "127.0.0.1"
CLIENT_TIMEOUT_SECONDS = 60


class _ServerHandler(ServerHandler):
    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], DropConnection):
            return  # write nothing: the socket closes when the request handler finishes
        super().handle_error()

    def close(self) -> None:
        SimpleHandler.close(self)  # skip ServerHandler's access log line


class _RequestHandler(WSGIRequestHandler):
    timeout = CLIENT_TIMEOUT_SECONDS

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        environ["REQUEST_URI"] = self.path
        environ["fake_oci.headers"] = list(self.headers.items())
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        """WSGIRequestHandler.handle, with a handler that can drop the connection."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ServerHandler(cast("IO[bytes]", self.rfile), cast("IO[bytes]", self.wfile), self.get_stderr(),
                                 self.get_environ(), multithread=True)
        app = self.server.get_app()  # type: ignore[attr-defined]
        handler.run(app)


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    timeout = 1.0  # handle_request's wait should a connection go away between the loop's select and its accept

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, int(self.server_address[1])
        self.setup_environ()


class ServerThread:
    """Serves one WSGI app on 127.0.0.1:`port` (0 picks a free port) from a daemon thread.

    `stop` wakes the serving loop through a socket pair rather than waiting for it to poll a flag:
    `socketserver`'s `shutdown` waits up to its poll interval (50 ms) for every fake a test suite stops.
    """

    def __init__(self, app: WSGIApplication, port: int = 0) -> None:
        self._server = _ThreadingServer((HOST, port), _RequestHandler)
        self._server.set_app(app)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"fake-oci-{self.port}", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._server, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._stopping.is_set():
                ready = [key.fileobj for key, _ in selector.select()]
                if self._server in ready and not self._stopping.is_set():
                    self._server.handle_request()  # the listening socket is readable: accepts without blocking

    def stop(self) -> None:
        self._stopping.set()
        self._wake_writer.send(b"\0")
        self._thread.join(timeout=5)
        self._server.server_close()
        self._wake_reader.close()
        self._wake_writer.close()
