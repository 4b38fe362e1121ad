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
    # 4: keyword search sees each passage with its neighbours. Passages are 128 word pieces
    # (what all-MiniLM-L6-v2 was trained on), and BM25 over so little text misses documents
    # whose query words fall either side of a cut: on SciFact keyword nDCG@10 fell from 0.683
    # (256-piece passages) to 0.655. A second column holds the neighbouring passages' text,
    # weighted below the passage's own (engine/store/keyword.py), which brings it back to
    # 0.671 (bench/neighbour_study.py). The FTS table keeps its own copy of the text, since a
    # passage's neighbours are only known once its whole file is written: the store fills
    # a file's rows after its passages (NEIGHBOUR_FTS_ROWS); deletes still go by trigger.
    """
    DROP TRIGGER chunks_ai;
    DROP TRIGGER chunks_ad;
    DROP TRIGGER chunks_au;
    DROP TABLE chunks_fts;
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text,
        nearby,
        tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        DELETE FROM chunks_fts WHERE rowid = old.id;
    END;
    INSERT INTO chunks_fts(rowid, text, nearby)
        SELECT c.id, c.text, coalesce(p.text, '') || char(10) || coalesce(n.text, '')
        FROM chunks c
        LEFT JOIN chunks p ON p.file_id = c.file_id AND p.ordinal = c.ordinal - 1
        LEFT JOIN chunks n ON n.file_id = c.file_id AND n.ordinal = c.ordinal + 1;
    """,
)

# The FTS rows of one file's passages (parameter: the file id), each with its neighbours.
NEIGHBOUR_FTS_ROWS = """
    INSERT INTO chunks_fts(rowid, text, nearby)
        SELECT c.id, c.text, coalesce(p.text, '') || char(10) || coalesce(n.text, '')
        FROM chunks c
        LEFT JOIN chunks p ON p.file_id = c.file_id AND p.ordinal = c.ordinal - 1
        LEFT JOIN chunks n ON n.file_id = c.file_id AND n.ordinal = c.ordinal + 1
        WHERE c.file_id = ?
"""

SCHEMA_VERSION = len(MIGRATIONS)
