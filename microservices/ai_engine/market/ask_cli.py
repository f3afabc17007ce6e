"""`cross-exchange ask "..."`: sends the question to the running engine's
`GET /api/v1/query` (API_URL, else http://API_HOST:API_PORT) and prints the answer, as text
or with `--json` as the JSON the route returns. The engine answers, so `ask` and the HTTP
endpoints never disagree.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import TextIO

from microservices.common.errors import FatalError
from microservices.common.settings import Settings

TIMEOUT_S = 15.0


def api_base(settings: Settings) -> str:
    """API_URL, else the engine's own host and port (a wildcard bind asked on loopback)."""
    if settings.api_url:
        return settings.api_url.rstrip("/")
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"


def query_url(base: str, question: str, as_json: bool) -> str:
    params = urllib.parse.urlencode({"q": question, "format": "json" if as_json else "text"})
    return f"{base}/api/v1/query?{params}"


def run_ask(settings: Settings, question: str, as_json: bool, out: TextIO) -> int:
    """Print the engine's answer; FatalError when the engine cannot be reached."""
    url = query_url(api_base(settings), question, as_json)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            body = response.read().decode()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise FatalError(f"the engine answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise FatalError(
            f"no engine API at {api_base(settings)} ({exc}); start `cross-exchange run` or "
            "`engine`, or set API_URL"
        ) from None
    if as_json:
        out.write(json.dumps(json.loads(body), indent=2) + "\n")
    else:
        out.write(body if body.endswith("\n") else body + "\n")
    return 0
