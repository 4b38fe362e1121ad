"""Builds a folder of hostile files in a temporary folder, each with what Dowse should do with it.

Every kind is a function that writes one or more entries under the root and returns each
entry's path with its expectation. A kind this machine cannot build (a device node without
root, a socket path too long) returns nothing and is reported as skipped by the suite.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.documents import write_docx, write_html, write_md, write_pdf, write_txt

MB = 1024 * 1024
FILLER = (
    "This paragraph is ordinary filler so that the marker word is not alone in its file. "
    "It says nothing in particular about anything at all."
)


@dataclass(frozen=True)
class Expect:
    """What Dowse should make of one entry."""

    state: str  # indexed | skipped | failed | absent (neither listed nor indexed) | either
    reason: str = ""  # a regular expression the recorded reason must match
    marker: str = ""  # a word only this file holds, findable by keyword once indexed


@dataclass(frozen=True)
class Kind:
    name: str
    what: str  # one line: what the entry is
    build: Callable[[Path, str], list[tuple[Path, Expect]]]


def _marker(index: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return f"xqk{letters[index // 26]}{letters[index % 26]}"


def _text(marker: str) -> str:
    return f"{FILLER} The marker word {marker} lives here and nowhere else."


def _named(name: str | bytes, data: bytes | None = None) -> Callable[[Path, str], list]:
    """A text file under an odd name, holding its marker."""

    def build(root: Path, marker: str) -> list[tuple[Path, Expect]]:
        raw = os.fsencode(root) + b"/" + (name if isinstance(name, bytes) else name.encode())
        with open(raw, "wb") as handle:
            handle.write(data if data is not None else _text(marker).encode())
        return [(Path(os.fsdecode(raw)), Expect("indexed", marker=marker))]

    return build


def _encoded(name: str, encoding: str, text: str) -> Callable[[Path, str], list]:
    def build(root: Path, marker: str) -> list[tuple[Path, Expect]]:
        path = root / name
        path.write_bytes(f"{text} {marker} {text}".encode(encoding))
        return [(path, Expect("indexed", marker=marker))]

    return build


def _bytes(name: str, data: bytes, expect: Expect) -> Callable[[Path, str], list]:
    def build(root: Path, marker: str) -> list[tuple[Path, Expect]]:
        (root / name).write_bytes(data)
        return [(root / name, expect)]

    return build


def _sparse(name: str, size: int, expect: Expect) -> Callable[[Path, str], list]:
    def build(root: Path, marker: str) -> list[tuple[Path, Expect]]:
        path = root / name
        with open(path, "wb") as handle:
            handle.write(b"a disk image begins here\n")
            handle.truncate(size)
        return [(path, expect)]

    return build


def _line_less(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    """30 MB with no line break and no space after the marker: a hex dump, a minified blob.
    Read and hashed within the limits, then skipped as machine-written (ingest/generated.py)."""
    path = root / "line-less-30mb.txt"
    block = os.urandom(512 * 1024).hex().encode()  # 1 MB of hex digits
    with open(path, "wb") as handle:
        handle.write(f"{marker} ".encode())
        for _ in range(30):
            handle.write(block)
    return [(path, Expect("skipped", r"generated file: minified or machine-written"))]


def line_less_prose(path: Path, marker: str, size: int) -> None:
    """`size` bytes of prose on one line: a CSV export or a log that never breaks a line."""
    words = ("the river mill harbour lamp keeper boat spring dusk anchor quiet old "
             "flows lit past every with fishing at of and a").split()
    line = " ".join(words[(i * 7) % len(words)] for i in range(2000)).encode() + b" "
    with open(path, "wb") as handle:
        handle.write(f"{marker} ".encode())
        while handle.tell() < size:
            handle.write(line)


def _line_less_prose(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "line-less-prose.txt"
    line_less_prose(path, marker, 300 * 1024)
    return [(path, Expect("indexed", marker=marker))]


def _fifo(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    os.mkfifo(root / "named-pipe.txt")
    return [(root / "named-pipe.txt", Expect("skipped", r"not a regular file: a named pipe"))]


def _unix_socket(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    here = os.getcwd()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.chdir(root)  # a relative name: the full tmp path can overflow sun_path
        sock.bind("unix-socket.txt")
    except OSError:
        return []
    finally:
        os.chdir(here)
        sock.close()
    return [(root / "unix-socket.txt", Expect("skipped", r"not a regular file: a socket"))]


def _char_device(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    """A copy of /dev/zero: a reader that opened it would read for ever."""
    path = root / "endless-zero.txt"
    try:
        os.mknod(path, stat.S_IFCHR | 0o644, os.makedev(1, 5))
    except (OSError, AttributeError):
        return []  # needs root (CAP_MKNOD)
    return [(path, Expect("skipped", r"not a regular file: a character device"))]


def _symlink_loop(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    os.symlink("loop-b.txt", root / "loop-a.txt")
    os.symlink("loop-a.txt", root / "loop-b.txt")
    loop = Expect("skipped", r"symbolic link loop")
    return [(root / "loop-a.txt", loop), (root / "loop-b.txt", loop)]


def _dangling(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    os.symlink("no-such-target.txt", root / "dangling-link.txt")
    return [(root / "dangling-link.txt", Expect("skipped", r"broken symbolic link"))]


def _outside_links(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    """Links out of the pinned folder, to a file and to /dev/zero: never followed."""
    outside = root.parent / "outside-the-pinned-folder.txt"
    outside.write_text(_text(marker))
    os.symlink(outside, root / "link-out.txt")
    os.symlink("/dev/zero", root / "link-to-dev-zero.txt")
    return [(root / "link-out.txt", Expect("absent", marker=marker)),
            (root / "link-to-dev-zero.txt", Expect("absent"))]


def _unreadable(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "unreadable.txt"
    path.write_text(_text(marker))
    path.chmod(0)
    if os.geteuid() == 0:  # root reads it anyway: then it must simply be indexed
        return [(path, Expect("indexed", marker=marker))]
    return [(path, Expect("failed", r"Permission denied"))]


def _hard_links(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    (root / "hardlink-a.txt").write_text(_text(marker))
    os.link(root / "hardlink-a.txt", root / "hardlink-b.txt")
    return [(root / "hardlink-a.txt", Expect("indexed", marker=marker)),
            (root / "hardlink-b.txt", Expect("absent", marker=marker))]


def _zip_bomb_docx(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    """A 300 KB DOCX whose document.xml unpacks to 300 MB."""
    path = root / "zip-bomb.docx"
    zero = b" " * MB
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(b'<?xml version="1.0"?><w:document><w:body><w:p><w:r><w:t>')
            for _ in range(300):
                member.write(zero)
            member.write(b"</w:t></w:r></w:p></w:body></w:document>")
    return [(path, Expect("skipped", r"refused DOCX: it unpacks to 300 MB"))]


def _zip_ratio_pptx(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    """A PPTX with one 64 MB part packed 1000:1: under the total cap, over the ratio cap."""
    path = root / "zip-ratio.pptx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("ppt/slides/slide1.xml", "w") as member:
            for _ in range(64):
                member.write(b"\0" * MB)
    return [(path, Expect("skipped", r"refused PPTX: .* times its packed size"))]


_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">\n' for i in range(1, 10)
    )
    + "]>\n"
)


def _billion_laughs_odt(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "billion-laughs.odt"
    content = _LAUGHS.replace("lolz", "office:document-content") + (
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body>'
        "<office:text><text:p>&lol9;</text:p></office:text></office:body>"
        "</office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    return [(path, Expect("skipped", r"refused ODT: its XML declares entities"))]


def _billion_laughs_epub(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "billion-laughs.epub"
    container = _LAUGHS.replace("lolz", "container") + (
        '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<rootfiles><rootfile full-path="&lol9;"/></rootfiles></container>'
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", container)
    return [(path, Expect("skipped", r"refused EPUB: its XML declares entities"))]


def _billion_laughs_docx(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    """python-docx parses with resolve_entities=False: the entities stay unexpanded."""
    path = root / "billion-laughs.docx"
    write_docx(path, _text(marker))
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    document = parts["word/document.xml"].decode()
    body = document[document.index("<w:document"):]
    laughs = _LAUGHS.replace("lolz", "w:document")
    parts["word/document.xml"] = (laughs + body.replace(marker, f"{marker} &lol9;")).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    # libxml2 itself refuses the amplification: "Maximum entity amplification factor exceeded".
    return [(path, Expect("failed", r"corrupt DOCX: .*amplification"))]


def _billion_laughs_xml(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    """.xml is read as plain text: the entity declarations are words, never expanded."""
    path = root / "billion-laughs.xml"
    path.write_text(_LAUGHS + f"<lolz><note>{marker}</note>&lol9;</lolz>\n")
    return [(path, Expect("indexed", marker=marker))]


def _deep_html(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "deeply-nested.html"
    depth = 100_000
    path.write_text(f"<html><body>{'<div>' * depth}<p>{_text(marker)}</p>{'</div>' * depth}"
                    "</body></html>")
    return [(path, Expect("indexed", marker=marker))]


def _deep_odt(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "deeply-nested.odt"
    depth = 50_000
    content = (
        '<?xml version="1.0"?><office:document-content'
        ' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
        f"<text:p>{'<text:span>' * depth}{marker}{'</text:span>' * depth}</text:p>"
        "</office:text></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    return [(path, Expect("skipped", r"refused ODT: its XML nests more than 256 elements deep"))]


def _truncated_pdf(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    whole = root.parent / "whole.pdf"
    write_pdf(whole, _text(marker))
    data = whole.read_bytes()
    whole.unlink()
    path = root / "truncated.pdf"
    path.write_bytes(data[: len(data) // 2])
    return [(path, Expect("either", r"corrupt PDF"))]


def _growing(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    """Appended to by the suite while Dowse reads it (see GrowingFile)."""
    path = root / "growing.log"
    with open(path, "w") as handle:
        handle.write(f"{marker} begins the log.\n")
        for i in range(2_000):
            handle.write(f"line {i}: the service answered a request in good time\n")
    return [(path, Expect("growing", marker=marker))]


def _empty(suffix: str) -> Callable[[Path, str], list]:
    return _bytes(f"empty{suffix}", b"", Expect("skipped", r"^empty file$"))


def _deep_path(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    folder = root.joinpath(*(["deep"] * 80))
    folder.mkdir(parents=True)
    (folder / "bottom.txt").write_text(_text(marker))
    return [(folder / "bottom.txt", Expect("indexed", marker=marker))]


def _odd_folder(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    """A folder whose own name is not UTF-8, holding an ordinary file."""
    folder = os.fsencode(root) + b"/old-zip-\xc4\xe9\xff"
    os.mkdir(folder)
    path = folder + b"/inside.txt"
    Path(os.fsdecode(path)).write_text(_text(marker))
    return [(Path(os.fsdecode(path)), Expect("indexed", marker=marker))]


def _before_1970(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "from-1901.txt"
    path.write_text(_text(marker))
    os.utime(path, (-2_000_000_000, -2_000_000_000))
    return [(path, Expect("indexed", marker=marker))]


def _future(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "from-2400.txt"
    path.write_text(_text(marker))
    os.utime(path, (13_569_465_600, 13_569_465_600))
    return [(path, Expect("indexed", marker=marker))]


def _broken_utf8(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "mostly-utf8.txt"
    path.write_bytes(_text(marker).encode() + b" caf\xe9 \xff\xfe bytes " + FILLER.encode())
    return [(path, Expect("indexed", marker=marker))]


def _long_word(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "one-long-word.txt"
    path.write_text(f"{marker} " + "z" * (2 * MB))
    return [(path, Expect("skipped", r"generated file"))]


def _too_large(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    path = root / "too-large.log"
    with open(path, "wb") as handle:
        line = b"a real line of a real log that is simply too long to index\n"
        for _ in range(51 * MB // len(line) + 1):
            handle.write(line)
    return [(path, Expect("skipped", r"file too large: 51\.0 MB > 50 MB limit"))]


def _elf_as_md(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    import sys

    data = Path(sys.executable).resolve().read_bytes()[: 256 * 1024]
    (root / "notes.md").write_bytes(data)
    return [(root / "notes.md", Expect("skipped", r"binary file"))]


def _gzip_as_txt(root: Path, marker: str) -> list[tuple[Path, Expect]]:
    import gzip

    (root / "archive.txt").write_bytes(gzip.compress(os.urandom(64 * 1024)))
    return [(root / "archive.txt", Expect("skipped", r"binary file"))]


KINDS: list[Kind] = [
    Kind("non_utf8_name", "a name that is not UTF-8 (Latin-1 bytes from an old zip)",
         _named(b"caf\xe9-\xff-old.txt")),
    Kind("newline_name", "a name with a newline in it", _named("two\nlines.txt")),
    Kind("control_name", "a name with BEL and a terminal escape", _named("bell\x07\x1b[31m.txt")),
    Kind("long_name", "a 250-byte name", _named("n" * 246 + ".txt")),
    Kind("dash_name", "a name that looks like an option", _named("-rf --help.txt")),
    Kind("spaces_name", "a name of spaces", _named("   .txt")),
    Kind("reserved_name", "a name Windows reserves", _named("CON.txt")),
    Kind("odd_folder", "a file in a folder whose name is not UTF-8", _odd_folder),
    Kind("deep_path", "a file 80 folders deep", _deep_path),
    Kind("huge_sparse", "a 60 GB sparse file (a VM image)",
         _sparse("vm-disk.img.txt", 60 * 1024 * MB,
                 Expect("skipped", r"file too large: 61440\.0 MB > 50 MB limit"))),
    Kind("sparse_under_limit", "a 40 MB sparse file with 25 bytes of data",
         _sparse("preallocated.txt", 40 * MB, Expect("skipped", r"sparse file: 40\.0 MB"))),
    Kind("too_large", "a 51 MB log, over the 50 MB limit", _too_large),
    Kind("line_less_30mb", "30 MB of text without one line break", _line_less),
    Kind("line_less_prose", "300 KB of prose without one line break", _line_less_prose),
    Kind("long_word", "a 2 MB word (skipped as machine-written)", _long_word),
    Kind("utf16le_no_bom", "UTF-16-LE text without a byte-order mark",
         _encoded("utf16le-no-bom.txt", "utf-16-le",
                  "The river flows past the old mill every spring.")),
    Kind("utf16be_no_bom", "UTF-16-BE text without a byte-order mark",
         _encoded("utf16be-no-bom.txt", "utf-16-be",
                  "The lighthouse keeper lit the lamp at dusk.")),
    Kind("utf32le_no_bom", "UTF-32-LE text without a byte-order mark",
         _encoded("utf32le-no-bom.txt", "utf-32-le",
                  "A quiet harbour with fishing boats at anchor.")),
    Kind("utf16_cjk_no_bom", "UTF-16-LE Japanese without a byte-order mark",
         _encoded("utf16-japanese.txt", "utf-16-le",
                  "東京は日本の首都であり、世界最大の都市圏の一つです。" * 4)),
    Kind("cp1252", "French in Windows-1252",
         _encoded("french-cp1252.txt", "cp1252",
                  "Le café de la crème brûlée était très apprécié à Noël. " * 3)),
    Kind("cp1251", "Russian in Windows-1251",
         _encoded("russian-cp1251.txt", "cp1251",
                  "Москва является столицей России и крупнейшим городом. " * 3)),
    Kind("shift_jis", "Japanese in Shift-JIS",
         _encoded("japanese-shift-jis.txt", "shift_jis",
                  "東京は日本の首都であり、世界最大の都市圏の一つです。" * 3)),
    Kind("broken_utf8", "UTF-8 with stray invalid bytes", _broken_utf8),
    Kind("empty_docx", "an empty (0-byte) DOCX", _empty(".docx")),
    Kind("empty_pptx", "an empty PPTX", _empty(".pptx")),
    Kind("empty_odt", "an empty ODT", _empty(".odt")),
    Kind("empty_epub", "an empty EPUB", _empty(".epub")),
    Kind("empty_pdf", "an empty PDF", _empty(".pdf")),
    Kind("empty_txt", "an empty text file (indexed, with no passages)",
         _bytes("empty.txt", b"", Expect("indexed"))),
    Kind("fifo", "a named pipe (opening it would block)", _fifo),
    Kind("socket", "a Unix socket", _unix_socket),
    Kind("char_device", "a character device: a copy of /dev/zero", _char_device),
    Kind("symlink_loop", "two symbolic links pointing at each other", _symlink_loop),
    Kind("dangling_symlink", "a symbolic link to nothing", _dangling),
    Kind("links_out", "links out of the folder, one to /dev/zero", _outside_links),
    Kind("hard_links", "two hard links to one file", _hard_links),
    Kind("unreadable", "a file with mode 000", _unreadable),
    Kind("zip_bomb_docx", "a DOCX that unpacks to 300 MB", _zip_bomb_docx),
    Kind("zip_ratio_pptx", "a PPTX part packed 1000:1", _zip_ratio_pptx),
    Kind("billion_laughs_odt", "an ODT whose XML expands entities exponentially",
         _billion_laughs_odt),
    Kind("billion_laughs_epub", "an EPUB whose container.xml does the same",
         _billion_laughs_epub),
    Kind("billion_laughs_docx", "a DOCX whose document.xml does the same", _billion_laughs_docx),
    Kind("billion_laughs_xml", "a .xml file that does the same (read as text)",
         _billion_laughs_xml),
    Kind("deep_html", "HTML nested 100,000 elements deep", _deep_html),
    Kind("deep_odt", "an ODT nested 50,000 elements deep", _deep_odt),
    Kind("truncated_pdf", "a PDF cut off half-way", _truncated_pdf),
    Kind("garbage_pdf", "a PDF header followed by noise",
         _bytes("garbage.pdf", b"%PDF-1.7\n" + os.urandom(64 * 1024),
                Expect("failed", r"corrupt PDF"))),
    Kind("not_a_zip_docx", "a DOCX that is not a zip",
         _bytes("not-a-zip.docx", b"PK\x03\x04 this is not a zip" * 50,
                Expect("failed", r"corrupt DOCX"))),
    Kind("encrypted_docx", "a password-protected DOCX (an OLE2 file)",
         _bytes("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096),
                Expect("failed", r"encrypted DOCX"))),
    Kind("binary_txt", "random bytes named .txt",
         _bytes("random.txt", os.urandom(256 * 1024), Expect("skipped", r"binary file"))),
    Kind("nul_txt", "a megabyte of NUL bytes named .txt",
         _bytes("zeros.txt", bytes(MB), Expect("skipped", r"binary file"))),
    Kind("elf_as_md", "a program named .md", _elf_as_md),
    Kind("gzip_as_txt", "gzip data named .txt", _gzip_as_txt),
    Kind("before_1970", "a file modified in 1906", _before_1970),
    Kind("year_2400", "a file modified in 2400", _future),
    Kind("growing", "a log appended to while it is read", _growing),
]


@dataclass(frozen=True)
class Good:
    """An ordinary file planted beside the hostile ones: findable by a word and by meaning."""

    name: str
    sentence: str
    word: str  # a keyword only this file holds
    query: str  # a query that shares no word with the sentence's topic words


GOOD = [
    Good("garden.txt", "Tomatoes need full sun and regular watering to ripen on the vine.",
         "tomatoes", "growing vegetables in the backyard"),
    Good("astronomy.md", "The telescope observed a distant spiral galaxy through the night.",
         "telescope", "looking at stars and outer space"),
    Good("report.pdf", "Quarterly revenue grew by twelve percent across European markets.",
         "revenue", "company earnings and financial results"),
    Good("recipe.docx", "Knead the bread dough for ten minutes, then let it rise for an hour.",
         "dough", "baking a loaf at home"),
    Good("travel.html", "The night train from Vienna to Venice crosses the Alps before dawn.",
         "Vienna", "a railway journey through the mountains"),
]
_GOOD_BUILDERS = {".txt": write_txt, ".md": write_md, ".pdf": write_pdf, ".docx": write_docx,
                  ".html": write_html}


@dataclass(frozen=True)
class Built:
    entries: dict[str, list[tuple[Path, Expect]]]  # kind name -> its entries
    unbuilt: list[str]  # kinds this machine cannot build
    good: dict[Path, Good]


def build_folder(root: Path) -> Built:
    root.mkdir(parents=True, exist_ok=True)
    entries: dict[str, list[tuple[Path, Expect]]] = {}
    unbuilt: list[str] = []
    for index, kind in enumerate(KINDS):
        made = kind.build(root, _marker(index))
        if made:
            entries[kind.name] = made
        else:
            unbuilt.append(kind.name)
    good: dict[Path, Good] = {}
    for item in GOOD:
        path = root / "good" / item.name
        path.parent.mkdir(exist_ok=True)
        _GOOD_BUILDERS[path.suffix](path, item.sentence)
        good[path] = item
    return Built(entries, unbuilt, good)


def restore_modes(root: Path) -> None:
    """Give the mode-000 file its permissions back, so tmp_path can be removed."""
    with contextlib.suppress(OSError):
        (root / "unreadable.txt").chmod(0o644)
