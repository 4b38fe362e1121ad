"""Passages fit the encoder, cover the text, respect pages, and cut where a reader would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import ChunkConfig, ExtractConfig
from engine.embed.model_dir import resolve_model_dir
from engine.extract.base import Extracted, Heading
from engine.ingest.chunk import Passage, PassageTokenizer, chunk_document

pytestmark = pytest.mark.model

SENTENCES = [
    "The cat sat on the mat.",
    "Dowse finds files by meaning rather than by name.",
    "Neural retrieval maps queries and passages into one vector space!",
    "Why would anyone search their own disk by keyword alone?",
    "Diffusion tensor imaging measured anisotropy in preterm infants (n = 17).",
    "Results were similar (1.2 versus 1.1 microm2/ms).",
]


@pytest.fixture(scope="module")
def tokenizer() -> PassageTokenizer:
    return PassageTokenizer.from_model_dir(resolve_model_dir(""))


@pytest.fixture(scope="module")
def hf_tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(resolve_model_dir("")))


def prose(n_sentences: int, seed: int = 0) -> str:
    return " ".join(SENTENCES[(seed + i * 5) % len(SENTENCES)] for i in range(n_sentences))


def limit_of(tokenizer: PassageTokenizer, config: ChunkConfig) -> int:
    if config.max_tokens is None:
        return tokenizer.max_tokens
    return min(config.max_tokens, tokenizer.max_tokens)


def assert_valid(
    doc: Extracted, passages: list[Passage], tokenizer: PassageTokenizer, config: ChunkConfig
) -> None:
    """Every promise chunk_document makes, checked from the outside."""
    limit = limit_of(tokenizer, config)
    covered = [False] * len(doc.text)
    for i, p in enumerate(passages):
        assert p.ordinal == i
        assert 0 <= p.start < p.end <= len(doc.text)
        assert p.text == doc.text[p.start : p.end]
        assert not p.text[0].isspace() and not p.text[-1].isspace()
        assert tokenizer.count(p.text) <= limit, (p, tokenizer.count(p.text))
        assert p.page == doc.page_at(p.start)
        assert doc.page_at(p.end - 1) == p.page, "passage spans two pages"
        assert p.heading == doc.heading_at(p.start)
        covered[p.start : p.end] = [True] * (p.end - p.start)
    for prev, nxt in zip(passages, passages[1:], strict=False):
        assert prev.start < nxt.start
        assert prev.end < nxt.end, "a passage adds nothing to the one before it"
    missed = [i for i, c in enumerate(doc.text) if not c.isspace() and not covered[i]]
    assert not missed, f"characters not in any passage: {missed[:10]}"


# ---- property tests ------------------------------------------------------------------------

WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFG", min_size=1, max_size=12)
# Around BERT's 100-character word limit, where one [UNK] piece becomes dozens when cut.
LONG_WORDS = st.text(alphabet="abcdefghij", min_size=90, max_size=260)
CJK = st.text(
    alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF), min_size=1, max_size=40
)
EMOJI = st.text(alphabet="😀🎉👍🏽👨‍👩‍👧🇺🇳✨", min_size=1, max_size=6)
PUNCT = st.sampled_from([".", "!", "?", "。", "！", "？", ",", "-", "...", '."', "?)", "、"])
SPACE = st.sampled_from(
    [
        " ",
        " ",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\n \n",
        "\t",
        "\r\n",
        "\u00a0",
        "\u3000",
        "\u2029",
        "\x0b",
        "\u200b",
        "",
    ]
)
PIECE = st.one_of(WORDS, WORDS, WORDS, LONG_WORDS, CJK, EMOJI, PUNCT, st.text(max_size=8))


@st.composite
def documents(draw: st.DrawFn) -> Extracted:
    # Lists drawn freely are mostly short; a drawn length gives many multi-window documents.
    n = draw(st.integers(min_value=0, max_value=400))
    parts = draw(st.lists(st.tuples(PIECE, SPACE), min_size=n, max_size=n))
    text = "".join(a + b for a, b in parts)
    offsets = st.integers(min_value=0, max_value=len(text))
    pages = sorted(draw(st.lists(offsets, max_size=5)))
    heading_starts = sorted(draw(st.lists(offsets, max_size=4)))
    headings = tuple(Heading(s, 1, f"h{s}") for s in heading_starts)
    return Extracted(text, "text", page_starts=tuple(pages), headings=headings)


CONFIGS = st.builds(
    ChunkConfig,
    max_tokens=st.sampled_from([None, 12, 16, 32, 64, 1000]),
    overlap_tokens=st.sampled_from([0, 1, 5, 32]),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=documents(), config=CONFIGS)
def test_passages_keep_every_promise(
    tokenizer: PassageTokenizer, doc: Extracted, config: ChunkConfig
) -> None:
    assert_valid(doc, chunk_document(doc, tokenizer, config), tokenizer, config)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=600), config=CONFIGS)
def test_arbitrary_unicode(tokenizer: PassageTokenizer, text: str, config: ChunkConfig) -> None:
    doc = Extracted(text, "text")
    assert_valid(doc, chunk_document(doc, tokenizer, config), tokenizer, config)


# ---- examples ------------------------------------------------------------------------------


def test_empty_and_blank_text_give_no_passages(tokenizer: PassageTokenizer) -> None:
    assert chunk_document(Extracted("", "text"), tokenizer, ChunkConfig()) == []
    blank = Extracted(" \n\n\t\u3000 ", "text", page_starts=(0, 2))
    assert chunk_document(blank, tokenizer, ChunkConfig()) == []


def test_short_text_is_one_stripped_passage(tokenizer: PassageTokenizer) -> None:
    doc = Extracted("\n  Hello world.  \n", "text", headings=(Heading(0, 1, "Top"),))
    assert chunk_document(doc, tokenizer, ChunkConfig()) == [
        Passage(0, 3, 15, "Hello world.", None, "Top")
    ]


def test_count_matches_the_model_tokenizer(tokenizer: PassageTokenizer, hf_tokenizer: Any) -> None:
    # The embedder tokenizes with the HF tokenizer itself; the counts must agree, and must
    # not be capped by the truncation that tokenizer.json carries (128 for this model).
    for text in ["", "Hello world.", prose(40), "中文。" * 50, "x" * 150 + " short"]:
        assert tokenizer.count(text) == len(hf_tokenizer(text)["input_ids"])
    assert tokenizer.count(prose(40)) > 256
    assert tokenizer.max_tokens == 256 and tokenizer.n_special == 2


def test_cuts_at_the_paragraph_break(tokenizer: PassageTokenizer) -> None:
    first = prose(5)  # roughly 70 word pieces: in the second half of a 120-piece window
    doc = Extracted(first + "\n\n" + prose(30, seed=1), "text")
    config = ChunkConfig(max_tokens=120, overlap_tokens=0)
    passages = chunk_document(doc, tokenizer, config)
    assert_valid(doc, passages, tokenizer, config)
    assert tokenizer.count(first) < 120
    assert passages[0].text == first


def test_short_paragraphs_are_not_passages_alone(tokenizer: PassageTokenizer) -> None:
    # Headings and one-line paragraphs come every few sentences; cutting at each would give
    # tiny passages, so a break is only taken in the second half of the window.
    text = "\n\n".join(f"Part {i}\n\n{prose(1 + i % 4, seed=i)}" for i in range(40))
    doc = Extracted(text, "markdown")
    config = ChunkConfig(max_tokens=64, overlap_tokens=0)
    passages = chunk_document(doc, tokenizer, config)
    assert_valid(doc, passages, tokenizer, config)
    assert min(tokenizer.count(p.text) for p in passages[:-1]) >= 0.4 * 64
    assert all(p.text.endswith((".", "!", "?", ")")) for p in passages[:-1])


def test_cuts_at_sentence_ends(tokenizer: PassageTokenizer) -> None:
    doc = Extracted(prose(60), "text")
    config = ChunkConfig(max_tokens=64, overlap_tokens=8)
    passages = chunk_document(doc, tokenizer, config)
    assert_valid(doc, passages, tokenizer, config)
    assert len(passages) > 5
    assert all(p.text[-1] in ".!?)" for p in passages)


def test_small_max_tokens_keeps_passages_full(tokenizer: PassageTokenizer) -> None:
    doc = Extracted(prose(80), "text")
    config = ChunkConfig(max_tokens=32)
    passages = chunk_document(doc, tokenizer, config)
    assert_valid(doc, passages, tokenizer, config)
    counts = [tokenizer.count(p.text) for p in passages[:-1]]
    assert max(counts) <= 32
    assert min(counts) >= 16, "a better boundary in the second half of the window was skipped"


def test_model_limit_caps_a_larger_config(tokenizer: PassageTokenizer) -> None:
    doc = Extracted(prose(200), "text")
    passages = chunk_document(doc, tokenizer, ChunkConfig(max_tokens=10_000))
    assert len(passages) > 1
    assert_valid(doc, passages, tokenizer, ChunkConfig(max_tokens=None))
    assert max(tokenizer.count(p.text) for p in passages) > 200


def overlaps(passages: list[Passage]) -> Iterator[str]:
    for prev, nxt in zip(passages, passages[1:], strict=False):
        yield prev.text[nxt.start - prev.start :] if nxt.start < prev.end else ""


def test_consecutive_passages_overlap_at_a_word_start(tokenizer: PassageTokenizer) -> None:
    doc = Extracted(prose(120), "text")
    passages = chunk_document(doc, tokenizer, ChunkConfig(overlap_tokens=32))
    assert len(passages) >= 3
    for shared, p in zip(overlaps(passages), passages[1:], strict=False):
        pieces = tokenizer.count(shared) - tokenizer.n_special
        assert 16 <= pieces <= 48, (pieces, shared)
        assert doc.text[p.start - 1].isspace()
    without = chunk_document(doc, tokenizer, ChunkConfig(overlap_tokens=0))
    assert all(shared == "" for shared in overlaps(without))
    assert len(without) < len(passages)


def test_overlap_prefers_a_sentence_start(tokenizer: PassageTokenizer) -> None:
    doc = Extracted(prose(120), "text")
    passages = chunk_document(doc, tokenizer, ChunkConfig(max_tokens=128, overlap_tokens=16))
    starts = [p.text[:12] for p in passages[1:]]
    assert sum(any(s.startswith(x[:12]) for x in SENTENCES) for s in starts) >= len(starts) // 2


def test_pages_are_hard_boundaries(tokenizer: PassageTokenizer) -> None:
    pages = [prose(3), prose(40, seed=2), "", prose(2, seed=4)]
    text, page_starts = "", []
    for page in pages:
        page_starts.append(len(text))
        text += page + "\n\f"
    doc = Extracted(text, "pdf", page_starts=tuple(page_starts))
    config = ChunkConfig(max_tokens=64)
    passages = chunk_document(doc, tokenizer, config)
    assert_valid(doc, passages, tokenizer, config)
    assert passages[0].text == pages[0] and passages[0].page == 1
    assert passages[-1].text == pages[3] and passages[-1].page == 4
    assert {p.page for p in passages} == {1, 2, 4}


@pytest.mark.parametrize(
    "text",
    [
        "中文字符没有空格" * 300,  # CJK: every character is a word piece, no spaces to cut at
        "ab-" * 1500,  # punctuation splits it into thousands of pieces, with no whitespace
        ("x" * 101 + " ") * 40,  # each word is one [UNK]; any piece of one is dozens
        "y" * 5000,  # a single [UNK] word: short in pieces, long in characters
        "🎉👨‍👩‍👧" * 400,
        "ab\udc80cd " * 200,  # a lone surrogate, as surrogateescape decoding leaves one
    ],
)
def test_text_without_word_breaks_still_fits(tokenizer: PassageTokenizer, text: str) -> None:
    doc = Extracted(text, "text")
    config = ChunkConfig(max_tokens=48, overlap_tokens=8)
    assert_valid(doc, chunk_document(doc, tokenizer, config), tokenizer, config)


def test_passage_cut_mid_word_is_recounted_and_shrunk(tokenizer: PassageTokenizer) -> None:
    # A 70-letter word is many ## pieces. A passage that opens inside it re-tokenizes its
    # first piece as a word start, which here takes more pieces than the document-wide
    # tokenization said: trusting those offsets alone gives a 13-piece passage.
    word = "ihddfhhdgfijedabifcideeeifchjbbjijgccegdjahgfgiciaibebebcjbhdgggcfhcjh"
    doc = Extracted(word, "text")
    config = ChunkConfig(max_tokens=12, overlap_tokens=0)
    passages = chunk_document(doc, tokenizer, config)
    assert_valid(doc, passages, tokenizer, config)
    assert any(doc.text[p.start - 1].isalpha() for p in passages[1:])


def test_tokenizes_each_document_about_once(tokenizer: PassageTokenizer) -> None:
    seen: list[int] = []

    class Counting(PassageTokenizer):
        def offsets(self, text: str) -> list[tuple[int, int]]:
            seen.append(len(text))
            return super().offsets(text)

        def count(self, text: str) -> int:
            seen.append(len(text))
            return super().count(text)

    counting = Counting.__new__(Counting)
    counting.__dict__.update(tokenizer.__dict__)
    doc = Extracted(prose(2000), "text")
    passages = chunk_document(doc, counting, ChunkConfig())
    assert len(passages) > 50
    assert sum(seen) < 3 * len(doc.text)


def test_too_small_a_budget_is_refused(tokenizer: PassageTokenizer) -> None:
    with pytest.raises(ValueError):
        chunk_document(Extracted("text", "text"), tokenizer, ChunkConfig(max_tokens=4))


def _one_line(n_chars: int) -> str:
    words = "the river flows past an old mill and every spring the keeper lit a lamp".split()
    line = " ".join(words[(i * 5) % len(words)] for i in range(4000)) + " "
    return (line * (n_chars // len(line) + 1))[:n_chars]


def test_a_30_mb_line_without_breaks_is_chunked_in_seconds(tokenizer: PassageTokenizer) -> None:
    import time

    text = _one_line(30 * 1024 * 1024)
    started = time.monotonic()
    passages = chunk_document(Extracted(text, "text"), tokenizer, ChunkConfig())
    seconds = time.monotonic() - started
    # Linear: 0.4 s a MB on a quiet machine, 21 to 25 s for the 30 MB with both cores busy;
    # the old one-string tokenizer call grew faster than the text (1.8 s for 2 MB), and its
    # offsets for 30 MB would take about a gigabyte. The bound is the per-file time limit.
    assert seconds < ExtractConfig().timeout_seconds, f"{seconds:.1f} s"
    assert len(passages) > 30 * 1024 * 1024 // 1200
    assert passages[0].start == 0 and passages[-1].end == len(text.rstrip())
    for before, after in zip(passages, passages[1:], strict=False):
        assert not text[before.end : after.start].strip()  # nothing but spaces skipped
    for passage in passages[:: max(1, len(passages) // 200)]:
        assert tokenizer.count(passage.text) <= 128


def test_blocks_cut_long_pages_where_a_reader_would(tokenizer: PassageTokenizer) -> None:
    from engine.ingest import chunk

    text = ("A sentence that ends here. " * 20_000).strip()  # 540,000 characters
    cuts = list(chunk._blocks(text, 0, len(text)))
    assert len(cuts) == -(-len(text) // chunk.BLOCK_CHARS) or len(cuts) > 1
    for a, b in cuts:
        assert b - a <= chunk.BLOCK_CHARS
        assert b == len(text) or text[b - 1] == "."  # each block ends at a sentence end
    assert [a for a, _ in cuts[1:]] == [b for _, b in cuts[:-1]]


def test_chunking_stops_at_its_deadline(tokenizer: PassageTokenizer) -> None:
    import time

    from engine.ingest.chunk import ChunkingTimeoutError

    text = _one_line(2 * 1024 * 1024)
    with pytest.raises(ChunkingTimeoutError, match="ran out of time"):
        chunk_document(Extracted(text, "text"), tokenizer, ChunkConfig(),
                       deadline=time.monotonic())


def _opens_sentence_by_looking_back(text: str, a: int, at: int) -> bool:
    """Whether the word at `at` opens a sentence, as the chunker once worked it out for each
    word start, looking back from it (no further than `a`, the page's first character)."""
    i = at - 1
    while i > a and text[i].isspace():
        i -= 1
    if text[i + 1 : at].count("\n") >= 2 or "\u2029" in text[i + 1 : at]:
        return True
    if i == at - 1:
        return text[i] in "。！？"
    while i > a and text[i] in "\"'”’)]":
        i -= 1
    return text[i] in ".!?…。！？"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(
    ["word", "Word", ".", "!", "?", "…", "。", "！", "？", '"', "'", "”", "’", ")", "]", " ",
     "  ", "\n", "\n\n", "\n \n", "\t", "\u2029", "\u00a0", "\u3000", "x.y", "e.g.", "(a)"]),
    min_size=1, max_size=40))
def test_sentence_starts_in_one_pass_are_those_found_looking_back(parts: list[str]) -> None:
    from engine.ingest.chunk import _AFTER_CJK_STOP, _SENTENCE_START, _WORD_START

    text = "".join(parts)
    a, b = 0, len(text)
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    found = {m.end() for pattern in (_SENTENCE_START, _AFTER_CJK_STOP)
             for m in pattern.finditer(text, a, b)}
    for m in _WORD_START.finditer(text, a + 1, b):
        at = m.start()
        assert (at in found) == _opens_sentence_by_looking_back(text, a, at), (text, at)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(
    ["word", "Word", ".", "!", "。", "？", '"', ")", " ", "  ", "\n", "\n\n", "\t", "\u2029",
     "\u00a0", "x.y", "e.g."]), min_size=1, max_size=40), st.data())
def test_the_overlap_opens_at_the_word_start_a_scan_would_choose(
    parts: list[str], data: st.DataObject
) -> None:
    """The bisecting search for where the next passage opens picks what scanning every word
    start in the window did (the chunker's loop before)."""
    from engine.ingest.chunk import (
        _AFTER_CJK_STOP,
        _SENTENCE_START,
        _WORD_START,
        _nearest_word_start,
    )

    text = "".join(parts)
    sentences = sorted({m.end() for pattern in (_SENTENCE_START, _AFTER_CJK_STOP)
                        for m in pattern.finditer(text, 0, len(text))})
    lo = data.draw(st.integers(1, len(text)))
    hi = data.draw(st.integers(lo - 1, len(text)))
    target = data.draw(st.integers(0, len(text)))
    best: dict[bool, int] = {}
    for m in _WORD_START.finditer(text, lo, hi + 1):
        start, sentence = m.start(), m.start() in sentences
        if sentence not in best or abs(start - target) < abs(best[sentence] - target):
            best[sentence] = start
    scanned = best.get(True, best.get(False, target))
    assert _nearest_word_start(text, sentences, lo, hi, target) == scanned, (text, lo, hi, target)


def test_of_two_word_starts_as_near_the_overlap_takes_the_earlier() -> None:
    from engine.ingest.chunk import _nearest_word_start

    assert _nearest_word_start("a b c d", [], 1, 6, 3) == 2
    assert _nearest_word_start("a. b c. d", [3, 8], 1, 8, 5) == 3  # sentence starts first
    assert _nearest_word_start("a. b c. d", [3, 8], 4, 8, 5) == 8
    assert _nearest_word_start("abcdefg", [], 1, 6, 3) == 3  # no word start: the target
