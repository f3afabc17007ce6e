"""/docs and /redoc over real HTTP (uvicorn on a free port) work offline: every script, style
sheet and icon they reference is served by the engine itself, from an installed package."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from microservices.ai_engine.engine import Engine
from microservices.common.redis_io import create_redis
from microservices.common.redis_server import free_port
from tests.integration.test_api_http import _answers, wait_for

pytestmark = pytest.mark.integration

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


@pytest.fixture
async def api(settings_factory: Any) -> AsyncIterator[httpx.AsyncClient]:
    # the docs need no data: Redis may as well be absent (nothing listens on this port)
    settings = settings_factory(
        redis_url=f"redis://127.0.0.1:{free_port()}/0", api_port=free_port()
    )
    redis = create_redis(settings.redis_url or "", socket_timeout_s=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(Engine(settings, redis)._serve(stop))
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.api_port}", timeout=10
        ) as client:
            await wait_for(lambda: _answers(client))
            yield client
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await redis.aclose()


async def _page_assets(client: httpx.AsyncClient, page: str) -> tuple[str, list[str]]:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    urls = ASSET.findall(html)
    assert urls, html
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    return html, urls


async def _fetch(client: httpx.AsyncClient, url: str) -> httpx.Response:
    response = await client.get(url)
    assert response.status_code == 200, url
    assert int(response.headers["content-length"]) == len(response.content) > 1000, url
    return response


async def test_swagger_ui_is_served_locally(api: httpx.AsyncClient) -> None:
    html, urls = await _page_assets(api, "/docs")
    js = [u for u in urls if u.endswith(".js")]
    css = [u for u in urls if u.endswith(".css")]
    assert len(js) == 1 and len(css) == 1, urls
    script = await _fetch(api, js[0])
    assert "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text
    sheet = await _fetch(api, css[0])
    assert sheet.headers["content-type"].startswith("text/css")
    assert ".swagger-ui" in sheet.text
    icon = [u for u in urls if u.endswith(".png")]
    assert len(icon) == 1 and (await _fetch(api, icon[0])).content.startswith(b"\x89PNG")
    assert "url: '/openapi.json'" in html
    schema = (await api.get("/openapi.json")).json()
    assert "/api/v1/features/{symbol}" in schema["paths"]
    assert "/docs" not in schema["paths"] and "/redoc" not in schema["paths"]


async def test_redoc_is_served_locally(api: httpx.AsyncClient) -> None:
    html, urls = await _page_assets(api, "/redoc")
    assert "fonts.googleapis" not in html
    [js] = [u for u in urls if u.endswith(".js")]
    script = await _fetch(api, js)
    assert "javascript" in script.headers["content-type"]
    assert "Redoc" in script.text
    assert 'spec-url="/openapi.json"' in html
