"""``GET /metrics``: the process's Prometheus metrics, behind ``settings.metrics_token``
(``Authorization: Bearer``). Without a token it is closed (403 saying how to open it) unless the
operator set ``metrics_open``: the metrics name upstream accounts and revenue per model."""

from __future__ import annotations

import hmac

from server.errors import Forbidden, Unauthorized
from server.metrics import CONTENT_TYPE
from server.web.base import BaseHandler


class MetricsHandler(BaseHandler):
    """Prometheus text exposition of this app's own registry."""

    def get(self) -> None:
        token = self.deps.settings.metrics_token
        if not token and not self.deps.settings.metrics_open:
            raise Forbidden("/metrics is closed: set metrics_token (then send Authorization: Bearer "
                            "<token>) or, on a private network only, metrics_open = true")
        if token:
            header = self.request.headers.get("Authorization", "")
            presented = header[7:].strip() if header[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(presented.encode(), token.encode()):
                raise Unauthorized("metrics token required")
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(self.deps.metrics.render())


default_handlers = [(r"/metrics", MetricsHandler)]
