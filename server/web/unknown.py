"""Answers for paths the relay does not serve, so a misconfigured client reads a JSON error in its
own protocol's envelope (never the dashboard's HTML) that names the path and the endpoints that
exist. Used for every method under ``/v1/`` and for non-GET requests outside ``/api/``."""

from __future__ import annotations

from typing import Mapping

import tornado.web

from server.errors import RelayError
from server.web.base import BaseHandler, dumps
from server.web.envelopes import Family, error_body

# What a client may call, as the README's relay table lists it.
ENDPOINTS = ("POST /v1/messages", "POST /v1/messages/count_tokens", "POST /v1/responses",
             "GET /v1/models", "POST /messages", "POST /responses", "HEAD /api/hello")


def protocol_family(path: str, headers: Mapping[str, str]) -> Family:
    """Anthropic's envelope for an Anthropic client (its headers, or a messages path); OpenAI's otherwise."""
    lowered = {name.lower() for name in headers}
    if "x-api-key" in lowered or "anthropic-version" in lowered or "/messages" in path:
        return "anthropic"
    return "openai"


def unknown_endpoint(method: str, path: str, headers: Mapping[str, str]) -> tuple[Family, dict]:
    """The family and JSON body of the 404 for ``method path``."""
    family = protocol_family(path, headers)
    if path.startswith("/v1/v1/"):
        message = (f"接口不存在: {method} {path} (路径里有两个 /v1)。请从 base URL 中去掉 /v1: "
                   "remove /v1 from the base URL, e.g. http://HOST:3000 instead of http://HOST:3000/v1")
    else:
        message = (f"接口不存在: {method} {path}。可用的接口 (endpoints that exist): "
                   + ", ".join(ENDPOINTS))
    err = RelayError(message, status=404,
                     type="not_found_error" if family == "anthropic" else "invalid_request_error")
    body = error_body(family, err)
    if family == "openai":
        body["error"]["code"] = "unknown_url"
    return family, body


def finish_unknown(handler: tornado.web.RequestHandler) -> None:
    """Finish ``handler``'s request with the JSON 404 (headers only for HEAD)."""
    request = handler.request
    _family, body = unknown_endpoint(request.method or "GET", request.path, request.headers)
    handler.clear()
    handler.clear_header("Server")
    handler.set_status(404)
    handler.set_header("Content-Type", "application/json; charset=utf-8")
    handler.set_header("x-should-retry", "false")
    handler.finish(None if request.method == "HEAD" else dumps(body))


class UnknownEndpointHandler(BaseHandler):
    """Any method on a ``/v1/`` path the relay does not serve."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def prepare(self) -> None:
        super().prepare()
        finish_unknown(self)
