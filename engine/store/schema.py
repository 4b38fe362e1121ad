"""The database schema as an ordered list of migrations; version N is the first N applied."""

from __future__ import annotations

# Chunk ids use AUTOINCREMENT so an id is never reused: the id is the HNSW label, and a reused
# label could pair a stale vector in a not-yet-repaired index with a new passage.
MIGRATIONS: tuple[str, ...] = (
    # 1: folders, files, chunks, meta, and FTS5 kept in step by triggers.
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE folders (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL DEFAULT 'active',
        added_at REAL NOT NULL
    );
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        hash TEXT,
        kind TEXT,
        state TEXT NOT NULL,
        error TEXT,
        indexed_at REAL
    );
    CREATE INDEX files_folder ON files(folder_id);
    CREATE INDEX files_state ON files(state);
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        page INTEGER,
        heading TEXT,
        text TEXT NOT NULL,
        UNIQUE (file_id, ordinal)
    );
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text,
        content='chunks',
        content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER chunks_au AFTER UPDATE OF text ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
    END;
    """,
    # 2: each passage's embedding as a float16 blob, so the HNSW file can always be rebuilt
    # from SQLite alone. NULL means "not embedded yet" (a keyword-only index, or a new model).
    """
    ALTER TABLE chunks ADD COLUMN vector BLOB;
    """,
    # 3: the engine's work queue, so an interrupted run resumes where it stopped; and file
    # hashes indexed, so a file that moved is recognised by its content.
    """
    CREATE TABLE queue (
        path TEXT PRIMARY KEY,
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        priority INTEGER NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        mtime REAL NOT NULL DEFAULT 0,
        queued_at REAL NOT NULL
    );
    CREATE INDEX queue_order ON queue(priority, mtime);
    CREATE INDEX files_hash ON files(hash);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
