"""Exchange endpoint settings (BINANCE_WS_URL, ...): declared by the exchange packages.

The exchange registry lists every registered package's endpoint settings (name, default,
description). When settings load, `EndpointSource` reads them from the environment and `.env`
(so a package registered at run time gets its settings too), `collect_endpoints` adds the
defaults and keyword overrides (`load_settings(binance_ws_url=...)`), and `check_endpoints`
requires a ws:// or wss:// URL for WebSocket bases and http(s):// for REST, with a host.
The only module of `common` that reads the exchange registry (with `settings.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
)

from microservices.data_collector import exchanges
from microservices.data_collector.exchanges import EndpointSetting

FIELD: Final = "endpoints"  # the Settings field holding setting name -> URL
SCHEMES: Final = {"ws": ("ws", "wss"), "rest": ("http", "https")}


class EndpointSource(PydanticBaseSettingsSource):
    """The registered endpoint settings given as keyword arguments, in the environment or in
    `.env` (in that order of priority, like every other setting), as `{"endpoints": {...}}`."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        init_kwargs: Mapping[str, Any],
        env: EnvSettingsSource,
        dotenv: DotEnvSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self._init = {name.lower(): value for name, value in init_kwargs.items()}
        self._env, self._dotenv = env, dotenv

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every setting at once

    def __call__(self) -> dict[str, Any]:
        found: dict[str, str] = {}
        sources = (self._init, self._env.env_vars, self._dotenv.env_vars)
        for setting in exchanges.endpoint_settings():
            for source in sources:  # names are case-insensitive (lower case here)
                value = source.get(setting.name)
                if value is not None:
                    found[setting.name] = value
                    break
        return {FIELD: found} if found else {}


def collect_endpoints(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with `endpoints` holding every registered setting: what the sources found (under
    `endpoints`), else a top-level key of its name (`model_validate` skips the sources; the
    `.env` source also passes such keys through, below the environment), else its default."""
    out = dict(data)
    given = out.get(FIELD)
    found = dict(given) if isinstance(given, Mapping) else {}
    urls: dict[str, Any] = {}
    for setting in exchanges.endpoint_settings():
        flat = out.pop(setting.name, setting.default)
        urls[setting.name] = found.pop(setting.name, flat)
    urls.update(found)  # names that are not registered stay, so validation reports them
    out[FIELD] = urls
    return out


def check_endpoints(urls: Mapping[str, str]) -> dict[str, str]:
    """The URLs; ValidationError locating each bad one by its setting name."""
    registered = {setting.name: setting for setting in exchanges.endpoint_settings()}
    errors: list[InitErrorDetails] = []
    out: dict[str, str] = {}
    for name, value in urls.items():
        setting = registered.get(name)
        if setting is None:
            problem: str | None = "not a registered endpoint setting"
        elif not isinstance(value, str):
            problem = f"must be a URL, got {value!r}"
        else:
            problem = url_problem(setting, value)
            out[name] = value
        if problem is not None:
            error = PydanticCustomError("endpoint_url", "{problem}", {"problem": problem})
            errors.append(InitErrorDetails(type=error, loc=(name,), input=value))
    if errors:
        raise ValidationError.from_exception_data("endpoints", errors)
    return out


def url_problem(setting: EndpointSetting, value: str) -> str | None:
    """What is wrong with `value` as `setting`'s URL, or None."""
    schemes = SCHEMES[setting.kind]
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        return f"must start with {' or '.join(s + '://' for s in schemes)}, got {value!r}"
    if not parts.hostname:
        return f"has no host: {value!r}"
    try:
        _ = parts.port
    except ValueError as exc:
        return f"has a bad port: {exc}"
    return None
