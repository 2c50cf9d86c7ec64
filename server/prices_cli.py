"""``jiuliu prices status`` and ``jiuliu prices apply VERSION``: the operator's review of a newer
price catalogue from the command line (the same as the dashboard's price page). Connects to
``MONGO_URL`` or starts the embedded database exactly as ``serve`` does; ``status`` stores the
installed catalogue if it is new (converted in a subprocess) and prints what applying it would
change; ``apply`` puts it in force for every relay process."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from server.accounts.times import iso
from server.admin.audit import AuditLog
from server.runtime import Runtime
from server.settings import Settings
from server.storage.prices import PriceStore


async def _status(prices: PriceStore) -> dict[str, Any]:
    review = await prices.review()
    return {**review, "applied_at": iso(review["applied_at"]),
            "diff": [{k: c[k] for k in ("model", "change", "fields", "before", "after")}
                     for c in review["diff"]]}


async def prices_command(settings: Settings, args: argparse.Namespace) -> int:
    """Database up, review or apply, print JSON, database down."""
    runtime = Runtime(settings)
    try:
        await runtime._start_database()
        assert runtime.storage is not None
        prices = PriceStore(runtime.storage)
        await prices.prepare()
        if args.prices_command == "apply":
            status = await prices.status()
            if args.version != status["pending"]:
                print(f"jiuliu prices apply: {args.version!r} is not the catalogue awaiting review "
                      f"(pending: {status['pending']!r}, active: {status['active']!r})", file=sys.stderr)
                return 2
            await prices.apply(args.version, "cli")
            # The same audit row as the price page's apply: who put which catalogue in force.
            await AuditLog(runtime.storage).record("cli", "price.catalogue.apply", args.version,
                                                   {"active": status["active"]}, {"active": args.version})
        result = await _status(prices)
    finally:
        await runtime.close()
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode(), flush=True)
    return 0
