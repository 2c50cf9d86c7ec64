// Client configuration snippets for a base URL and an API key (layouts from the seed document,
// corrected where current clients changed). Pure functions: each returns
// [{title, file?, lang, text, noteKey?, warnKey?, after?}]; `file` is where the client reads the
// block (tests/clients writes exactly these into a scratch home and runs the real programs).

const json = (v) => JSON.stringify(v, null, 2);

/** The client versions these snippets were checked with (tests/clients/versions.json pins the same). */
export const CHECKED = {
  'claude-code': 'Claude Code 2.1.332',
  vscode: 'Claude Code 2.1.332 (CLI, same ~/.claude/settings.json)',
  opencode: 'OpenCode 1.18.33',
  openclaw: 'OpenClaw 2026.9.6 (Node 24.22)',
  codex: 'Codex CLI 0.169.0',
  curl: 'curl 7.88',
  python: 'anthropic (Python) 2.17',
  node: '@anthropic-ai/sdk (Node.js) 1.17.0',
};

const claudeSettings = (base, key) => ({ title: '~/.claude/settings.json', file: '~/.claude/settings.json', lang: 'json',
  text: json({ env: { ANTHROPIC_BASE_URL: base, ANTHROPIC_AUTH_TOKEN: key } }) });

export function claudeCode(base, key) {
  return [
    { title: 'macOS / Linux / WSL2 (~/.zshrc or ~/.bashrc)', lang: 'shell',
      text: `export ANTHROPIC_BASE_URL="${base}"\nexport ANTHROPIC_AUTH_TOKEN="${key}"` },
    { title: 'Windows PowerShell', lang: 'powershell',
      text: `setx ANTHROPIC_BASE_URL "${base}"\nsetx ANTHROPIC_AUTH_TOKEN "${key}"` },
    claudeSettings(base, key),
  ];
}

/** The extension reads ~/.claude/settings.json like the CLI; its own setting is a list of
 * {name, value} (the document's `claude-code.env` is no longer read). */
export function vscode(base, key) {
  return [
    { ...claudeSettings(base, key), noteKey: 'setup.vscodeSameFile' },
    { title: 'VS Code settings.json', lang: 'json', noteKey: 'setup.vscodeOutdated',
      text: json({ 'claudeCode.environmentVariables': [
        { name: 'ANTHROPIC_BASE_URL', value: base },
        { name: 'ANTHROPIC_AUTH_TOKEN', value: key },
      ] }) },
  ];
}

export function opencode(base, key) {
  return [{ title: '~/.config/opencode/opencode.json', file: '~/.config/opencode/opencode.json', lang: 'json',
    noteKey: 'setup.opencodeNote',
    text: json({
      $schema: 'https://opencode.ai/config.json',
      provider: { anthropic: { options: { baseURL: base, apiKey: key } } },
      model: 'anthropic/claude-opus-4-6',
      small_model: 'anthropic/claude-haiku-4-5',
    }) }];
}

/** Current OpenClaw reads providers under `models.providers`; a top-level `providers` block (older
 * guides) makes the whole file invalid, and `openclaw doctor --fix` then deletes it. */
export function openclaw(base, key) {
  return [
    { title: 'Node.js ≥ 24.16', lang: 'shell', noteKey: 'setup.openclawNode',
      text: 'node --version   # v24.16 or later (v25 is refused; v26.1+ works)\nnpm install -g openclaw' },
    { title: '~/.openclaw/openclaw.json', file: '~/.openclaw/openclaw.json', lang: 'json',
      after: 'openclaw gateway restart', noteKey: 'setup.openclawRun', warnKey: 'setup.openclawDoctor',
      text: json({
        agents: { defaults: { model: 'claude-opus-4-6', models: { 'claude-opus-4-6': {} } } },
        models: {
          providers: {
            proxy: {
              baseUrl: base, authHeader: true, auth: 'api-key', apiKey: key, api: 'anthropic-messages',
              models: [{ id: 'claude-opus-4-6', name: 'claude-opus-4-6', reasoning: false, contextWindow: 1000000, maxTokens: 65536 }],
            },
          },
        },
      }) },
  ];
}

/** Codex CLI: base_url is the origin without /v1; no disable_response_storage / network_access
 * (Codex CLI 0.169 warns they are unknown keys). */
export function codexConfigToml(base) {
  return [
    'model_provider = "OpenAI"',
    'model = "gpt-5.4"',
    'review_model = "gpt-5.4"',
    'model_reasoning_effort = "xhigh"',
    'model_context_window = 1000000',
    'model_auto_compact_token_limit = 900000',
    '',
    '[model_providers.OpenAI]',
    'name = "OpenAI"',
    `base_url = "${base}"`,
    'wire_api = "responses"',
    'requires_openai_auth = true',
  ].join('\n');
}

export function codex(base, key) {
  return [
    { title: '~/.codex/config.toml', file: '~/.codex/config.toml', lang: 'toml', id: 'codex-config', text: codexConfigToml(base) },
    { title: '~/.codex/auth.json', file: '~/.codex/auth.json', lang: 'json', id: 'codex-auth', text: json({ OPENAI_API_KEY: key }) },
  ];
}

export function curl(base, key, group) {
  if (group === 'codex') {
    return [{ title: 'cURL (Responses API)', lang: 'shell',
      text: `curl -X POST ${base}/v1/responses \\\n  -H "Authorization: Bearer ${key}" \\\n  -H "Content-Type: application/json" \\\n  -d '{\n    "model": "gpt-5.4",\n    "input": "Hello!"\n  }'` }];
  }
  return [{ title: 'cURL', lang: 'shell',
    text: `curl -X POST ${base}/v1/messages \\\n  -H "x-api-key: ${key}" \\\n  -H "anthropic-version: 2023-06-01" \\\n  -H "Content-Type: application/json" \\\n  -d '{\n    "model": "claude-sonnet-4-5",\n    "max_tokens": 1024,\n    "messages": [\n      {"role": "user", "content": "Hello, Claude!"}\n    ]\n  }'` }];
}

export function python(base, key) {
  return [{ title: 'Python (pip install anthropic)', lang: 'python',
    text: `import anthropic\n\nclient = anthropic.Anthropic(\n    api_key="${key}",\n    base_url="${base}"\n)\n\nmessage = client.messages.create(\n    model="claude-sonnet-4-5",\n    max_tokens=1024,\n    messages=[\n        {"role": "user", "content": "Hello, Claude!"}\n    ]\n)\n\nprint(message.content)` }];
}

export function node(base, key) {
  return [{ title: 'Node.js (npm install @anthropic-ai/sdk)', lang: 'javascript',
    text: `import Anthropic from '@anthropic-ai/sdk';\n\nconst client = new Anthropic({\n  apiKey: '${key}',\n  baseURL: '${base}'\n});\n\nconst message = await client.messages.create({\n  model: 'claude-sonnet-4-5',\n  max_tokens: 1024,\n  messages: [\n    { role: 'user', content: 'Hello, Claude!' }\n  ]\n});\n\nconsole.log(message.content);` }];
}

/** The client tabs, in order; `groups` says which key group each tool needs. */
export const CLIENTS = [
  { id: 'claude-code', label: 'Claude Code', build: claudeCode, protocol: 'anthropic' },
  { id: 'vscode', label: 'VS Code', build: vscode, protocol: 'anthropic' },
  { id: 'opencode', label: 'OpenCode', build: opencode, protocol: 'anthropic' },
  { id: 'openclaw', label: 'OpenClaw', build: openclaw, protocol: 'anthropic' },
  { id: 'codex', label: 'Codex CLI', build: codex, protocol: 'openai' },
  { id: 'curl', label: 'cURL', build: curl, protocol: 'any' },
  { id: 'python', label: 'Python', build: python, protocol: 'anthropic' },
  { id: 'node', label: 'Node.js', build: node, protocol: 'anthropic' },
].map((c) => ({ ...c, checked: CHECKED[c.id] }));
