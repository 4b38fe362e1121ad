"""Dowse engine: extract, chunk, embed, store and search a person's own files."""

__version__ = "0.1.0"
