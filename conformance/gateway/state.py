"""The running gateway's state: served models and their simulated escrows, mutable settings
(limits, access modes, disabled mode — the admin settings), the limiter, counters."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field, replace

from ..catalogue.loader import Catalogue
from ..catalogue.model import Revision
from ..engine import access_modes
from ..engine import family_of, limits_for
from ..engine.types import Limits
from .config import DisabledMode, GatewayConfig


def served_models(catalogue: Catalogue, revision: Revision, profile: str | None, override: tuple[str, ...] | None) -> tuple[str, ...]:
    """``--models``, else the revision's routes spelled the way the broker profile spells them."""
    if override:
        return tuple(dict.fromkeys(m.strip() for m in override))
    spelling = catalogue.broker(profile).model_ids if profile else {}
    models = []
    for route in revision.routes:
        family = family_of(catalogue, route)
        models.append(spelling.get(family, route) if family else route)
    return tuple(dict.fromkeys(models))


def default_model(catalogue: Catalogue, revision: Revision, models: tuple[str, ...]) -> str:
    """The gateway's default model: the revision's, as served (same family), else the first."""
    if revision.default_model in models:
        return revision.default_model
    family = family_of(catalogue, revision.default_model)
    for model in models:
        if family and family_of(catalogue, model) == family:
            return model
    return models[0]


def resolve_limits(catalogue: Catalogue, config: GatewayConfig) -> Limits:
    return config.limits if config.limits is not None else limits_for(catalogue, config.profile)


@dataclass
class Runtime:
    """One simulated devshard escrow serving one model."""

    model: str
    escrow_id: int
    nonce: int = 0


@dataclass
class Settings:
    limits: Limits
    access: dict[str, str]
    disabled: DisabledMode | None

    def to_json(self) -> dict[str, object]:
        return {
            "default_request_max_tokens": self.limits.default_max_tokens,
            "request_max_tokens_cap": self.limits.max_tokens_cap,
            "model_limits": [{"model_id": m, "access_mode": a} for m, a in self.access.items()],
            "disabled": {"enabled": self.disabled is not None,
                         "message": self.disabled.message if self.disabled and self.disabled.message is not None else "",
                         "new_url": self.disabled.new_url if self.disabled else ""},
        }


class SettingsError(ValueError):
    pass


@dataclass
class Limiter:
    """The gateway limiter: concurrent requests and estimated input tokens in flight."""

    max_requests: int
    max_tokens: int
    in_flight: int = 0
    tokens: int = 0
    by_model: dict[str, int] = field(default_factory=dict)  # requests in flight per served model
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, tokens: int, model: str = "") -> tuple[str, int, int] | None:
        """None when admitted, else (message code, current, limit) for reject-over-capacity."""
        with self._lock:
            if self.max_requests and self.in_flight + 1 > self.max_requests:
                return "concurrent", self.in_flight, self.max_requests
            if self.max_tokens and self.tokens + tokens > self.max_tokens:
                return "input-tokens", self.tokens, self.max_tokens
            self.in_flight += 1
            self.tokens += tokens
            self.by_model[model] = self.by_model.get(model, 0) + 1
            return None

    def release(self, tokens: int, model: str = "") -> None:
        with self._lock:
            self.in_flight -= 1
            self.tokens -= tokens
            self.by_model[model] = self.by_model.get(model, 1) - 1

    def active(self, model: str) -> int:
        with self._lock:
            return self.by_model.get(model, 0)


class GatewayState:
    def __init__(self, config: GatewayConfig, catalogue: Catalogue) -> None:
        self.config = config
        self.catalogue = catalogue
        self.revision = catalogue.revision(config.revision)
        if config.profile:
            catalogue.broker(config.profile)  # KeyError names the known profiles
        self.models = served_models(catalogue, self.revision, config.profile, config.models)
        self.default_model = default_model(catalogue, self.revision, self.models)
        self.runtimes = {m: Runtime(m, config.escrow_id + i) for i, m in enumerate(self.models)}
        access = {m: "api_key" for m in self.models}
        for mode, names in (("admin_only", config.admin_only_models), ("open", config.open_models)):
            for name in names:
                if name not in access:
                    raise ValueError(f"{name!r} is not a served model (served: {', '.join(self.models)})")
                access[name] = mode
        self.settings = Settings(resolve_limits(catalogue, config), access, config.disabled)
        self.limiter = Limiter(config.max_concurrent_requests, config.max_input_tokens_in_flight)
        self.lock = threading.Lock()
        self._request_ids = itertools.count(1)

    def next_request_id(self) -> str:
        return f"ref-{next(self._request_ids):06d}"

    def next_response(self, model: str) -> tuple["Runtime", int]:
        """The model's runtime (its escrow) and the next inference nonce: the response id's parts
        (the response-id rule's template puts them together)."""
        with self.lock:
            runtime = self.runtimes.get(model) or self.runtimes[self.default_model]
            runtime.nonce += 1
            return runtime, runtime.nonce

    def update_settings(self, payload: object) -> None:
        """Apply an admin ``POST /v1/admin/settings`` body (the subset the reference models)."""
        if not isinstance(payload, dict):
            raise SettingsError("settings must be a JSON object")
        with self.lock:
            limits = self.settings.limits
            for key, attr in (("default_request_max_tokens", "default_max_tokens"), ("request_max_tokens_cap", "max_tokens_cap")):
                if key in payload:
                    value = payload[key]
                    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                        raise SettingsError(f"{key} must be a non-negative integer")
                    # A zero falls back to the compiled value (contract.md §4 configuration layers).
                    limits = replace(limits, **{attr: value or getattr(limits_for(self.catalogue), attr)})
            access = dict(self.settings.access)
            for entry in payload.get("model_limits") or ():
                if not isinstance(entry, dict) or not isinstance(entry.get("model_id"), str):
                    raise SettingsError("model_limits entries need a model_id")
                # upstream's spellings and unknown-mode fallback are catalogue data
                access[entry["model_id"].strip()] = access_modes(self.catalogue).resolve(entry.get("access_mode", ""))
            disabled = self.settings.disabled
            if "disabled" in payload:
                block = payload["disabled"]
                if not isinstance(block, dict):
                    raise SettingsError("disabled must be an object")
                if block.get("enabled") is True:
                    message = block.get("message")
                    disabled = DisabledMode(message if isinstance(message, str) and message else None,
                                            str(block.get("new_url") or ""))
                elif block.get("enabled") is False:
                    disabled = None
            self.settings = Settings(limits, access, disabled)
