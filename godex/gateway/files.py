"""``input_file`` parts given by ``file_url``: fetched by the gateway only when the operator
allows it (``server.fetch_file_urls``), then handed to the bridge as ``file_data``.

Off by default: a gateway that fetches URLs its clients name can be pointed at internal hosts.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from godex.bridge.request import ResponsesRequest
from godex.errors import InvalidRequestError

FETCH_TIMEOUT_S = 20.0


def _has_file_url(items: list[dict[str, Any]]) -> bool:
    for item in items:
        content = item.get("content")
        if isinstance(content, list):
            for part in content:
                if (
                    isinstance(part, dict)
                    and part.get("type") == "input_file"
                    and part.get("file_url")
                    and not part.get("file_data")
                ):
                    return True
    return False


async def inline_file_urls(
    req: ResponsesRequest, allowed: bool, max_bytes: int
) -> ResponsesRequest:
    """``req`` with every fetched ``file_url`` part turned into ``file_data`` (unchanged when
    fetching is off: the bridge then answers a 400 saying so)."""
    if not allowed or not _has_file_url(req.input_items):
        return req
    items: list[dict[str, Any]] = []
    for i, item in enumerate(req.input_items):
        content = item.get("content")
        if not isinstance(content, list):
            items.append(item)
            continue
        parts: list[Any] = []
        for j, part in enumerate(content):
            if (
                isinstance(part, dict)
                and part.get("type") == "input_file"
                and isinstance(part.get("file_url"), str)
                and not part.get("file_data")
            ):
                where = f"input[{i}].content[{j}].file_url"
                part = await _fetched(part, where, max_bytes)
            parts.append(part)
        items.append({**item, "content": parts})
    return dataclasses.replace(req, input_items=items)


async def _fetched(part: dict[str, Any], where: str, max_bytes: int) -> dict[str, Any]:
    url = part["file_url"]
    if urlsplit(url).scheme not in ("http", "https"):
        raise InvalidRequestError(
            "Invalid 'file_url': only http and https URLs are fetched.", param=where
        )
    loop = asyncio.get_running_loop()
    media_type, data = await loop.run_in_executor(None, _fetch, url, where, max_bytes)
    name = part.get("filename") or urlsplit(url).path.rsplit("/", 1)[-1] or "file"
    encoded = base64.b64encode(data).decode()
    return {
        "type": "input_file",
        "filename": name,
        "file_data": f"data:{media_type};base64,{encoded}",
    }


def _fetch(url: str, where: str, max_bytes: int) -> tuple[str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as resp:
            data = resp.read(max_bytes + 1)
            media_type = resp.headers.get_content_type() or "application/octet-stream"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise InvalidRequestError(
            f"input_file 'file_url' could not be fetched: {exc}",
            code="bridge.file_url_unreachable",
            param=where,
        ) from exc
    if len(data) > max_bytes:
        raise InvalidRequestError(
            f"input_file 'file_url' is larger than {max_bytes} bytes.",
            code="limits.too_large",
            param=where,
        )
    return media_type, data
