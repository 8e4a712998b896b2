"""The local store's SQLite schema, shared by its one writer (the daemon) and its readers (`runhive.Api`).

`metric_chunks` holds each numeric metric of each run as chunks of up to CHUNK points (steps and values packed
as little-endian int64/float64 arrays, with the chunk's min, max and last value), keyed (key, run, chunk): a chart
reads one metric of many runs without touching other keys, and downsamples from chunk min/max without decoding.
`history_blocks` keeps rows as logged for `run.history()`: each block is the serialised RecordBatch the daemon
wrote to the WAL (its history records are the rows, in order; other records in it are skipped on read).
The daemon writes blocks as it applies batches and chunks later (`runhive_service.store._index`): the chunks cover a
run's first `runs.indexed_rows` rows, and readers take the rest from the blocks.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 5
CHUNK = 128

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    entity TEXT NOT NULL,
    project TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    grp TEXT NOT NULL DEFAULT '',
    job_type TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    exit_code INTEGER,
    config TEXT NOT NULL DEFAULT '{}',
    summary TEXT NOT NULL DEFAULT '{}',
    metadata TEXT NOT NULL DEFAULT '{}',
    run_dir TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT 'online',
    host TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    created_at REAL,
    updated_at REAL,
    last_step INTEGER NOT NULL DEFAULT -1,
    history_rows INTEGER NOT NULL DEFAULT 0,
    applied_offset INTEGER NOT NULL DEFAULT 0,
    indexed_rows INTEGER NOT NULL DEFAULT 0,
    sweep TEXT NOT NULL DEFAULT '',
    UNIQUE (entity, project, id)
);
CREATE INDEX IF NOT EXISTS runs_by_project ON runs (project, entity, created_at);
CREATE INDEX IF NOT EXISTS runs_by_state ON runs (state);
CREATE TABLE IF NOT EXISTS history_blocks (
    run_pk INTEGER NOT NULL,
    first_idx INTEGER NOT NULL,
    n INTEGER NOT NULL,
    first_step INTEGER NOT NULL,
    last_step INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (run_pk, first_idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metric_keys (pk INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS metric_chunks (
    key_pk INTEGER NOT NULL,
    run_pk INTEGER NOT NULL,
    chunk INTEGER NOT NULL,
    first_step INTEGER NOT NULL,
    last_step INTEGER NOT NULL,
    n INTEGER NOT NULL,
    min REAL,
    max REAL,
    last REAL,
    steps BLOB NOT NULL,
    vals BLOB NOT NULL,
    PRIMARY KEY (key_pk, run_pk, chunk)
) WITHOUT ROWID;
-- Sweeps and the runs their controller handed out (`runhive_service.sweeps._store`); a run's own row names its
-- sweep in runs.sweep once it has started.
CREATE TABLE IF NOT EXISTS sweeps (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    entity TEXT NOT NULL,
    project TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL,
    updated_at REAL,
    UNIQUE (entity, project, id)
);
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep_pk INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    agent TEXT NOT NULL DEFAULT '',
    params TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL,
    exit_code INTEGER,
    created_at REAL,
    PRIMARY KEY (sweep_pk, run_id)
) WITHOUT ROWID;
-- System metrics of each run (`runhive_service.daemon._sysmon`): one row a sample, W&B's key names in a JSON object.
CREATE TABLE IF NOT EXISTS system_metrics (
    run_pk INTEGER NOT NULL,
    ts REAL NOT NULL,
    runtime REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS system_metrics_by_run ON system_metrics (run_pk, ts);
-- A covering index of the chunk summaries: downsampled chart reads scan it and never touch the blobs.
CREATE INDEX IF NOT EXISTS metric_chunk_summaries
    ON metric_chunks (key_pk, run_pk, chunk, first_step, n, min, max, last);
"""


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a store written by an older runhive up to SCHEMA_VERSION (the writer calls this on open)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    if "indexed_rows" not in columns:  # v3 wrote metric chunks with the rows: all of them are indexed
        conn.execute("ALTER TABLE runs ADD COLUMN indexed_rows INTEGER NOT NULL DEFAULT 0")
        conn.execute("UPDATE runs SET indexed_rows = history_rows")
    if "sweep" not in columns:  # v4 had no sweeps
        conn.execute("ALTER TABLE runs ADD COLUMN sweep TEXT NOT NULL DEFAULT ''")
    conn.execute("CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs (sweep) WHERE sweep != ''")
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # the WAL files are the durable record; the store follows
        # The writer commits often: checkpoint less often (32 MiB of SQLite WAL) and keep more pages cached.
        conn.execute("PRAGMA wal_autocheckpoint=8192")
        conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn
