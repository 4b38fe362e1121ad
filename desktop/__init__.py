"""Dowse's Qt desktop app: a client of the engine that talks to it only through its protocol."""
