"""The real-client cases, one row per (client, configuration, kind of turn). Add a row to add a
case (e.g. a Codex compaction turn): the test runs ``argv`` with the configuration written into a
scratch HOME and checks the outcome and the user's log against ``expect``."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.clients.stage import client_bin

PROMPT = "Say hello"
REPLY = "Hello from the Jiuliu"  # the emulator's first words (emulator/content.py)
TOOL_PROMPT = "please use_tool:Bash"  # the emulator calls Bash with `echo jiuliu-emulator-tool-call`

QUIET = {  # what keeps each client from contacting vendor hosts (fixtures README)
    "claude-code": {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
    "codex": {},
    "opencode": {"OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1",
                 "OPENCODE_DISABLE_SHARE": "1", "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
                 "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1"},
    "openclaw": {},
}
CODEX_QUIET = ["-c", "features.plugins=false", "-c", "otel.metrics_exporter=none",
               "-c", "analytics.enabled=false"]


@dataclass(frozen=True)
class Rows:
    """What the turn must leave in the user's log: one row per upstream call, each billed."""

    count: int
    endpoints: frozenset[str]  # the relay paths the client posts to
    models: frozenset[str]


@dataclass(frozen=True)
class Case:
    id: str
    client: str  # a name in versions.json
    config: str  # "document" or "dashboard" (the tab named by ``tab``)
    args: tuple[str, ...]
    group: str = "claude"
    tab: str = ""
    rows: Rows | None = None
    refused_by_client: str = ""  # the client itself rejects the configuration with this text
    tool: bool = False  # Claude Code's stream-json tool turn: match the rows to its messages
    form: str = ""  # which of the document's forms, where it gives several
    snippet: str = ""  # run the tab's code itself with this interpreter: "bash", "python" or "node"
    extra_env: dict[str, str] = field(default_factory=dict)
    expect_output: str = ""  # text the client must print besides the emulator's reply

    def argv(self) -> list[str]:
        return [str(client_bin(self.client)), *self.args]


CLAUDE_TURN = Rows(1, frozenset({"/v1/messages"}), frozenset({"claude-opus-5-5"}))
CODEX_TURN = Rows(1, frozenset({"/responses"}), frozenset({"gpt-5.4"}))
# OpenCode: a title request on small_model, then the turn on model
OPENCODE_TURN = Rows(2, frozenset({"/messages"}), frozenset({"claude-haiku-4-5", "claude-opus-4-6"}))
OPENCLAW_TURN = Rows(1, frozenset({"/v1/messages"}), frozenset({"claude-opus-4-6"}))
SDK_TURN = Rows(1, frozenset({"/v1/messages"}), frozenset({"claude-sonnet-4-5"}))

CASES = [
    Case("claude-code-document", "claude-code", "document", ("-p", PROMPT), rows=CLAUDE_TURN),
    Case("claude-code-document-settings", "claude-code", "document", ("-p", PROMPT), form="settings.json",
         rows=CLAUDE_TURN),
    Case("claude-code-dashboard", "claude-code", "dashboard", ("-p", PROMPT), tab="claude-code",
         rows=CLAUDE_TURN),
    Case("claude-code-dashboard-tool", "claude-code", "dashboard",
         ("-p", TOOL_PROMPT, "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"),
         tab="claude-code", rows=Rows(2, CLAUDE_TURN.endpoints, CLAUDE_TURN.models), tool=True),
    # VS Code's extension cannot run here; the CLI reads the same ~/.claude/settings.json the tab shows.
    Case("vscode-dashboard-settings", "claude-code", "dashboard", ("-p", PROMPT), tab="vscode",
         rows=CLAUDE_TURN),
    Case("codex-document", "codex", "document", ("exec", "--skip-git-repo-check", *CODEX_QUIET, PROMPT),
         group="codex", rows=CODEX_TURN),
    Case("codex-dashboard", "codex", "dashboard", ("exec", "--skip-git-repo-check", *CODEX_QUIET, PROMPT),
         group="codex", tab="codex", rows=CODEX_TURN),
    # Codex compacts remotely (a compaction_trigger turn) once the context passes 3,000 tokens; the
    # emulator's account-bound compaction item must come back and the follow-up turn be served.
    Case("codex-document-compaction", "codex", "document",
         ("exec", "--skip-git-repo-check", *CODEX_QUIET, "-c", "model_auto_compact_token_limit=3000",
          "please use_tool"),
         group="codex", rows=Rows(3, frozenset({"/responses"}), frozenset({"gpt-5.4"})),
         expect_output="context compacted"),
    Case("opencode-document", "opencode", "document", ("run", PROMPT), rows=OPENCODE_TURN),
    Case("opencode-dashboard", "opencode", "dashboard", ("run", PROMPT), tab="opencode", rows=OPENCODE_TURN),
    Case("openclaw-document", "openclaw", "document", ("agent", "--local", "-m", PROMPT),
         refused_by_client='Unrecognized key: "providers"'),
    Case("openclaw-dashboard", "openclaw", "dashboard", ("agent", "--local", "-m", PROMPT), tab="openclaw",
         rows=OPENCLAW_TURN),
    # The code tabs, run as shown (curl and Python from this machine, the Node SDK from versions.json).
    Case("curl-dashboard", "curl", "dashboard", (), tab="curl", snippet="bash", rows=SDK_TURN),
    Case("curl-dashboard-codex-key", "curl", "dashboard", (), group="codex", tab="curl", snippet="bash",
         rows=Rows(1, frozenset({"/v1/responses"}), frozenset({"gpt-5.4"}))),
    Case("python-dashboard", "python", "dashboard", (), tab="python", snippet="python", rows=SDK_TURN),
    Case("node-dashboard", "anthropic-sdk", "dashboard", (), tab="node", snippet="node", rows=SDK_TURN),
]
