"""The relay's HTTP server keeps TCP_NODELAY on for the whole connection (server.web.nodelay):
an SSE event written before the end of a stream is not held back by Nagle's algorithm, and no
setsockopt is paid twice per request."""

from __future__ import annotations

import socket

import httpx
import tornado.httpserver
import tornado.netutil
import tornado.web

from server.web.nodelay import NoDelayHTTPServer


class Probe(tornado.web.RequestHandler):
    async def get(self) -> None:
        sock = self.request.connection.stream.socket
        self.write(str(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0))
        await self.flush()  # mid-response, as between two SSE events


async def _probe(server_class) -> list[str]:
    server = server_class(tornado.web.Application([(r"/", Probe)]))
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sockets[0].getsockname()[1]}") as http:
            return [(await http.get("/")).text for _ in range(3)]  # one keep-alive connection
    finally:
        server.stop()


async def test_nodelay_from_accept_to_close():
    assert await _probe(NoDelayHTTPServer) == ["True"] * 3
    assert await _probe(tornado.httpserver.HTTPServer) == ["False"] * 3  # Tornado's own: Nagle mid-response
