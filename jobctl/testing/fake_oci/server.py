"""A threaded stdlib HTTP server for the WSGI app, bound to 127.0.0.1 only.

The request handler passes the raw request target (`environ["REQUEST_URI"]`) and the raw headers on,
because signatures cover the target exactly as sent, before any percent-decoding.
"""

from __future__ import annotations

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

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, int(self.server_address[1])
        self.setup_environ()


class ServerThread:
    """Serves one WSGI app on 127.0.0.1:`port` (0 picks a free port) from a daemon thread."""

    def __init__(self, app: WSGIApplication, port: int = 0) -> None:
        self._server = _ThreadingServer((HOST, port), _RequestHandler)
        self._server.set_app(app)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-oci-{self.port}", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
