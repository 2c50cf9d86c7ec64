"""The upstream emulator: a fast, faithful fake of the Anthropic Messages API and the OpenAI
Responses API, for tests, the demo mode and benchmarks.

Public API::

    EmulatorAccount(api_key, name="", latency_ms=0, ttft_ms=0, delta_interval_ms=0,
                    output_tokens=12, fault=None, fail_next=0, retry_after=2)
    make_emulator_app(accounts) -> EmulatorApp               # app.emulator_state (no I/O)
    await start_emulator(accounts, host="127.0.0.1", port=0) -> EmulatorServer
    run_emulator(host, port, accounts)                        # blocking, for the CLI
    default_accounts(n_anthropic=2, n_openai=2)

Token rules (``usage``), faults (``faults``) and the control API (``control``) are documented
in their modules.
"""

from __future__ import annotations

from emulator.accounts import EmulatorAccount, KnobError, default_accounts
from emulator.app import EmulatorServer, make_emulator_app, run_emulator, start_emulator
from emulator.faults import FAULTS
from emulator.state import EmulatorState, RequestRecord
from emulator.usage import (
    PromptCache,
    anthropic_usage,
    count_input_tokens,
    responses_usage,
    tokens_of,
)

__all__ = [
    "EmulatorAccount", "EmulatorServer", "EmulatorState", "FAULTS", "KnobError", "PromptCache",
    "RequestRecord", "anthropic_usage", "count_input_tokens", "default_accounts", "make_emulator_app",
    "responses_usage", "run_emulator", "start_emulator", "tokens_of",
]
