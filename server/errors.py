"""Domain errors raised by services and turned into responses by one mapping per API family.

Tree::

    RelayError                     status, type, message, headers, should_retry
    ├── BadRequest (400)           invalid_request_error; ``field`` names the bad field
    ├── Unauthorized (401)         authentication_error, "无效的 API Key" by default
    ├── InsufficientBalance (402)  insufficient_balance, "账户余额不足,请充值"
    ├── Forbidden (403)            permission_error
    ├── NotFound (404)             not_found_error
    ├── Conflict (409)             conflict
    ├── PayloadTooLarge (413)      request_too_large
    ├── RateLimited (429)          rate_limit_exceeded, "请求过于频繁,请稍后再试", retry-after
    ├── UpstreamUnavailable (503)  overloaded_error: no upstream account could serve the request
    └── DatabaseUnavailable (503)  api_error: the database did not answer within its timeout

Services raise these and import nothing from Tornado; ``server.web.envelopes`` renders them.
A message is a ``server.i18n.Text`` (a catalogued zh template and its parameters): the relay's
envelopes always say it in Chinese (the API document's words), the dashboard API in the
caller's language. A plain string is said as it is in every language.
"""

from __future__ import annotations

from typing import Any

from server.i18n import DEFAULT_LANG, Text


class RelayError(Exception):
    """Base of every error a client may see."""

    status = 500
    type = "api_error"
    default_message = "内部错误"
    should_retry: bool | None = None  # None: let the client decide by status

    def __init__(self, message: str | Text | None = None, *, type: str | None = None,
                 status: int | None = None, headers: dict[str, str] | None = None,
                 field: str | None = None, should_retry: bool | None = None) -> None:
        self.text: Text | None = message if isinstance(message, Text) else None
        if not message:
            self.text = Text(self.default_message)  # catalogued: the defaults are in i18n_en
        self.message = self.text.render(DEFAULT_LANG) if self.text is not None else str(message)
        super().__init__(self.message)
        if type:
            self.type = type
        if status:
            self.status = status
        if should_retry is not None:
            self.should_retry = should_retry
        self.headers = dict(headers or {})
        self.field = field

    def localized(self, lang: str) -> str:
        """The message in ``lang`` (a plain-string message is the same in every language)."""
        return self.text.render(lang) if self.text is not None else self.message

    def response_headers(self) -> dict[str, str]:
        """Headers to send with the error (retry hints included)."""
        out = dict(self.headers)
        if self.should_retry is False:
            out["x-should-retry"] = "false"
        return out


class BadRequest(RelayError):
    status = 400
    type = "invalid_request_error"
    default_message = "请求无效"
    should_retry = False


class Unauthorized(RelayError):
    status = 401
    type = "authentication_error"
    default_message = "无效的 API Key"
    should_retry = False


class InsufficientBalance(RelayError):
    status = 402
    type = "insufficient_balance"
    default_message = "账户余额不足,请充值"
    should_retry = False


class Forbidden(RelayError):
    status = 403
    type = "permission_error"
    default_message = "没有权限"
    should_retry = False


class NotFound(RelayError):
    status = 404
    type = "not_found_error"
    default_message = "资源不存在"
    should_retry = False


class Conflict(RelayError):
    status = 409
    type = "conflict"
    default_message = "资源已存在"
    should_retry = False


class PayloadTooLarge(RelayError):
    status = 413
    type = "request_too_large"
    default_message = "请求体过大"
    should_retry = False


class RateLimited(RelayError):
    status = 429
    type = "rate_limit_exceeded"
    default_message = "请求过于频繁,请稍后再试"

    def __init__(self, message: str | Text | None = None, *, retry_after: float = 1.0, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = max(1, int(retry_after + 0.999))
        self.headers.setdefault("retry-after", str(self.retry_after))


class UpstreamUnavailable(RelayError):
    status = 503
    type = "overloaded_error"
    default_message = "上游服务暂时不可用,请稍后再试"


class DatabaseUnavailable(RelayError):
    """The database did not answer within its timeout (``server.storage.timeouts``) or could
    not be reached: a clear 503 instead of a hung request; a retry may succeed."""

    status = 503
    type = "api_error"
    default_message = "数据库暂时不可用,请稍后重试"

    def __init__(self, message: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.headers.setdefault("retry-after", "1")
