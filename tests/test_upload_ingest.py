"""The ingest protocol in-process (Starlette's test client over the server app), on SQLite and PostgreSQL 15:
a replay at or below the mark answers success with the mark and stores nothing; an overlap applies only its tail;
a gap answers 409 GAP; refusals are final and say who, where and the fix; the project is created private."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from _pg import server_db
from runhive.protocol.v1 import service_pb2 as pb
from runhive_service.server import migrate, open_engine
from runhive_service.server._app import create_app
from runhive_service.server._store import ServerStore

__all__ = ["server_db"]  # the fixture, imported from _pg

BASE = "/api/v1/streams/alice/proj/r1"


@pytest.fixture
def served(server_db: str) -> Iterator[tuple[TestClient, ServerStore, dict[str, str]]]:
    engine = open_engine(server_db)
    migrate(engine)
    store = ServerStore(engine)
    _, key = store.create_user("alice")
    try:
        yield TestClient(create_app(store)), store, {"Authorization": f"Bearer {key.key}"}
    finally:
        engine.dispose()


def rows(first: int, last: int, writer: str = "w1") -> bytes:
    """Records seq first..last of `writer`, each a history row at step seq - 1 with loss = seq."""
    group = pb.RecordBatch(writer=writer)
    for seq in range(first, last + 1):
        group.records.add(seq=seq, history=pb.HistoryRecord(step=seq - 1, keys=["loss"], values=[float(seq)]))
    return group.SerializeToString()


def stored(store: ServerStore) -> tuple[list[int], int]:
    with store.engine.connect() as conn:
        chunks = conn.execute(text("SELECT first_step, n FROM history_chunks ORDER BY first_step")).all()
        (count,) = conn.execute(text("SELECT history_rows FROM runs")).one()
    steps = [s for first, n in chunks for s in range(first, first + n)]
    return steps, int(count)


def test_replays_overlaps_and_gaps(served: tuple[TestClient, ServerStore, dict[str, str]]) -> None:
    client, store, auth = served
    opened = client.post(BASE, headers=auth)
    assert opened.status_code == 200
    assert opened.json() == {
        "entity": "alice",
        "project": "proj",
        "run_id": "r1",
        "user": "alice",
        "permission": "write",
        "marks": {},
    }
    assert store.project("alice", "proj").visibility == "private"  # type: ignore[union-attr]

    def post(body: bytes, prev: int) -> tuple[int, dict[str, object]]:
        res = client.post(f"{BASE}/w1?prev={prev}", headers=auth, content=body)
        return res.status_code, res.json()

    assert post(rows(1, 10), 0) == (200, {"seq": 10, "applied": 10})
    assert post(rows(1, 10), 0) == (200, {"seq": 10, "applied": 0}), "a replay: success with the mark"
    assert post(rows(3, 7), 2) == (200, {"seq": 10, "applied": 0}), "wholly below the mark"
    assert post(rows(6, 15), 5) == (200, {"seq": 15, "applied": 5}), "an overlap: only the tail"
    status, doc = post(rows(20, 25), 19)
    assert (status, doc["code"]) == (409, "GAP"), "a gap: the uploader rewinds"
    assert client.post(BASE, headers=auth).json()["marks"] == {"w1": 15}
    assert stored(store) == (list(range(15)), 15), "every row once"


def test_refusals_are_final_and_name_the_fix(served: tuple[TestClient, ServerStore, dict[str, str]]) -> None:
    client, store, auth = served
    _, bob = store.create_user("bob")
    assert client.post(BASE, headers=auth).status_code == 200
    res = client.post(f"{BASE}/w1?prev=0", headers={"Authorization": f"Bearer {bob.key}"}, content=rows(1, 2))
    assert res.status_code == 403 and res.json()["error"] == (
        "permission denied: user 'bob' may not write to 'alice/proj' (private); ask its owner 'alice' to set the "
        "project to Open"
    )
    res = client.post("/api/v1/streams/nobody/proj/r1", headers=auth)
    assert res.status_code == 404 and "entity 'nobody' does not exist" in res.json()["error"]
    res = client.post(BASE)
    assert res.status_code == 401 and res.json()["error"].startswith("not logged in")
    res = client.post(f"{BASE}/w1", headers=auth, content=b"\xff\xff not a batch")
    assert res.status_code == 400 and "RecordBatch" in res.json()["error"]
    assert stored(store) == ([], 0)
