"""A loopback HTTP listener that records every connection and request it gets, one line each, in a file.

Run by the corpus test as `python listener.py FD LOG`: it serves on the listening socket FD, which
the test bound to a free port on 127.0.0.1 before starting it (so it is ready from the start), and
answers every request with a DTD that would define the entities the corpus uses, were it ever fetched.
"""

from __future__ import annotations

import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

DTD = b'<!ENTITY leak "FETCHED-FROM-THE-LISTENER"><!ENTITY xxe "FETCHED-FROM-THE-LISTENER">'


def record(line: str) -> None:
    with open(sys.argv[2], "a", encoding="utf-8") as log:
        log.write(line + "\n")


class Recorder(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        record(f"request {self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Type", "application/xml-dtd")
        self.send_header("Content-Length", str(len(DTD)))
        self.end_headers()
        self.wfile.write(DTD)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


class Listener(HTTPServer):
    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        record(f"connection from {address}")
        return connection, address


if __name__ == "__main__":
    server = Listener(("127.0.0.1", 0), Recorder, bind_and_activate=False)
    server.socket.close()
    server.socket = socket.socket(fileno=int(sys.argv[1]))
    server.serve_forever()
