"""Ingest: walk and watch pinned folders, extract and chunk each file, and write it to the store."""
