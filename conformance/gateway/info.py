"""``GET /v1/models``, ``GET /v1/status`` and the admin settings, in upstream's shapes
(contract.md §7; rule models-list-shape)."""

from __future__ import annotations

import json
import time
from typing import Any

from .state import GatewayState, SettingsError
from .wire import Response, http_error, method_not_allowed, pretty_json

SUPPORTED_PARAMETERS = ["messages", "max_tokens", "stream", "temperature", "top_p", "stop"]
DESCRIPTION = "Gonka devshard gateway model."


def models_list(state: GatewayState, method: str) -> Response:
    if method not in ("GET", "HEAD"):
        return method_not_allowed("GET, HEAD")
    cap = state.settings.limits.max_tokens_cap
    now = int(time.time())
    data = [{
        "id": model, "object": "model", "created": now, "owned_by": "gonka", "name": model, "description": DESCRIPTION,
        "context_length": cap, "max_completion_tokens": cap,
        "architecture": {"modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"], "tokenizer": "Other"},
        "pricing": {"prompt": "0", "completion": "0", "request": "0"},
        "top_provider": {"context_length": cap, "max_completion_tokens": cap, "is_moderated": False},
        "supported_parameters": list(SUPPORTED_PARAMETERS), "input_modalities": ["text"], "output_modalities": ["text"],
    } for model in state.models]
    return pretty_json(200, {"object": "list", "data": data})


def status(state: GatewayState) -> Response:
    """The pooled (several runtimes) shape, one simulated escrow per served model."""
    settings, limiter = state.settings, state.limiter
    with state.lock:
        runtimes = [{
            "id": r.escrow_id, "model": r.model, "active": True, "phase": "active", "nonce": r.nonce,
            "balance": 5_000_000_000, "protocol_version": 1, "active_requests": limiter.active(r.model), "reserved_tokens": 0,
            "settlement_pending": False, "chain_phase": "inference", "confirmation_poc_phase": "",
            "requests_blocked": False, "block_reason": "",
        } for r in state.runtimes.values()]
    share = round(100.0 / len(runtimes), 2) if runtimes else 0.0
    payload: dict[str, Any] = {
        "mode": "gateway",
        "devshards": runtimes,
        "limiter": {
            "in_flight_requests": limiter.in_flight, "in_flight_input_tokens": limiter.tokens,
            "max_concurrent_requests": limiter.max_requests, "max_input_tokens_in_flight": limiter.max_tokens,
            "effective_max_concurrent_requests": limiter.max_requests,
            "effective_max_input_tokens_in_flight": limiter.max_tokens, "scale_factor": 1, "models": {},
        },
        "capacity": {"models": {m: {"access_mode": settings.access.get(m, "admin_only"), "routable": True, "weight": 1,
                                    "percent": share} for m in state.models}},
        "runtimes": len(runtimes),
        "reference": {"simulated": True, "revision": state.revision.id, "profile": state.config.profile,
                      "default_model": state.default_model, "proxy_upstream": bool(state.config.upstream)},
    }
    return pretty_json(200, payload)


def admin_settings(state: GatewayState, method: str, body: bytes) -> Response:
    if method == "GET":
        return pretty_json(200, state.settings.to_json())
    if method != "POST":
        return method_not_allowed("GET, POST")
    try:
        state.update_settings(json.loads(body or b"null"))
    except (ValueError, SettingsError) as exc:
        return http_error(400, f"invalid settings: {exc}")
    return pretty_json(200, state.settings.to_json())
