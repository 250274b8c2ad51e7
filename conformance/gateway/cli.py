"""``gonka-conformance serve``: this face's entry of the CLI's subcommand registry
(``SUBCOMMANDS``). Heavy imports happen when the command runs, so other subcommands stay fast."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from typing import Any

from ..commandline import Subcommand
from ..common.errors import EXIT_OK, UsageError  # (cheap: the heavy imports stay in the functions)

EPILOG = """\
examples:
  gonka-conformance serve --port 8080                      # offline dev target, any Bearer key
  gonka-conformance serve --revision 2026-05 --profile gonkagate.com --debug-endpoint
  gonka-conformance serve --api-key-env GATEWAY_KEY --admin-key-env GATEWAY_ADMIN_KEY
  gonka-conformance serve --fault-latency-ms 200 --fault-429 0.1 --fault-cut 0.05
  gonka-conformance serve --upstream https://api.gonka-api.org/v1 --block-rejects   # lint-and-forward proxy
  gonka-conformance serve --upstream https://api.gonka-api.org/v1 --upstream-key-env BROKER_KEY --api-key-env PROXY_KEY

Point any OpenAI-compatible client at the printed base URL (it ends in /v1)."""


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a rate is between 0 and 1, got {text}")
    return value


def register(commands: Any) -> None:
    """Add ``serve`` to an ``add_subparsers()`` object (the CLI does it through ``SUBCOMMANDS``)."""
    SERVE.add_to(commands)


def _add_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--revision", help="contract revision id (default: the newest)")
    serve.add_argument("--profile", help="broker profile overlay (limits, divergences, model-id spelling)")
    serve.add_argument("--models", nargs="+", metavar="MODEL", help="served model ids (default: the revision's routes)")
    auth = serve.add_argument_group("keys (never printed)")
    auth.add_argument("--api-key", action="append", metavar="KEY", help="accepted Bearer key (repeatable); without any, every key is accepted and a missing one is a 401")
    auth.add_argument("--api-key-env", metavar="NAME", help="read the accepted key from this environment variable (keeps it out of `ps`)")
    auth.add_argument("--admin-key", metavar="KEY", help="admin key: bypasses the output cap and access modes")
    auth.add_argument("--admin-key-env", metavar="NAME", help="read the admin key from this environment variable")
    auth.add_argument("--admin-only-model", action="append", default=[], metavar="MODEL", help="serve MODEL to the admin key only (repeatable)")
    auth.add_argument("--open-model", action="append", default=[], metavar="MODEL", help="serve MODEL without any key (repeatable)")
    gw = serve.add_argument_group("gateway settings")
    gw.add_argument("--default-max-tokens", type=int, help="default max_tokens (default: the catalogue's, or the profile's)")
    gw.add_argument("--max-tokens-cap", type=int, help="max_tokens cap (default: the catalogue's, or the profile's)")
    gw.add_argument("--max-concurrent-requests", type=int, default=0, help="limiter: 429 beyond this many requests in flight")
    gw.add_argument("--max-input-tokens-in-flight", type=int, default=0, help="limiter: 429 beyond this many estimated input tokens")
    gw.add_argument("--disabled", action="store_true", help="disabled (redirect) mode: every non-admin path answers 308")
    gw.add_argument("--disabled-message", help="message of the 308 body (default: the catalogue's)")
    gw.add_argument("--disabled-new-url", default="", help="new_url of the 308 body")
    gw.add_argument("--debug-endpoint", action="store_true", help="enable GET /_reference/debug/requests (forwarded bodies, engine events)")
    faults = serve.add_argument_group("fault injection (chat endpoint)")
    faults.add_argument("--fault-latency-ms", type=float, default=0.0, help="added latency before every answer")
    faults.add_argument("--fault-chunk-delay-ms", type=float, default=0.0, help="delay between streamed events")
    faults.add_argument("--fault-5xx", type=_rate, default=0.0, metavar="RATE", help="fraction of requests answered with a 5xx")
    faults.add_argument("--fault-5xx-status", type=int, default=502, metavar="CODE", help="status for --fault-5xx (default 502)")
    faults.add_argument("--fault-429", type=_rate, default=0.0, metavar="RATE", help="fraction answered 429 with Retry-After")
    faults.add_argument("--fault-retry-after", type=int, default=1, metavar="SECONDS", help="Retry-After for --fault-429")
    faults.add_argument("--fault-cut", type=_rate, default=0.0, metavar="RATE", help="fraction of answers cut off mid-way")
    faults.add_argument("--fault-garbage", type=_rate, default=0.0, metavar="RATE", help="fraction answered 200 with a garbage body")
    faults.add_argument("--fault-seed", type=int, default=0, help="seed of the fault draws")
    proxy = serve.add_argument_group("lint-and-forward proxy")
    proxy.add_argument("--upstream", metavar="URL", help="forward to this broker base URL (e.g. https://api.gonka-api.org/v1), linting every request")
    proxy.add_argument("--upstream-key-env", metavar="NAME", help="send the Bearer key in this environment variable to the upstream "
                       "(instead of the client's own key); needs --api-key, so only your clients spend it")
    proxy.add_argument("--block-rejects", action="store_true", help="answer requests the gateway would reject locally, with its exact error")
    serve.add_argument("--quiet", action="store_true", help="no live request log")


def _key_from(value: str | None, env: str | None, what: str) -> str | None:
    if env:
        secret = os.environ.get(env)
        if not secret:
            raise UsageError(f"--{what}-env: environment variable {env} is not set or empty")
        return secret
    return value


def _limits(args: argparse.Namespace) -> Any:
    """``--default-max-tokens`` / ``--max-tokens-cap`` over the profile's limits (an override of
    one keeps the profile's other); None when neither is given."""
    overrides = {name: value for name, value in (("default_max_tokens", args.default_max_tokens),
                                                 ("max_tokens_cap", args.max_tokens_cap)) if value is not None}
    if not overrides:
        return None
    from ..catalogue.choices import check_profile
    from ..catalogue.loader import load_catalogue
    from ..engine import limits_for

    for name, value in overrides.items():
        if value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    catalogue = load_catalogue(args.catalogue)
    check_profile(catalogue, args.profile)
    return dataclasses.replace(limits_for(catalogue, args.profile), **overrides)


def build_config(args: argparse.Namespace) -> Any:
    from .config import DisabledMode, Faults, GatewayConfig

    api_keys = list(args.api_key or [])
    env_key = _key_from(None, args.api_key_env, "api-key")
    if env_key:
        api_keys.append(env_key)
    limits = _limits(args)
    return GatewayConfig(
        host=args.host, port=args.port, revision=args.revision, profile=args.profile,
        models=tuple(args.models) if args.models else None,
        api_key=tuple(api_keys) or None, admin_key=_key_from(args.admin_key, args.admin_key_env, "admin-key"),
        admin_only_models=tuple(args.admin_only_model), open_models=tuple(args.open_model),
        disabled=DisabledMode(args.disabled_message, args.disabled_new_url) if args.disabled else None,
        debug_endpoint=args.debug_endpoint, limits=limits,
        max_concurrent_requests=args.max_concurrent_requests, max_input_tokens_in_flight=args.max_input_tokens_in_flight,
        faults=Faults(latency_ms=args.fault_latency_ms, chunk_delay_ms=args.fault_chunk_delay_ms, error_rate=args.fault_5xx,
                      error_status=args.fault_5xx_status, rate_limit_rate=args.fault_429, retry_after=args.fault_retry_after,
                      cut_rate=args.fault_cut, garbage_rate=args.fault_garbage, seed=args.fault_seed),
        upstream=args.upstream, upstream_key=_key_from(None, args.upstream_key_env, "upstream-key"),
        block_rejects=args.block_rejects, catalogue_root=args.catalogue,
        log=None if args.quiet else sys.stderr,
    )


def banner(gateway: Any) -> list[str]:
    config, state = gateway.config, gateway.state
    keys = config.api_keys()
    lines = [
        f"reference gateway — revision {state.revision.id}" + (f", profile {config.profile}" if config.profile else "")
        + (" — lint-and-forward proxy" if config.upstream else " — simulated model"),
        f"  base URL   {gateway.base_url}",
    ]
    if gateway.proxy is not None:
        upstream = gateway.proxy.upstream
        lines.append(f"  upstream   {upstream.shown}" + ("  (gateway rejects answered locally)" if config.block_rejects else ""))
        lines.append("  forwarding " + ("upstream credentials from the configuration; clients need one of the keys below"
                                        if upstream.has_credentials else
                                        "clients' keys checked here, none sent upstream" if keys or config.admin_key else
                                        "each client's own key, passed through to the upstream"))
    lines.append(f"  models     {', '.join(state.models)}  (default {state.default_model})")
    no_keys = "none checked here: the upstream checks each client's key" if config.upstream else \
        "any Bearer key accepted; a missing key is a 401"
    lines.append("  keys       " + (f"{len(keys)} API key(s) configured" if keys else no_keys)
                 + ("; admin key configured" if config.admin_key else ""))
    limits = state.settings.limits
    lines.append(f"  limits     max_tokens default {limits.default_max_tokens}, cap {limits.max_tokens_cap}")
    if config.disabled is not None:
        lines.append("  DISABLED   every non-admin path answers 308")
    if gateway.debug is not None:
        lines.append(f"  debug      {gateway.debug_url}")
    if config.faults.active or config.faults.chunk_delay_ms:
        f = config.faults
        lines.append(f"  faults     latency {f.latency_ms:g} ms, chunk delay {f.chunk_delay_ms:g} ms, 5xx {f.error_rate:g}, "
                     f"429 {f.rate_limit_rate:g}, cut {f.cut_rate:g}, garbage {f.garbage_rate:g} (seed {f.seed})")
    return lines


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import ReferenceGateway

    try:
        config = build_config(args)
        gateway = ReferenceGateway(config)
    except (ValueError, KeyError) as exc:
        raise UsageError(str(exc.args[0]) if exc.args else str(exc)) from None
    try:
        gateway.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    for line in banner(gateway):
        print(line, file=sys.stderr)
    print(gateway.base_url, flush=True)
    done = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        gateway.close()
        print("reference gateway stopped", file=sys.stderr)
    return EXIT_OK


SERVE = Subcommand(
    "serve", "run the reference gateway (catalogue + simulated model), or a lint-and-forward proxy",
    _add_arguments, cmd_serve,
    description="Serve POST /v1/chat/completions, GET /v1/models and GET /v1/status exactly as the Gonka gateway "
                "would, with a deterministic simulated model behind it.",
    epilog=EPILOG, raw_help=True,
)
#: This face's subcommands (the CLI's registry includes them).
SUBCOMMANDS: tuple[Subcommand, ...] = (SERVE,)
