"""The local usage journal: every finished request's usage record is appended to a file in the
data directory before its answer's last bytes leave, so a killed process (``kill -9``, an OOM,
Docker's SIGKILL after the stop timeout) loses no charge. The next start replays the file
(charges are idempotent by request id: a record already in the database changes nothing) and
the file is emptied whenever everything in it is known to be in the database.

One file per worker process (``usage-journal-<worker>.jsonl``), one ``write()`` per request,
no fsync: it survives the process, not the machine. Each machine replays its own journal.

Records the database refuses (a bad document, not an outage) are kept in
``usage-set-aside.jsonl`` (shared by the workers, appended under ``flock``) until an operator
re-drives them.

A line is the stored usage row (``usage_doc``: tokens, prices applied, cost) plus the hold, so a
replay bills exactly what the live flush would have, without the price rule it came from."""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
from pathlib import Path
from typing import Any

import orjson

from server.billing.charges import UsageRecord, usage_doc
from server.pricing.pricing import Cost, PriceRule
from server.pricing.usage import Usage

log = logging.getLogger(__name__)

SET_ASIDE = "usage-set-aside.jsonl"
_TOKEN_KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read", "reasoning")


def _request_id(entry: dict[str, Any]) -> str:
    return str((entry.get("doc") or {}).get("request_id", ""))


def records_of(entries: list[dict[str, Any]]) -> list[UsageRecord]:
    """The usable records of journal entries, one per request id (the last written wins);
    an entry an older or broken writer left is skipped and logged, never fatal."""
    records: dict[str, UsageRecord] = {}
    for entry in entries:
        try:
            record = from_entry(entry)
        except (KeyError, TypeError, ValueError) as exc:
            log.error("usage journal: unusable entry skipped: %s", exc)
            continue
        records[record.request_id] = record
    return list(records.values())


def to_line(record: UsageRecord, error: str = "") -> bytes:
    """One journal line: the usage row as the flush would store it, and the hold to release."""
    entry: dict[str, Any] = {"doc": usage_doc(record, record.cost()), "hold": record.hold}
    if error:
        entry["error"] = error[:500]
        entry["set_aside_at"] = dt.datetime.now(dt.UTC)
    # default=str: a value the database cannot store either is kept as text, never lost.
    return orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE, default=str)


def from_entry(entry: dict[str, Any]) -> UsageRecord:
    """The record a journal line was written from, priced as it was (``usage_doc`` of the
    result equals the line's ``doc``)."""
    doc = entry["doc"]
    tokens = doc.get("tokens") or {}
    usage = Usage(**{k: int(tokens.get(k) or 0) for k in _TOKEN_KINDS},
                  web_search_requests=int(doc.get("web_search_requests") or 0),
                  service_tier=doc.get("service_tier") or "", speed=doc.get("speed") or "",
                  estimate=doc.get("estimate_method") or "")
    pricing = doc.get("pricing") or {}
    cost = Cost(usage=usage, prices=dict(doc.get("prices") or {}),
                multiplier_ppm=int(doc["multiplier_ppm"]), total=int(doc["cost"]),
                pattern=doc.get("price_rule") or "", parts=dict(doc.get("cost_parts") or {}),
                tier=int(pricing.get("tier") or 0), variant=pricing.get("variant") or "",
                applied=dict(pricing.get("applied") or {}),
                web_search=int(pricing.get("web_search_price") or 0),
                source=pricing.get("source") or "operator", version=pricing.get("catalogue_version") or "",
                base_model=pricing.get("base_model") or "")
    prices = cost.prices
    rule = PriceRule(pattern=cost.pattern, input=prices.get("input", 0), output=prices.get("output", 0),
                     cache_write_5m=prices.get("cache_write_5m", 0),
                     cache_write_1h=prices.get("cache_write_1h", 0),
                     cache_read=prices.get("cache_read", 0), source=cost.source, version=cost.version,
                     base_model=cost.base_model)
    ts = doc["ts"]
    return UsageRecord(
        request_id=doc["request_id"], user_id=doc["user_id"], key_id=doc["key_id"], group=doc["group"],
        model=doc["model"], usage=usage, rule=rule, multiplier_ppm=cost.multiplier_ppm,
        protocol=doc.get("protocol", "anthropic"), endpoint=doc.get("endpoint", ""),
        stream=bool(doc.get("stream")), status=int(doc.get("status") or 200),
        outcome=doc.get("outcome") or "ok", error_class=doc.get("error_class"),
        attempts=int(doc.get("attempts") or 1), latency_ms=int(doc.get("latency_ms") or 0),
        ttft_ms=doc.get("ttft_ms"),
        account_id=doc.get("account_id"), account_name=doc.get("account_name"),
        upstream_model=doc.get("upstream_model"), upstream_request_id=doc.get("upstream_request_id"),
        client_ip=doc.get("client_ip") or "", user_agent=doc.get("user_agent") or "",
        session_hash=doc.get("session_hash"), key_name=doc.get("key_name") or "",
        ts=dt.datetime.fromisoformat(ts) if isinstance(ts, str) else ts,
        repairs=list(doc.get("repairs") or []), hold=int(entry.get("hold") or 0),
        _cost=cost, _base_cost=int(doc.get("base_cost") or 0))


def parse_lines(data: bytes) -> list[dict[str, Any]]:
    """The entries of a journal file; a torn last line (a machine crash mid-write) is skipped."""
    entries = []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            entries.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            log.warning("usage journal: skipped an unreadable line (%d bytes)", len(line))
    return entries


class UsageJournal:
    """This worker's journal file, and the data directory's set-aside file."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.set_aside_path = path.parent / SET_ASIDE
        self._fd = fd
        self.appended = 0

    @classmethod
    def open(cls, directory: Path, worker: int = 0) -> UsageJournal:
        """This worker's journal, locked for as long as the process lives. If another live
        process holds it (two relays on one data directory), a file of this process's own is
        used instead, so neither can empty the other's."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in (f"usage-journal-{worker}.jsonl", f"usage-journal-{worker}-{os.getpid()}.jsonl"):
            path = directory / name
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                log.warning("usage journal %s is held by another process; using one of this process", path)
                continue
            return cls(path, fd)
        raise RuntimeError(f"usage journal: cannot lock a file in {directory}")

    def append(self, record: UsageRecord) -> None:
        """One ``write()`` of one line (~1 KB into the page cache, a few microseconds): called on
        the event loop before the answer's last bytes are sent. Never raises: a full disk must
        not fail the request (the record is still queued for the database)."""
        try:
            os.write(self._fd, to_line(record))
            self.appended += 1
        except Exception as exc:  # noqa: BLE001 - the answer must still go out
            log.error("usage journal: could not append %s: %s", record.request_id, exc)

    def truncate(self, keep: list[UsageRecord] | None = None) -> None:
        """Everything appended so far is in the database (or set aside) except ``keep``: start
        the file afresh with only those (requests answered but not queued yet, a handful)."""
        if self.appended > len(keep or ()):
            os.ftruncate(self._fd, 0)
            self.appended = 0
            if keep:
                os.write(self._fd, b"".join(to_line(record) for record in keep))
                self.appended = len(keep)

    def read(self) -> list[UsageRecord]:
        """The records of this worker's journal (replayed at start), one per request id."""
        records = records_of(parse_lines(self.path.read_bytes()))
        self.appended = len(records)
        return records

    def orphans(self, workers: int) -> list[Path]:
        """Journals no worker of this process owns: of workers beyond today's count (``workers``
        was lowered) or of a second relay that has stopped. Worker 0 replays them at start."""
        own = {f"usage-journal-{i}.jsonl" for i in range(workers)}
        return sorted(p for p in self.path.parent.glob("usage-journal-*.jsonl")
                      if p.name not in own and p != self.path)

    @staticmethod
    def read_orphan(path: Path) -> list[UsageRecord] | None:
        """The records of an orphan journal, or None while a live process holds it."""
        fd = os.open(path, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            with open(fd, "rb", closefd=False) as handle:
                entries = parse_lines(handle.read())
        finally:
            os.close(fd)
        return records_of(entries)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- set aside (blocking file calls: run them in a thread) ----------------------------
    def set_aside(self, record: UsageRecord, error: str) -> None:
        """Keep a record the database refused, durably, for an operator to re-drive."""
        self._append_locked([to_line(record, error)])

    def set_aside_entries(self) -> list[dict[str, Any]]:
        """Every record set aside on this machine (all workers)."""
        try:
            return parse_lines(self.set_aside_path.read_bytes())
        except FileNotFoundError:
            return []

    def resolve_set_aside(self, written: set[str], refused: dict[str, dict[str, Any]]) -> None:
        """After a re-drive: drop the entries now charged, give the refused ones their new
        error; entries set aside meanwhile stay. The file is rewritten only now, so a process
        killed mid re-drive keeps every entry (charging again is idempotent)."""
        try:
            with open(self.set_aside_path, "rb+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                entries = parse_lines(handle.read())
                rest = [refused.get(_request_id(e), e) for e in entries if _request_id(e) not in written]
                handle.seek(0)
                handle.truncate(0)
                handle.write(b"".join(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in rest))
        except FileNotFoundError:
            pass


    def _append_locked(self, lines: list[bytes]) -> None:
        fd = os.open(self.set_aside_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with open(fd, "ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(b"".join(lines))
