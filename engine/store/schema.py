"""The database schema as an ordered list of migrations; version N is the first N applied."""

from __future__ import annotations

# A file's whole text for files_fts (migration 7), rebuilt from its passages: each passage
# without the part it shares with the one before (passages overlap), so every word counts
# once. The same text goes in and, as FTS5's 'delete' needs, comes out again.
_FILE_BODY = """(
    SELECT group_concat(part, char(10)) FROM (
        SELECT substr(text, 1 + max(0, coalesce(lag("end") OVER (ORDER BY ordinal), 0) - start))
            AS part
        FROM chunks WHERE file_id = {file} ORDER BY ordinal))"""

# Each passage with the text of the passages either side of it in its file (migration 9).
_NEARBY = """SELECT c.id, c.text, coalesce(p.text, '') || char(10) || coalesce(n.text, '')
        FROM chunks c
        LEFT JOIN chunks p ON p.file_id = c.file_id AND p.ordinal = c.ordinal - 1
        LEFT JOIN chunks n ON n.file_id = c.file_id AND n.ordinal = c.ordinal + 1"""

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
    # 5: a removal leaves traces until it is purged (engine/store/purge.py): FTS5 keeps
    # deleted terms in its segments until they are merged, and the WAL keeps old pages until
    # it is checkpointed. Each removal of text, a path or a vector flags a purge as due, in
    # the same transaction, so a purge an engine was killed before still runs at next start.
    # An index from before this migration may hold deleted words already: it purges once.
    """
    CREATE TRIGGER chunks_purge AFTER DELETE ON chunks BEGIN
        INSERT OR IGNORE INTO meta(key, value) VALUES ('purge_pending', '1');
    END;
    CREATE TRIGGER chunk_vectors_purge AFTER UPDATE OF vector ON chunks
        WHEN old.vector IS NOT NULL BEGIN
        INSERT OR IGNORE INTO meta(key, value) VALUES ('purge_pending', '1');
    END;
    CREATE TRIGGER files_purge AFTER DELETE ON files BEGIN
        INSERT OR IGNORE INTO meta(key, value) VALUES ('purge_pending', '1');
    END;
    CREATE TRIGGER files_moved_purge AFTER UPDATE OF path ON files BEGIN
        INSERT OR IGNORE INTO meta(key, value) VALUES ('purge_pending', '1');
    END;
    CREATE TRIGGER folders_purge AFTER DELETE ON folders BEGIN
        INSERT OR IGNORE INTO meta(key, value) VALUES ('purge_pending', '1');
    END;
    INSERT OR IGNORE INTO meta(key, value)
        SELECT 'purge_pending', '1' WHERE EXISTS (SELECT 1 FROM chunks);
    """,
    # 6: OCR. Each passage read from a picture keeps the boxes of its words (chunks.boxes,
    # packed by engine/extract/regions.py, 16 bytes a word; NULL for every other passage),
    # so a preview can mark the match on the page. ocr_pending holds the files whose
    # picture pages are not all read yet (engine/store/ocr_pending.py): they go back in the
    # queue after each run, and after a restart. The entries of an archive's members
    # (`a.zip › b.pdf`, engine/ingest/archive_members.py) follow the archive when it moves.
    """
    ALTER TABLE chunks ADD COLUMN boxes BLOB;
    CREATE TABLE ocr_pending (
        path TEXT PRIMARY KEY,
        pages_done INTEGER NOT NULL,
        pages_total INTEGER NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TRIGGER archive_members_move AFTER UPDATE OF path ON files
        WHEN old.kind = 'archive' BEGIN
        UPDATE files SET path = new.path || substr(path, length(old.path) + 1)
            WHERE substr(path, 1, length(old.path) + 3) = old.path || ' › ';
    END;
    """,
    # 7: keyword search sees whole documents too. Ranking a file by its best passage lost to
    # plain BM25 over whole documents (SciFact 0.671 against 0.682); files_fts indexes each
    # file's whole text, and the searcher adds its BM25 to every passage of the file
    # (engine/search/documents.py). Contentless: it keeps the index and not the text (3 MB
    # on SciFact's 75 MB database). The store adds a file's row after its passages
    # (FILE_FTS_ROW); the first of its passages to be deleted takes it out, while all of the
    # passages are still there to say which words to remove.
    f"""
    CREATE VIRTUAL TABLE files_fts USING fts5(
        body,
        content='',
        tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER chunks_files_fts BEFORE DELETE ON chunks
        WHEN EXISTS (SELECT 1 FROM files_fts_docsize WHERE id = old.file_id) BEGIN
        INSERT INTO files_fts(files_fts, rowid, body)
            VALUES ('delete', old.file_id, {_FILE_BODY.format(file="old.file_id")});
    END;
    INSERT INTO files_fts(rowid, body)
        SELECT f.id, {_FILE_BODY.format(file="f.id")} FROM files f
        WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.file_id = f.id);
    """,
    # 8: two phases. A file is findable by its words once its passages are written; their
    # vectors follow (engine/ingest/meaning.py). chunks_unembedded lists the passages still
    # without a vector, in the order they are embedded. chunks.digest (engine/store/digest.py,
    # 64 bits of BLAKE2b of the text) finds a passage whose exact text is embedded anywhere
    # already, so copies, versions and generated files reuse its vector.
    """
    ALTER TABLE chunks ADD COLUMN digest INTEGER;
    UPDATE chunks SET digest = dowse_digest(text) WHERE vector IS NOT NULL;
    CREATE INDEX chunks_digest ON chunks(digest) WHERE vector IS NOT NULL;
    CREATE INDEX chunks_unembedded ON chunks(file_id, ordinal) WHERE vector IS NULL;
    """,
    # 9: the passage index without its own copies of the text. Migration 4's table kept each
    # passage and its neighbours' text, 3.5 times the text on python3-doc (BENCHMARKS.md,
    # disk-usage). Now its content is the view chunks_nearby, which derives the neighbours
    # from chunks, and FTS5 keeps only the index. The neighbours still earn their column:
    # without it CISI's keyword nDCG@10 falls 0.373 → 0.367, past the 0.005 allowed (BENCHMARKS.md,
    # "The neighbour column"). FTS5's 'delete' must be given the exact values indexed, and a
    # passage's row depends on its neighbours, so the first of a file's passages to be deleted
    # takes out the rows of all of them while they are all still there (as for files_fts);
    # the store only ever deletes a file's passages together. A purge is due: the old
    # table's pages are free now, and zeroed (secure_delete), but still in the file.
    f"""
    DROP TRIGGER chunks_ad;
    DROP TABLE chunks_fts;
    CREATE VIEW chunks_nearby(id, text, nearby) AS {_NEARBY};
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text,
        nearby,
        content='chunks_nearby',
        content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER chunks_fts_delete BEFORE DELETE ON chunks
        WHEN EXISTS (SELECT 1 FROM chunks_fts_docsize WHERE id = old.id) BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text, nearby)
            SELECT 'delete', id, text, nearby FROM chunks_nearby WHERE id IN (
                SELECT c.id FROM chunks c JOIN chunks_fts_docsize d ON d.id = c.id
                WHERE c.file_id = old.file_id);
    END;
    INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');
    INSERT OR IGNORE INTO meta(key, value)
        SELECT 'purge_pending', '1' WHERE EXISTS (SELECT 1 FROM chunks);
    """,
    # 10: FTS5 merges a level's segments once 8 of them wait, not 4. Every file is its own
    # transaction, and each transaction writes new segments, so with 4 the words phase
    # rewrote the whole index about twice as often: replaying python3-doc's 1,054 files into
    # a fresh store took 5.8-6.1 s with 4 and 5.2-5.5 s with 8 (BENCHMARKS.md, folder-index).
    # A repack after a large run (engine/store/repack.py: 'optimize') still leaves one
    # segment; until then a search may read up to twice as many, and FTS5 queries on
    # python3-doc's unrepacked index took as long as before (BENCHMARKS.md, folder-index).
    """
    INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('automerge', 8);
    INSERT INTO files_fts(files_fts, rank) VALUES ('automerge', 8);
    """,
)

# The files_fts row of one file (parameter: the file id), once its passages are written.
FILE_FTS_ROW = f"INSERT INTO files_fts(rowid, body) VALUES (?1, {_FILE_BODY.format(file='?1')})"

# The FTS rows of one file's passages (parameter: the file id), each with its neighbours,
# once all of them are written (a passage's neighbours are only known then).
NEIGHBOUR_FTS_ROWS = """
    INSERT INTO chunks_fts(rowid, text, nearby)
        SELECT id, text, nearby FROM chunks_nearby
        WHERE id IN (SELECT id FROM chunks WHERE file_id = ?)
"""

SCHEMA_VERSION = len(MIGRATIONS)
