"""EPUB books read chapter by chapter in spine order, with the chapters' own headings."""

from __future__ import annotations

import logging
import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote, urldefrag

from engine.extract.archive import check_zip, parse_xml
from engine.extract.base import Extracted, ExtractError, TextBuilder, reading, register
from engine.extract.html import decode_html, html_to_extracted

log = logging.getLogger(__name__)

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_XMLENC = "{http://www.w3.org/2001/04/xmlenc#}"
_DOCUMENT_TYPES = frozenset({"application/xhtml+xml", "text/html"})


def _package_path(archive: zipfile.ZipFile) -> str:
    try:
        container = parse_xml(archive.read("META-INF/container.xml"), "EPUB")
    except KeyError:
        raise ExtractError("corrupt EPUB: no META-INF/container.xml") from None
    rootfile = container.find(f".//{_CONTAINER}rootfile")
    full_path = rootfile.get("full-path") if rootfile is not None else None
    if not full_path:
        raise ExtractError("corrupt EPUB: container.xml names no package file")
    return full_path


def _spine_documents(archive: zipfile.ZipFile, opf_path: str) -> list[str]:
    """Archive paths of the book's content documents in reading order."""
    try:
        package = parse_xml(archive.read(opf_path), "EPUB")
    except KeyError:
        raise ExtractError(f"corrupt EPUB: missing package file {opf_path}") from None
    base = posixpath.dirname(opf_path)
    manifest: dict[str, str] = {}
    for item in package.iterfind(f"{_OPF}manifest/{_OPF}item"):
        item_id, href = item.get("id"), item.get("href")
        if item_id and href and item.get("media-type") in _DOCUMENT_TYPES:
            href = unquote(urldefrag(href).url)
            manifest[item_id] = posixpath.normpath(posixpath.join(base, href))
    return [
        manifest[idref]
        for itemref in package.iterfind(f"{_OPF}spine/{_OPF}itemref")
        if (idref := itemref.get("idref")) in manifest
    ]


def _encrypted_paths(archive: zipfile.ZipFile) -> set[str]:
    """Files the book's DRM (or font obfuscation) has encrypted."""
    try:
        encryption = parse_xml(archive.read("META-INF/encryption.xml"), "EPUB")
    except KeyError:
        return set()
    return {
        unquote(uri)
        for reference in encryption.iter(f"{_XMLENC}CipherReference")
        if (uri := reference.get("URI"))
    }


@register(".epub", mimes=("application/epub+zip",))
def extract_epub(path: Path) -> Extracted:
    builder = TextBuilder()
    check_zip(path, "EPUB")
    with reading("EPUB"), zipfile.ZipFile(path) as archive:
        documents = _spine_documents(archive, _package_path(archive))
        if set(documents) & _encrypted_paths(archive):
            raise ExtractError("encrypted EPUB (DRM)")
        names = set(archive.namelist())
        for name in documents:
            if name not in names:
                log.debug("%s: spine names missing %s", path, name)
                continue
            markup = decode_html(archive.read(name))
            builder.add_extracted(html_to_extracted(markup, "epub"))
    return builder.build("epub")
