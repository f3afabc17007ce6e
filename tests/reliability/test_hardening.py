"""Hardening checks: the Redis password never leaks, exchange I/O always has a timeout, API
inputs are bounded, and the VPS containers are locked down.

- A redis-server with `--requirepass`; the engine and the collector run as processes with
  the password in REDIS_URL. Neither /health (up, Redis down, wrong password) nor /metrics,
  the API or any log line carries it, nor the start-up error of a malformed REDIS_URL.
- A static check (AST) of every module that talks to exchanges or Redis: aiohttp sessions
  and requests, WebSocket connects and receives, urllib and Redis clients all have timeouts.
- The API's bounds (lookback, limit, symbol allow-list and pattern, exit-plan numbers) over
  ASGI on the real app, and their presence in the OpenAPI schema.
- docker-compose.vps.yml: every container read-only, without capabilities or privilege
  escalation, none as root; Redis password-protected and unpublished; ports on loopback.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import httpx
import pytest
import redis

from microservices.ai_engine.app import MAX_LOOKBACK_S
from microservices.ai_engine.engine import Engine
from microservices.common.redis_server import free_port, wait_for_port
from microservices.common.settings import load_settings
from microservices.exchange_simulator.config import SimulatorConfig
from microservices.exchange_simulator.server import start_simulator
from tests.integration.test_compose import rendered
from tests.reliability.helpers import SIM_VENUES, Services, eventually, http_json, service_env
from tests.tools import require_tools

REPO = Path(__file__).resolve().parents[2]
SECRET = f"pw-{uuid.uuid4().hex}"


# ----------------------------------------------------------------------------- secrets


@pytest.fixture
def protected_redis(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    require_tools("redis-server")
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(tmp_path), "--requirepass", SECRET]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for_port("127.0.0.1", port)
        yield proc, port
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.integration
@pytest.mark.slow
async def test_redis_password_never_appears_in_health_api_or_logs(
    protected_redis: tuple[subprocess.Popen[bytes], int], services: Services
) -> None:
    server, port = protected_redis
    with pytest.raises(redis.AuthenticationError):  # the password is really required
        redis.Redis(port=port, socket_timeout=3).xlen("x")
    url = f"redis://:{SECRET}@127.0.0.1:{port}/0"
    api_port, wrong_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    bodies: list[str] = []
    async with start_simulator(SimulatorConfig(port=0)) as sim:
        env = {"venues": SIM_VENUES, "log_level": "DEBUG", "rest_poll_interval_s": 1.0}
        collector = services.start("collector", service_env(url, "pw:", sim_base=sim.base_url,
                                                            **env))  # fmt: skip
        engine = services.start("engine", service_env(url, "pw:", api_port=api_port, **env))
        wrong = services.start("engine", service_env(url.replace(SECRET, SECRET[::-1]), "pw:",
                                                     api_port=wrong_port), name="wrong")  # fmt: skip

        async def connected() -> tuple[int, Any] | None:
            reply = await http_json(f"{api}/health")
            if reply and reply[0] == 200 and reply[1]["collector"] is not None:
                return reply
            return None

        await eventually(connected, 60, "/health with the collector's heartbeat")
        async with httpx.AsyncClient(base_url=api, timeout=10) as client:
            for path in ("/health", "/metrics", "/api/v1/exitbrain/status", "/openapi.json",
                         "/api/v1/cross-exchange/BTCUSDT"):  # fmt: skip
                bodies.append((await client.get(path)).text)
        refused = await eventually(lambda: http_json(f"http://127.0.0.1:{wrong_port}/health"), 30,
                                   "/health of the engine with a wrong password")  # fmt: skip
        assert refused[0] == 503 and refused[1]["redis"]["connected"] is False
        bodies.append(str(refused[1]))
        server.kill()  # Redis goes away: error paths log and answer 503
        server.wait(timeout=10)
        down = await eventually(
            lambda: _status(f"{api}/health", 503), 30, "/health 503 with Redis down"
        )
        bodies.append(str(down))
        await eventually(lambda: _logged(collector, "producer.redis_unavailable"), 30, "outage log")
        for service in (collector, engine, wrong):
            await service.terminate()
    for text in bodies:
        assert SECRET not in text and SECRET[::-1] not in text
    for service in (collector, engine, wrong):
        log = service.text()
        assert log, service.command
        assert SECRET not in log and SECRET[::-1] not in log, service.command


async def _status(url: str, code: int) -> Any:
    reply = await http_json(url)
    return reply[1] if reply is not None and reply[0] == code else None


async def _logged(service: Any, event: str) -> bool:
    return bool(service.events(event))


def test_malformed_redis_url_fails_without_echoing_the_password() -> None:
    env = service_env(f"redis://:{SECRET}@127.0.0.1:notaport/0", "pw:")
    result = subprocess.run(
        [sys.executable, "-m", "microservices.cli", "--env-file", "/dev/null", "engine"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr and SECRET not in result.stderr + result.stdout
    assert load_settings(env_file=None, redis_url=f"redis://:{SECRET}@h:6379/0") \
        .redacted_redis_url() == "redis://:***@h:6379/0"  # fmt: skip


# ----------------------------------------------------------------------------- timeouts

IO_MODULES = sorted(
    p
    for p in (REPO / "microservices").rglob("*.py")
    if "exchange_simulator" not in p.parts  # the server side of the simulated exchanges
)
REQUEST_METHODS = {"get", "post", "put", "delete", "patch", "request", "ws_connect"}


class TimeoutFinder(ast.NodeVisitor):
    """Collects exchange and Redis I/O calls made without a timeout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []
        self.timeout_depth = 0  # inside `async with asyncio.timeout(...)`

    def where(self, node: ast.AST) -> str:
        return f"{self.path.relative_to(REPO)}:{getattr(node, 'lineno', '?')}"

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        guarded = any(_is_timeout_context(item.context_expr) for item in node.items)
        self.timeout_depth += guarded
        self.generic_visit(node)
        self.timeout_depth -= guarded

    def visit_Call(self, node: ast.Call) -> None:
        name, receiver = _call_name(node)
        keywords = {k.arg for k in node.keywords}
        if name == "ClientSession" and "timeout" not in keywords:
            self.problems.append(f"{self.where(node)} ClientSession() without timeout=")
        if name in REQUEST_METHODS and "session" in receiver and "timeout" not in keywords:
            self.problems.append(f"{self.where(node)} {receiver}.{name}() without timeout=")
        unbounded_ws = "open_timeout" not in keywords or _none_keyword(
            node, "ping_interval", "ping_timeout"
        )
        if name == "connect" and receiver in ("", "websockets") and unbounded_ws:
            self.problems.append(f"{self.where(node)} connect() without open/ping timeouts")
        if name == "recv" and not node.args and self.timeout_depth == 0:
            self.problems.append(f"{self.where(node)} {receiver}.recv() outside asyncio.timeout")
        if name == "urlopen" and "timeout" not in keywords:
            self.problems.append(f"{self.where(node)} urlopen() without timeout=")
        if name == "from_url" and "Redis" in receiver and "socket_timeout" not in keywords:
            self.problems.append(f"{self.where(node)} Redis.from_url() without socket_timeout=")
        self.generic_visit(node)


def _call_name(node: ast.Call) -> tuple[str, str]:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id, ""
    if isinstance(func, ast.Attribute):
        return func.attr, ast.unparse(func.value)
    return "", ""


def _is_timeout_context(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Call) and _call_name(expr) in (
        ("timeout", "asyncio"),
        ("timeout_at", "asyncio"),
    )


def _none_keyword(node: ast.Call, *names: str) -> bool:
    return any(
        k.arg in names and isinstance(k.value, ast.Constant) and k.value.value is None
        for k in node.keywords
    )


def test_every_exchange_and_redis_call_has_a_timeout() -> None:
    problems: list[str] = []
    calls = 0
    for path in IO_MODULES:
        finder = TimeoutFinder(path)
        tree = ast.parse(path.read_text(), str(path))
        finder.visit(tree)
        problems += finder.problems
        calls += sum(1 for n in ast.walk(tree) if isinstance(n, ast.Call))
    assert problems == []
    assert calls > 1000  # the walk really covered the services


def test_the_timeout_check_catches_a_missing_timeout() -> None:
    bad = REPO / "microservices" / "_example_unbounded.py"  # never written: parsed from text
    source = (
        "async def f(session, ws):\n"
        "    async with aiohttp.ClientSession() as s:\n"
        "        await session.get('u')\n"
        "    await websockets.connect('u', ping_interval=None)\n"
        "    await ws.recv()\n"
        "    async with asyncio.timeout(1):\n"
        "        await ws.recv()\n"
    )
    finder = TimeoutFinder(bad)
    finder.visit(ast.parse(source))
    assert len(finder.problems) == 4, finder.problems


# ----------------------------------------------------------------------------- API bounds


@pytest.fixture
async def api() -> Any:
    settings = load_settings(env_file=None, redis_url="redis://fake:6379/0")
    engine = Engine(settings, fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer()))
    transport = httpx.ASGITransport(app=engine.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


PLAN = {"symbol": "BTCUSDT", "side": "long", "entry_price": 100.0}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", f"/api/v1/features/BTCUSDT?lookback={MAX_LOOKBACK_S}", None, 404),  # no data yet
        ("GET", f"/api/v1/features/BTCUSDT?lookback={MAX_LOOKBACK_S + 1}", None, 422),
        ("GET", "/api/v1/features/BTCUSDT?lookback=-1", None, 422),
        ("GET", "/api/v1/features/BTCUSDT?lookback=1e9", None, 422),
        ("GET", "/api/v1/features/BTCUSDT?limit=0", None, 422),
        ("GET", "/api/v1/features/BTCUSDT?limit=5001", None, 422),
        ("GET", "/api/v1/cross-exchange/DOGEUSDT", None, 404),  # canonical, not configured
        ("GET", "/api/v1/cross-exchange/btcusdt", None, 404),  # allowed: no data yet
        ("GET", "/api/v1/cross-exchange/" + "A" * 31, None, 422),
        ("GET", "/api/v1/cross-exchange/BTC%2FUSDT", None, 404),  # no route for a slash
        ("GET", "/api/v1/cross-exchange/BTC%20USDT", None, 422),
        ("POST", "/api/v1/exit-plan", PLAN | {"symbol": "DOGEUSDT"}, 404),
        ("POST", "/api/v1/exit-plan", PLAN | {"symbol": "../etc"}, 422),
        ("POST", "/api/v1/exit-plan", PLAN | {"entry_price": 0}, 422),
        ("POST", "/api/v1/exit-plan", PLAN | {"entry_price": 1e13}, 422),
        ("POST", "/api/v1/exit-plan", PLAN | {"base_tp_pct": 101}, 422),
        ("POST", "/api/v1/exit-plan", PLAN | {"current_stop": -1}, 422),
        ("POST", "/api/v1/exit-plan", PLAN | {"side": "up"}, 422),
        ("POST", "/api/v1/exit-plan", PLAN, 200),  # no data: a local-mode plan
    ],
)
async def test_api_inputs_are_validated_and_bounded(
    api: httpx.AsyncClient, method: str, path: str, body: Any, status: int
) -> None:
    response = await api.request(method, path, json=body)
    assert response.status_code == status, response.text


async def test_openapi_schema_states_the_bounds(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    params = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/features/{symbol}"]
              ["get"]["parameters"]}  # fmt: skip
    assert params["lookback"]["maximum"] == MAX_LOOKBACK_S and params["lookback"]["minimum"] == 0
    assert params["limit"]["maximum"] == 5000
    assert params["symbol"]["pattern"] == r"^[A-Za-z0-9]{2,30}$"


# ----------------------------------------------------------------------------- containers


def test_vps_containers_are_locked_down() -> None:
    data = rendered(
        "docker-compose.vps.yml", {"REDIS_PASSWORD": SECRET, "POSTGRES_PASSWORD": SECRET}
    )
    services = data["services"]
    for name, service in services.items():
        assert service.get("read_only") is True, name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("cap_drop") == ["ALL"], name
        assert service.get("user") not in ("root", "0", "0:0"), name
        assert service.get("cap_add", []) in ([], ["NET_BIND_SERVICE"]), name
        if name == "caddy":  # the `tls` profile's proxy is the public entrance (80 and 443)
            continue
        for port in service.get("ports", []):  # "127.0.0.1:8001:8001/tcp" or long syntax
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
            assert host_ip == "127.0.0.1", (name, port)
    assert services["redis"]["user"] == "redis"  # the image's redis user, not root
    assert "ports" not in services["redis"]
    command = " ".join(services["redis"]["command"])
    assert "--requirepass" in command and SECRET not in command  # read from the environment
    assert "USER app" in (REPO / "Dockerfile").read_text()  # the app image's user
    for name in ("cross-exchange", "ai-engine"):
        assert "user" not in services[name], name  # so the image's non-root user applies
