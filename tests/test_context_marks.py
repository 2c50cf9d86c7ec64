"""The fingerprint store on the real embedded database: lookups by many ids, first minter wins,
expiry, and fingerprints that look like dates or numbers stay exact (nx-27017 quirks)."""

from __future__ import annotations

from server.storage.context_marks import ContextMarkStore, fingerprint


async def test_remember_and_find_minters(storage):
    store = ContextMarkStore(storage)
    blobs = [f"gAAAAAB{i:04d}" for i in range(450)]
    fps = [fingerprint(b) for b in blobs]
    assert all(len(fp) == 24 and int(fp, 16) >= 0 for fp in fps)
    await store.remember([(fp, "reasoning") for fp in fps[:300]], "acc_a", expires_at=2000.0)
    await store.remember([(fps[0], "reasoning"), (fps[300], "compaction")], "acc_b", expires_at=2000.0)
    found = await store.minters(fps, now=1000.0)
    assert len(found) == 301
    assert found[fps[0]] == "acc_a"  # the first minter stands
    assert found[fps[299]] == "acc_a" and found[fps[300]] == "acc_b"
    assert fps[301] not in found
    assert await store.minters(fps, now=2500.0) == {}  # expired marks never route


async def test_date_like_and_numeric_ids_match_exactly(storage):
    store = ContextMarkStore(storage)
    tricky = ["2026-12-02", "20261202", "000000000000000000000001", "1e5"]
    await store.remember([(t, "reasoning") for t in tricky], "acc_x", expires_at=5000.0)
    found = await store.minters(tricky + ["2026-12-03", "100000"], now=1.0)
    assert found == {t: "acc_x" for t in tricky}
    assert await store.purge_expired(now=6000.0) >= 4
    assert await store.minters(tricky, now=1.0) == {}
