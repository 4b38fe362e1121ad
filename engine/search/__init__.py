"""Search: keyword and semantic candidates, their fusion, and the word-level explanations."""
