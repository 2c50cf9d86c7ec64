"""``GET /metrics``: the process's Prometheus metrics, behind ``settings.metrics_token``
(``Authorization: Bearer``) when one is set."""

from __future__ import annotations

import hmac

from server.errors import Unauthorized
from server.metrics import CONTENT_TYPE
from server.web.base import BaseHandler


class MetricsHandler(BaseHandler):
    """Prometheus text exposition of this app's own registry."""

    def get(self) -> None:
        token = self.deps.settings.metrics_token
        if token:
            header = self.request.headers.get("Authorization", "")
            presented = header[7:].strip() if header[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(presented.encode(), token.encode()):
                raise Unauthorized("metrics token required")
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(self.deps.metrics.render())


default_handlers = [(r"/metrics", MetricsHandler)]
