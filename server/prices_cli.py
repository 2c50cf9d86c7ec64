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
from server.pricing.catalogue import diff
from server.runtime import Runtime
from server.settings import Settings
from server.storage.prices import PriceStore


async def _status(prices: PriceStore) -> dict[str, Any]:
    status = await prices.status()
    changes = []
    if status["pending"]:
        changes = diff(await prices.catalogue_doc(status["active"]),
                       await prices.catalogue_doc(status["pending"]))
    return {**status, "applied_at": iso(status["applied_at"]),
            "diff": [{k: c[k] for k in ("model", "change", "fields")}
                     | {"before": c["before"], "after": c["after"]}
                     for c in changes]}


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
        result = await _status(prices)
    finally:
        await runtime.close()
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode(), flush=True)
    return 0
