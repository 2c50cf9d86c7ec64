"""The ``jiuliu`` command: ``serve``, ``emulator`` and ``admin``. ``main()`` is a short
pipeline: parse → load and validate settings → logging → run."""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import logging
import sys

from server.logs import configure
from server.settings import Settings, SettingsError, load_settings

log = logging.getLogger("jiuliu")


def configure_logging(level: str, fmt: str = "text") -> None:
    """One line per record on stderr, text or JSON, each stamped with the request id it was
    written for (server/logs.py); secrets are never passed to loggers. Relay requests get an
    access line of their own (``jiuliu.access``), so Tornado's stays at WARNING."""
    configure(level, fmt)
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _version() -> str:
    """The installed distribution's version (setup.cfg), or "unknown" when run from a bare tree."""
    try:
        return importlib.metadata.version("jiuliu-relay")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jiuliu", description="Jiuliu Relay (九六 relay)")
    parser.add_argument("--version", action="version", version=f"jiuliu {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the relay (API, dashboard and /v1 on one port)")
    serve.add_argument("--config", help="TOML config file (also JIULIU_CONFIG)")
    serve.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 3000)")
    serve.add_argument("--workers", type=int, help="pre-forked worker processes")
    serve.add_argument("--demo", action="store_true", default=None,
                       help="start emulator upstreams and a demo user")

    emu = sub.add_parser("emulator", help="run the upstream emulator (Anthropic + OpenAI Responses)")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8081)
    emu.add_argument("--anthropic-accounts", type=int, default=2)
    emu.add_argument("--openai-accounts", type=int, default=2)
    emu.add_argument("--tls-cert", default="", help="PEM certificate: serve https (an https upstream)")
    emu.add_argument("--tls-key", default="", help="PEM private key of --tls-cert (if not in the same file)")

    admin = sub.add_parser("admin", help="operator tasks")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_sub.add_parser(
        "create", help="create an operator (or, with --promote-existing, promote an existing user)")
    create.add_argument("--config", help="TOML config file (also JIULIU_CONFIG)")
    create.add_argument("--email", required=True)
    create.add_argument("--username", help="default: the part of the email before @")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input instead of prompting")
    create.add_argument("--promote-existing", action="store_true",
                        help="the email belongs to an existing account: make THAT account an operator "
                             "(it is named before it is promoted; without this flag it is refused)")
    rotate = admin_sub.add_parser("rotate-key",
                                  help="new secrets key; reseal upstream keys and the JWT secret")
    rotate.add_argument("--config", help="TOML config file (also JIULIU_CONFIG)")
    prices = sub.add_parser("prices", help="review and apply a newer price catalogue")
    prices_sub = prices.add_subparsers(dest="prices_command", required=True)
    status = prices_sub.add_parser("status", help="the catalogue in force, the installed one, the difference")
    status.add_argument("--config", help="TOML config file (also JIULIU_CONFIG)")
    apply = prices_sub.add_parser("apply", help="put the installed catalogue in force (after review)")
    apply.add_argument("version", help='the version "status" reports as pending, e.g. "genai-prices 0.2.5"')
    apply.add_argument("--config", help="TOML config file (also JIULIU_CONFIG)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: getattr(args, k, None) for k in ("host", "port", "workers", "demo")}
    return load_settings(getattr(args, "config", None), overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jiuliu`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "emulator":
        configure_logging("info")
        from emulator import default_accounts, run_emulator

        run_emulator(args.host, args.port, default_accounts(args.anthropic_accounts, args.openai_accounts),
                     args.tls_cert, args.tls_key)
        return 0
    try:
        settings = _settings(args)
    except SettingsError as exc:
        print(f"jiuliu: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "serve":
        from server.serve import serve

        return serve(settings)
    if args.command == "admin":
        from server.admin_cli import admin_create, rotate_key

        command = rotate_key if args.admin_command == "rotate-key" else admin_create
        return asyncio.run(command(settings, args))
    if args.command == "prices":
        from server.prices_cli import prices_command

        return asyncio.run(prices_command(settings, args))
    return 2


if __name__ == "__main__":
    sys.exit(main())
