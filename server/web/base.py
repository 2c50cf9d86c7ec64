"""The shared base handler: orjson bodies, one error envelope per API family, typed access
to the dependencies, and in-flight accounting for graceful shutdown."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
import tornado.web

from server.client_ip import client_address, parse_networks
from server.errors import DatabaseUnavailable, RelayError
from server.i18n import Lang, Text, t
from server.jsonbody import parse_json_object
from server.storage.timeouts import bound_current_task, database_unavailable
from server.web.envelopes import STATUS_TYPES, Family, error_body
from server.web.lang import accept_language
from server.web.security import set_api

if TYPE_CHECKING:
    from server.deps import Deps

log = logging.getLogger(__name__)

def json_default(obj: Any) -> Any:
    """orjson fallback for types it does not know (ObjectId, sets)."""
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    return str(obj)


def dumps(obj: Any) -> bytes:
    """Serialise a response body."""
    return orjson.dumps(obj, default=json_default)


class BaseHandler(tornado.web.RequestHandler):
    """Every handler's base: JSON in and out, domain errors rendered in ``family``'s envelope."""

    family: Family = "dashboard"
    # All the database work of a dashboard or API request shares one deadline, db_timeout_api
    # (server.storage.timeouts); relay routes set False: each of their operations gets the
    # client's shorter db_timeout_relay instead, and a stream's life is not a database deadline.
    api_db_deadline = True

    @property
    def deps(self) -> "Deps":
        return self.settings["deps"]

    def prepare(self) -> None:
        self.deps.inflight.enter()
        self._counted = True
        if self.api_db_deadline:
            bound_current_task(self.deps.settings.db_timeout_api)

    def on_finish(self) -> None:
        if getattr(self, "_counted", False):
            self._counted = False
            self.deps.inflight.leave()

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.clear_header("Server")
        set_api(self)

    def get_json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; anything else is a clear 400 (or 413)."""
        # The connection already refused more than this before reading (server.web.body_limits).
        return parse_json_object(self.request.body, self.deps.settings.dashboard_max_body_bytes)

    def write_json(self, obj: Any, status: int = 200) -> None:
        """Finish with a JSON body."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(dumps(obj))

    def client_ip(self) -> str:
        """The client's address: the peer's, or behind a trusted proxy the one it forwarded."""
        networks = parse_networks(self.deps.settings.trusted_proxies)
        if not networks:
            return self.request.remote_ip or ""
        headers = self.request.headers
        return client_address(self.request.remote_ip or "", headers.get_list("X-Forwarded-For"),
                              headers.get("X-Real-IP"), networks)

    # -- errors -------------------------------------------------------------------------
    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, RelayError):
            return
        if database_unavailable(value):  # one line, not a traceback per request while it lasts
            log.warning("%s %s: database unavailable: %s", self.request.method, self.request.path, value)
            return
        if isinstance(value, tornado.web.HTTPError) and value.status_code < 500:
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        err = as_relay_error(exc, status_code)
        self.set_status(err.status)
        for name, value in err.response_headers().items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        if self.request.method == "HEAD":
            self.finish()
            return
        self.finish(dumps(error_body(self.family, err, self.language())))

    def language(self) -> Lang:
        """The language of the dashboard API's messages: the request's ``Accept-Language``."""
        return accept_language(self.request.headers.get("Accept-Language"))


def as_relay_error(exc: BaseException | None, status_code: int) -> RelayError:
    """Any exception as a RelayError (unexpected ones become a bare 500)."""
    if isinstance(exc, RelayError):
        return exc
    if database_unavailable(exc):
        return DatabaseUnavailable()
    if isinstance(exc, tornado.web.HTTPError):
        status_code = exc.status_code
        message = exc.log_message % exc.args if exc.log_message and exc.args else exc.log_message
        text: str | Text = message or exc.reason or "错误"
        if status_code == 404:
            text = t("接口不存在")
        elif status_code == 405:
            text = t("不支持该请求方法")
        return RelayError(text, status=status_code,
                          type=STATUS_TYPES.get(status_code, "api_error"))
    return RelayError(status=status_code if status_code >= 400 else 500)


class NotFoundHandler(BaseHandler):
    """JSON 404 for unknown paths under an API prefix, in that API's envelope."""

    def initialize(self, family: Family = "dashboard") -> None:
        self.family = family

    def prepare(self) -> None:
        super().prepare()
        raise tornado.web.HTTPError(404)
