"""Local transformer encoders: turn passages and queries into normalised vectors."""
