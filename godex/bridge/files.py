"""``input_file`` parts → text, for providers whose chat API takes no files.

PDF, plain text, Markdown and code reach the model as their text (PDF text extracted with
pypdf); any other type is a 400 naming it. A file is never dropped silently: the caller adds a
diagnostic for each one it turned into text.
"""

from __future__ import annotations

import base64
import binascii
import io
import mimetypes
import re
from dataclasses import dataclass
from typing import Any

from godex.errors import InvalidRequestError

_DATA_URL = re.compile(r"^data:([^;,]*)(;[^,]*)?,", re.S)
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/x-yaml",
        "application/yaml",
        "application/toml",
        "application/javascript",
        "application/x-javascript",
        "application/typescript",
        "application/x-sh",
        "application/x-python",
        "application/sql",
        "application/x-httpd-php",
    }
)
# Code and text files whose extension Python's table does not know or maps elsewhere.
_TEXT_EXTENSIONS = frozenset(
    [
        "txt",
        "md",
        "markdown",
        "rst",
        "adoc",
        "org",
        "py",
        "pyi",
        "js",
        "mjs",
        "cjs",
        "jsx",
        "ts",
        "tsx",
        "json",
        "jsonl",
        "yaml",
        "yml",
        "toml",
        "ini",
        "cfg",
        "conf",
        "env",
        "c",
        "h",
        "cc",
        "cpp",
        "cxx",
        "hpp",
        "hh",
        "cs",
        "java",
        "kt",
        "kts",
        "scala",
        "go",
        "rs",
        "rb",
        "php",
        "pl",
        "pm",
        "lua",
        "r",
        "swift",
        "m",
        "mm",
        "sh",
        "bash",
        "zsh",
        "fish",
        "ps1",
        "bat",
        "sql",
        "graphql",
        "proto",
        "css",
        "scss",
        "less",
        "html",
        "htm",
        "xml",
        "svg",
        "vue",
        "svelte",
        "csv",
        "tsv",
        "log",
        "diff",
        "patch",
        "tex",
        "gradle",
        "make",
        "mk",
        "cmake",
        "docker",
        "tf",
        "hcl",
        "nix",
        "zig",
        "dart",
        "ex",
        "exs",
        "erl",
        "hs",
        "ml",
        "fs",
        "clj",
        "el",
        "vim",
    ]
)
PDF = "application/pdf"


@dataclass(frozen=True, slots=True)
class FileText:
    filename: str
    media_type: str
    text: str

    def as_prompt(self) -> str:
        return f"[File: {self.filename} ({self.media_type})]\n{self.text}"


def _extension(filename: str) -> str:
    base = filename.rsplit("/", 1)[-1].lower()
    if base in ("dockerfile", "makefile"):
        return base.removesuffix("file") or base
    return base.rsplit(".", 1)[-1] if "." in base else ""


def media_type_of(declared: str | None, filename: str) -> str | None:
    """The file's type: the declared one when specific, else guessed from the name."""
    if declared and declared not in ("application/octet-stream", "binary/octet-stream"):
        return declared.lower()
    ext = _extension(filename)
    if ext == "pdf":
        return PDF
    if ext in _TEXT_EXTENSIONS:
        return "text/markdown" if ext in ("md", "markdown") else "text/plain"
    guessed, _ = mimetypes.guess_type(filename)
    return guessed


def readable(media_type: str | None) -> bool:
    return media_type is not None and (
        media_type == PDF or media_type.startswith("text/") or media_type in _TEXT_TYPES
    )


def decode_file_data(file_data: str, where: str) -> tuple[str | None, bytes]:
    """(declared type, bytes) of ``file_data``: a data URL or bare base64."""
    declared: str | None = None
    payload = file_data
    m = _DATA_URL.match(file_data)
    if m:
        declared = m.group(1) or None
        payload = file_data[m.end() :]
        if not (m.group(2) or "").endswith("base64"):
            from urllib.parse import unquote_to_bytes

            return declared, unquote_to_bytes(payload)
    try:
        return declared, base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError(
            "Invalid 'file_data': expected base64 data or a base64 data URL.",
            param=where,
            wire_code="invalid_value",
        ) from exc


def extract_text(data: bytes, media_type: str | None, filename: str, where: str) -> FileText:
    """The text of a file of a readable type; a 400 naming any other type."""
    if media_type is None:
        # No type and no telling name: text if it decodes as such.
        text = _as_text(data)
        if text is None:
            raise unreadable("an unknown type", filename, where)
        return FileText(filename, "text/plain", text)
    if not readable(media_type):
        raise unreadable(f"type '{media_type}'", filename, where)
    if media_type == PDF:
        return FileText(filename, PDF, pdf_text(data, filename, where))
    text = _as_text(data)
    if text is None:
        raise InvalidRequestError(
            f"input_file '{filename}' is declared as {media_type} but is not UTF-8 text.",
            code="bridge.unreadable_file",
            param=where,
            wire_code="invalid_value",
        )
    return FileText(filename, media_type, text)


def unreadable(what: str, filename: str, where: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"input_file '{filename}' has {what}, which this gateway cannot read for a model "
        "without file input; send a PDF, plain text, Markdown or code file.",
        code="bridge.unsupported_file_type",
        param=where,
        wire_code="invalid_value",
    )


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def pdf_text(data: bytes, filename: str, where: str) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # a damaged or hostile PDF breaks pypdf in many ways: all are a 400
        raise InvalidRequestError(
            f"input_file '{filename}' is not a readable PDF: {exc}",
            code="bridge.unreadable_file",
            param=where,
            wire_code="invalid_value",
        ) from exc
    return "\n\n".join(p.strip() for p in pages if p.strip())


def file_part_text(part: dict[str, Any], where: str) -> FileText:
    """The text of an ``input_file`` part that carries its data (``file_data``)."""
    filename = str(part.get("filename") or "file")
    data = part.get("file_data")
    if isinstance(data, str) and data:
        declared, raw = decode_file_data(data, f"{where}.file_data")
        return extract_text(raw, media_type_of(declared, filename), filename, where)
    if isinstance(part.get("file_url"), str):
        raise InvalidRequestError(
            "input_file 'file_url' is not fetched by this gateway (server.fetch_file_urls is "
            "off); send the file as 'file_data'.",
            code="bridge.file_url_disabled",
            param=f"{where}.file_url",
        )
    if isinstance(part.get("file_id"), str):
        raise InvalidRequestError(
            f"input_file 'file_id' ({part['file_id']}) needs the Files API, which this gateway "
            "does not serve; send the file as 'file_data'.",
            code="bridge.file_id_unsupported",
            param=f"{where}.file_id",
        )
    raise InvalidRequestError(
        "input_file needs one of 'file_data', 'file_url' or 'file_id'.",
        param=where,
        wire_code="missing_required_parameter",
    )
