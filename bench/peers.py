"""The comparison peers: LiteLLM proxy (own venv, installed here) and nginx (the one-hop C floor)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench import procs

BENCH = Path(__file__).resolve().parent
LITELLM_VENV = BENCH / ".venv-litellm"
LITELLM_SPEC = "litellm[proxy]==1.108.7"
LITELLM_MASTER_KEY = "sk-bench-litellm-master"
# Everything LiteLLM would fetch on its own comes from the copies bundled with the package.
LITELLM_ENV = {
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "true",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "true",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "true",
    "LITELLM_LOCAL_BLOG_POSTS": "true",
    "LITELLM_TELEMETRY": "False",
    "DISABLE_ADMIN_UI": "True",
    "LITELLM_LOG": "ERROR",
    "NO_DOCS": "True",
    "DO_NOT_TRACK": "1",
}


def install_litellm(timeout: float = 900) -> tuple[Path | None, str]:
    """The venv's ``litellm`` executable, installing it first if needed; (None, why) on failure."""
    exe = LITELLM_VENV / "bin" / "litellm"
    if exe.exists():
        return exe, "already installed"
    try:
        if not (LITELLM_VENV / "bin" / "python").exists():
            subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(LITELLM_VENV)],
                           check=True, capture_output=True, timeout=120)
        out = subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q", LITELLM_SPEC],
                             capture_output=True, text=True, timeout=timeout)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"install failed: {exc!r}"[:500]
    if out.returncode != 0 or not exe.exists():
        return None, f"pip install {LITELLM_SPEC} failed (rc {out.returncode}): {out.stderr[-400:]}"
    return exe, "installed"


def start_litellm(exe: Path, emu_port: int, logdir: Path) -> procs.Proc:
    port = procs.free_port()
    config = logdir / "litellm.yaml"
    config.write_text(f"""model_list:
  - model_name: claude-sonnet-4-5
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://127.0.0.1:{emu_port}
      api_key: emu-anthropic-1
litellm_settings:
  telemetry: false
  drop_params: true
  set_verbose: false
  json_logs: false
general_settings:
  master_key: {LITELLM_MASTER_KEY}
  disable_spend_logs: true
""")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_HOST", "REDIS_URL")}
    env.update(LITELLM_ENV)
    env["PATH"] = f"{exe.parent}:{env.get('PATH', '')}"
    proc = procs.start("litellm", [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
                                   "--num_workers", "1"], port, logdir, env=env, cwd=logdir)
    procs.wait_port(proc, timeout=180)
    return proc


def ensure_nginx(allow_install: bool) -> tuple[str | None, str]:
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if exe or not allow_install:
        return exe, "present" if exe else "not installed"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "not installed (apt-get install -y nginx-light needs root)"
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], capture_output=True, timeout=300,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"install failed: {exc!r}"
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    return exe, "installed" if exe else "install failed"


def start_nginx(exe: str, emu_port: int, logdir: Path) -> procs.Proc:
    """One worker, keep-alive to the emulator, no buffering: a plain one-hop reverse proxy."""
    port = procs.free_port()
    prefix = logdir / "nginx"
    prefix.mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(f"""worker_processes 1;
user root;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 30000; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  client_max_body_size 64m;
  client_body_buffer_size 256k;
  upstream emu {{ server 127.0.0.1:{emu_port}; keepalive 256; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://emu;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
    }}
  }}
}}
""")
    proc = procs.start("nginx", [exe, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"], port, logdir)
    procs.wait_port(proc, timeout=20)
    return proc
