"""Plain text, Markdown, reStructuredText and source code: decode any encoding, find headings."""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from charset_normalizer import from_bytes

from engine.extract.base import Extracted, Heading, UnsupportedFile, clean_text, register

log = logging.getLogger(__name__)

SNIFF_BYTES = 8192

# UTF-32 first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# charset_normalizer breaks exact ties by its own order, which puts cp1250 before cp1252
# and turns "crème" into "crčme"; on a tie we prefer the common Western legacy encodings.
_PREFERRED_ON_TIE = ("cp1252", "latin_1", "iso8859_15")
# Share of control characters above which decoded "text" is really binary data.
_MAX_CONTROL_SHARE = 0.01
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
# Encodings tried on text with NULs in no simple pattern, and their code unit sizes; the
# guess looks at this much of the file.
_WIDE = {"utf_16_le": 2, "utf_16_be": 2, "utf_32_le": 4, "utf_32_be": 4}
_GUESS_BYTES = 64 * 1024


def looks_binary(head: bytes) -> bool:
    """True if the first bytes of a file hold a NUL that neither a UTF-16/32 byte-order mark
    nor the NUL pattern of UTF-16/32 text without one explains."""
    head = head[:SNIFF_BYTES]
    if b"\x00" not in head or head.startswith(tuple(bom for bom, _ in _BOMS)):
        return False
    return wide_encoding(head) is None


def wide_encoding(head: bytes) -> str | None:
    """UTF-32 or UTF-16 (and which byte order) if NULs fall where that encoding puts them.

    Text mostly below U+0100 (any Latin script) has a NUL in every high byte: three of each
    four bytes in UTF-32, every other byte in UTF-16. Binary data has NULs anywhere.
    """
    n = len(head) - len(head) % 4
    if n < 16:
        return None
    zeros = [head[i:n:4].count(0) for i in range(4)]
    quarter = n // 4
    if zeros[3] == quarter and zeros[2] >= 0.9 * quarter and zeros[0] < 0.1 * quarter:
        return "utf-32-le"
    if zeros[0] == quarter and zeros[1] >= 0.9 * quarter and zeros[3] < 0.1 * quarter:
        return "utf-32-be"
    odd, even = zeros[1] + zeros[3], zeros[0] + zeros[2]
    if odd >= 0.6 * 2 * quarter and even < 0.05 * 2 * quarter:
        return "utf-16-le"
    if even >= 0.6 * 2 * quarter and odd < 0.05 * 2 * quarter:
        return "utf-16-be"
    return None


def _decode_wide(data: bytes) -> str | None:
    """The text of UTF-16/32 without a byte-order mark, or None if it does not decode as such."""
    encoding = wide_encoding(data[:SNIFF_BYTES])
    if encoding is None:
        return None
    unit = 4 if encoding.startswith("utf-32") else 2
    try:
        # A file cut short mid-character loses only that character.
        return data[: len(data) - len(data) % unit].decode(encoding)
    except UnicodeDecodeError:
        return None


def _guess_wide(data: bytes) -> str | None:
    """UTF-16/32 text whose NULs fit no simple pattern (CJK text: U+4E00 is 00 4E)."""
    best = from_bytes(data[:_GUESS_BYTES], cp_isolation=list(_WIDE)).best()
    if best is None or best.encoding not in _WIDE:
        return None
    unit = _WIDE[best.encoding]
    try:
        return data[: len(data) - len(data) % unit].decode(best.encoding)
    except UnicodeDecodeError:
        return None


def _mostly_control(text: str) -> bool:
    sample = text[:SNIFF_BYTES]
    return bool(sample) and len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample)


def decode_text(data: bytes) -> str:
    """Decode bytes of unknown encoding; UnsupportedFile("binary file") if they are not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if b"\x00" in data[:SNIFF_BYTES]:
        # UTF-16 or UTF-32 without a mark (by where its NULs fall, else as charset_normalizer
        # judges it), or binary.
        wide = _decode_wide(data) or _guess_wide(data)
        if wide is None or _mostly_control(wide):
            raise UnsupportedFile("binary file")
        return wide
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data)
    if _mostly_control(text):
        raise UnsupportedFile("binary file")
    return text


def _decode_legacy(data: bytes) -> str:
    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise UnsupportedFile("binary file")
    for match in matches:
        tied = match.chaos == best.chaos and match.coherence == best.coherence
        if tied and any(enc in _PREFERRED_ON_TIE for enc in match.could_be_from_charset):
            best = match
            break
    log.debug("decoded as %s", best.encoding)
    return str(best)


def read_text(path: Path) -> str:
    return clean_text(decode_text(path.read_bytes()))


# --- Markdown -------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n(?:---|\.\.\.)\n", re.DOTALL)
_NOT_SETEXT_TITLE = re.compile(r"^ {0,3}(?:[-*+>]|\d+[.)]|#|\||(?:`{3,}|~{3,}))")


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(offset, line) for each line of text."""
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


def markdown_headings(text: str) -> list[Heading]:
    headings: list[Heading] = []
    fence: str | None = None
    previous: tuple[int, str] | None = None  # the last line, if it could be a setext title
    front_matter = _FRONT_MATTER.match(text)
    skip_to = front_matter.end() if front_matter else 0
    for offset, line in _lines(text):
        if offset < skip_to:
            continue
        fence_match = _FENCE.match(line)
        if fence is not None:
            if fence_match and fence_match.group(1)[0] == fence[0]:
                fence = None
            continue
        if fence_match:
            fence, previous = fence_match.group(1), None
            continue
        atx = _ATX.match(line)
        setext = _SETEXT.match(line)
        if atx and (atx.group(2) or "").strip():
            headings.append(Heading(offset, len(atx.group(1)), atx.group(2).strip()))
            previous = None
        elif setext and previous is not None:
            level = 1 if setext.group(1)[0] == "=" else 2
            headings.append(Heading(previous[0], level, previous[1].strip()))
            previous = None
        elif line.strip() and not line.startswith(("    ", "\t")):
            previous = None if _NOT_SETEXT_TITLE.match(line) else (offset, line)
        else:
            previous = None
    return headings


# --- reStructuredText -----------------------------------------------------------------

_RST_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1+$")


def rst_headings(text: str) -> list[Heading]:
    """Titles underlined (and maybe overlined) with punctuation; levels by order of first use."""
    lines = list(_lines(text))
    styles: list[tuple[str, bool]] = []
    headings: list[Heading] = []
    for i in range(len(lines) - 1):
        offset, title = lines[i]
        under = lines[i + 1][1].rstrip()
        if not title.strip() or title[0].isspace() or _RST_ADORNMENT.match(title.rstrip()):
            continue
        if not _RST_ADORNMENT.match(under) or len(under) < len(title.strip()):
            continue
        over = lines[i - 1][1].rstrip() if i > 0 else ""
        overlined = over == under
        style = (under[0], overlined)
        if style not in styles:
            styles.append(style)
        start = lines[i - 1][0] if overlined else offset
        headings.append(Heading(start, styles.index(style) + 1, title.strip()))
    return headings


# --- source code ----------------------------------------------------------------------


def _pattern_headings(pattern: str, flags: int = 0) -> Callable[[str], list[Heading]]:
    """Headings at lines matching `pattern` (group "title" is the title, level 1)."""
    regex = re.compile(pattern, re.MULTILINE | flags)

    def find(text: str) -> list[Heading]:
        return [Heading(m.start(), 1, m.group("title").strip(" \t(")) for m in regex.finditer(text)]

    return find


_CODE_FAMILIES: dict[tuple[str, ...], str] = {
    (".py", ".pyi", ".pyw"): r"^(?P<title>(?:async[ \t]+)?(?:def|class)[ \t]+\w+)",
    (".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".mts", ".cts"): (
        r"^(?:export[ \t]+)?(?:default[ \t]+)?(?:declare[ \t]+)?(?:abstract[ \t]+)?"
        r"(?P<title>(?:async[ \t]+)?(?:function\*?|class|interface|enum|type)[ \t]+[\w$]+)"
    ),
    (".java", ".cs", ".kt", ".kts", ".scala", ".swift", ".dart", ".groovy"): (
        r"^(?:(?:public|private|protected|internal|abstract|final|static|sealed|data|open"
        r"|partial|case|export)[ \t]+)*"
        r"(?P<title>(?:class|interface|enum|record|object|struct|trait|fun|func|def|protocol"
        r"|extension)[ \t]+\w+)"
    ),
    (".c", ".h", ".cpp", ".hpp", ".cc", ".cxx", ".hh", ".hxx", ".m", ".mm"): (
        r"^(?!(?:if|for|while|switch|return|else|do|case|typedef|goto)\b)"
        r"(?P<title>(?:(?:class|struct|namespace|enum|union)[ \t]+\w+(?=[^;\n]*$)"
        r"|[A-Za-z_][\w:<>*&, \t]*[ \t*&]~?[A-Za-z_][\w:]*[ \t]*\((?=[^;\n]*$)"
        r"|@(?:interface|implementation|protocol)[ \t]+\w+|function[ \t].*))"
    ),
    (".go",): (
        r"^(?P<title>func[ \t]+(?:\([^)]*\)[ \t]*)?\w+"
        r"|type[ \t]+\w+[ \t]+(?:struct|interface))"
    ),
    (".rs",): (
        r"^(?:pub(?:\([\w: ]+\))?[ \t]+)?(?:async[ \t]+)?(?:unsafe[ \t]+)?"
        r"(?P<title>(?:fn|struct|enum|trait|impl|mod|macro_rules!)[ \t]*[\w<]+)"
    ),
    (".rb", ".rake"): r"^(?P<title>(?:class|module|def)[ \t]+[\w:.]+)",
    (".php",): (
        r"^(?:(?:abstract|final)[ \t]+)?"
        r"(?P<title>(?:class|interface|trait|function)[ \t]+\w+)"
    ),
    (".sh", ".bash", ".zsh", ".ksh", ".fish"): (
        r"^(?P<title>function[ \t]+[\w-]+|[\w-]+[ \t]*\(\))"
    ),
    (".lua",): r"^(?:local[ \t]+)?(?P<title>function[ \t]+[\w.:]+)",
    (".pl", ".pm"): r"^(?P<title>(?:sub|package)[ \t]+[\w:]+)",
    (".ex", ".exs"): r"^(?P<title>(?:defmodule|defprotocol|defimpl)[ \t]+[\w.]+)",
    (".clj", ".cljs", ".cljc", ".edn"): (
        r"^\((?P<title>(?:defn-?|defmacro|defprotocol|defrecord|defmulti|ns)[ \t]+\S+)"
    ),
    (".jl",): r"^(?P<title>(?:function|macro|module|(?:mutable[ \t]+)?struct)[ \t]+\w+)",
    (".r",): r"^(?P<title>[\w.]+)[ \t]*(?:<-|=)[ \t]*function\b",
    (".ml", ".mli"): r"^(?P<title>(?:let(?:[ \t]+rec)?|module|type)[ \t]+\w+)",
    (".hs",): r"^(?P<title>(?:data|newtype|class|instance|type)[ \t]+\w+|\w+)[ \t]*::",
    (".sql",): (
        r"^(?P<title>create[ \t]+(?:or[ \t]+replace[ \t]+)?(?:temp(?:orary)?[ \t]+)?"
        r"(?:table|view|function|procedure|index|trigger)[ \t]+[\w.\"`]+)"
    ),
    (".toml", ".ini", ".cfg", ".conf", ".properties"): r"^\[+(?P<title>[^\]\n]+)\]+[ \t]*$",
}

_TEX_HEADINGS = re.compile(
    r"^[ \t]*\\(?P<cmd>part|chapter|section|subsection|subsubsection)\*?\{(?P<title>[^}\n]*)\}",
    re.MULTILINE,
)
_TEX_LEVELS = {"part": 1, "chapter": 1, "section": 2, "subsection": 3, "subsubsection": 4}


def tex_headings(text: str) -> list[Heading]:
    return [
        Heading(m.start(), _TEX_LEVELS[m.group("cmd")], m.group("title").strip())
        for m in _TEX_HEADINGS.finditer(text)
    ]


_PLAIN_SUFFIXES = tuple(
    """
    .txt .text .log .csv .tsv .json .jsonl .ndjson .yaml .yml .xml .org .adoc .asciidoc
    .tf .gradle .cmake .mk .dockerfile .bib .srt .vtt .nfo .diff .patch .css .scss .sass
    .less .vue .svelte .erl .hrl .fs .fsx .vb .ps1 .bat .cmd .nim .zig .v .sv .vhd .asm .s
    .proto .graphql .gql .cls .sty .rkt .scm .lisp .el
    """.split()
)


HeadingFinder = Callable[[str], list[Heading]]


def _register_family(suffixes: tuple[str, ...], kind: str, find: HeadingFinder) -> None:
    @register(*suffixes)
    def extract(path: Path) -> Extracted:
        text = read_text(path)
        return Extracted(text, kind, headings=tuple(find(text)))


def _no_headings(text: str) -> list[Heading]:
    return []


_register_family((".md", ".markdown", ".mdown", ".mkd"), "markdown", markdown_headings)
_register_family((".rst", ".rest"), "rst", rst_headings)
_register_family((".tex", ".latex", ".ltx"), "code", tex_headings)
_register_family(_PLAIN_SUFFIXES, "text", _no_headings)
for _suffixes, _pattern in _CODE_FAMILIES.items():
    _flags = re.IGNORECASE if ".sql" in _suffixes else 0
    _register_family(_suffixes, "code", _pattern_headings(_pattern, _flags))


@register(mimes=("text/plain",))
def extract_plain(path: Path) -> Extracted:
    """Text of a file whose suffix says nothing (README, Makefile) or says text/plain."""
    return Extracted(read_text(path), "text")
