"""``python -m bench.counted_serve serve …``: the relay with a PyMongo command listener counting
the database commands it sends and the documents they write (nx-27017 has no ``opcounters``),
dumped once a second as JSON to ``$JIULIU_BENCH_DB_COUNTS`` for the soak's writes per request.
Bench-only: the listener costs a few microseconds per command."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from pymongo import monitoring

DOCS = {"insert": "documents", "update": "updates", "delete": "deletes"}


class Counts(monitoring.CommandListener):
    """Commands by name, and documents written by command and collection."""

    def __init__(self) -> None:
        self.commands: dict[str, int] = {}
        self.writes: dict[str, int] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        self.commands[name] = self.commands.get(name, 0) + 1
        if name in DOCS or name == "findAndModify":
            n = 1 if name == "findAndModify" else len(event.command.get(DOCS[name], ()))
            key = f"{name}:{event.command.get(name)}"
            self.writes[key] = self.writes.get(key, 0) + n

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _dump(counts: Counts, path: Path) -> None:
    while True:
        time.sleep(1.0)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"commands": dict(counts.commands), "writes": dict(counts.writes)}))
        os.replace(tmp, path)


def read_counts(path: Path) -> dict:
    """The last dump: {"commands": {...}, "writes": {...}} (empty before the first)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"commands": {}, "writes": {}}


if __name__ == "__main__":
    counts = Counts()
    monitoring.register(counts)  # before any client exists: every client of the relay reports
    out = Path(os.environ["JIULIU_BENCH_DB_COUNTS"])
    threading.Thread(target=_dump, args=(counts, out), daemon=True, name="db-counts").start()
    from server.cli import main

    sys.exit(main())
