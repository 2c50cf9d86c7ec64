"""``GET /v1/models`` (and ``/models``, ``/v1/models/{id}``) in either vendor's list format.

One path serves both protocols, as it does for the real vendors: a request carrying
``anthropic-version`` or ``x-api-key`` gets the Anthropic format, any other the OpenAI one.
The lists are fixed and serialised once; any model name is still accepted for generation.
"""

from __future__ import annotations

import orjson

from emulator.base import ApiError, EmulatorHandler
from emulator.faults import ANTHROPIC, OPENAI
from emulator.state import EmulatorState
from emulator.wire import Connection, Request

ANTHROPIC_MODELS: tuple[tuple[str, str, str], ...] = (
    ("claude-opus-5-5", "Claude Opus 5.5", "2026-05-20T00:00:00Z"),
    ("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-05-20T00:00:00Z"),
    ("claude-haiku-5-5", "Claude Haiku 5.5", "2026-05-20T00:00:00Z"),
    ("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z"),
    ("claude-sonnet-4-5", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
    ("claude-opus-4-1", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-22T00:00:00Z"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
    ("claude-3-5-sonnet-20241022", "Claude Sonnet 3.5 (New)", "2024-10-22T00:00:00Z"),
)
OPENAI_MODELS: tuple[tuple[str, int], ...] = (
    ("gpt-5.4", 1772000000),
    ("gpt-5.4-mini", 1772000000),
    ("gpt-5.4-codex", 1772000000),
    ("gpt-5-codex", 1758000000),
    ("gpt-5", 1754500000),
    ("gpt-5-mini", 1754500000),
)


def _anthropic_model(model: tuple[str, str, str]) -> dict:
    return {"type": "model", "id": model[0], "display_name": model[1], "created_at": model[2]}


def _openai_model(model: tuple[str, int]) -> dict:
    return {"id": model[0], "object": "model", "created": model[1], "owned_by": "openai"}


_ANTHROPIC_ONE = {m[0]: orjson.dumps(_anthropic_model(m)) for m in ANTHROPIC_MODELS}
_OPENAI_ONE = {m[0]: orjson.dumps(_openai_model(m)) for m in OPENAI_MODELS}
ANTHROPIC_LIST = orjson.dumps({"data": [_anthropic_model(m) for m in ANTHROPIC_MODELS], "has_more": False,
                               "first_id": ANTHROPIC_MODELS[0][0], "last_id": ANTHROPIC_MODELS[-1][0]})
OPENAI_LIST = orjson.dumps({"object": "list", "data": [_openai_model(m) for m in OPENAI_MODELS]})


def protocol_of(request: Request) -> str:
    """Anthropic if the request carries ``anthropic-version`` or ``x-api-key``, else OpenAI."""
    headers = request.headers
    return ANTHROPIC if ("anthropic-version" in headers or "x-api-key" in headers) else OPENAI


class ModelsHandler(EmulatorHandler):
    """The fixed model list, or one model, in the caller's vendor format."""

    def __init__(self, state: EmulatorState, request: Request, conn: Connection) -> None:
        self.protocol = protocol_of(request)
        super().__init__(state, request, conn)

    def get(self, model_id: str | None = None) -> None:
        try:
            account = self.authenticate()
            self.state.record(account, self.protocol, self.request, None, False, None)
            anthropic = self.protocol == ANTHROPIC
            if model_id is None:
                self.send_json(ANTHROPIC_LIST if anthropic else OPENAI_LIST)
                return
            body = (_ANTHROPIC_ONE if anthropic else _OPENAI_ONE).get(model_id)
            if body is None:
                raise ApiError(404, f"model: {model_id}" if anthropic else
                               f"The model '{model_id}' does not exist", code="model_not_found")
            self.send_json(body)
        except ApiError as err:
            self.send_api_error(err)


default_handlers = [
    (r"/v1/models", ModelsHandler),
    (r"/models", ModelsHandler),
    (r"/v1/models/([^/]+)", ModelsHandler),
]
