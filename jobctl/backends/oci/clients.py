"""OCI SDK clients, built in one place: auth like the oci CLI, one endpoint override, retries.

The SDK's default circuit breaker is process-wide and opens after 10 transient failures, failing every
later call without sending it; a CLI that already retries gains nothing from it, so it is off.
"""

from __future__ import annotations

import configparser
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobctl.backends.settings import OciSettings
from jobctl.errors import ConfigError

DEFAULT_CONFIG = "~/.oci/config"
FALLBACK_CONFIG = "~/.oraclebmc/config"


def _config_path(settings: OciSettings) -> Path:
    if settings.config_file:
        return Path(settings.config_file).expanduser()
    default = Path(DEFAULT_CONFIG).expanduser()
    if default.exists():
        return default
    if Path(FALLBACK_CONFIG).expanduser().exists():
        return Path(FALLBACK_CONFIG).expanduser()
    if settings.sdk_config_file:
        return Path(settings.sdk_config_file).expanduser()
    return default


def load_auth(settings: OciSettings) -> tuple[dict[str, Any], Any]:
    """(config, signer or None) for the chosen auth type; every failure is a ConfigError (exit 6)."""
    import oci

    auth = settings.auth or "api_key"
    if auth in ("instance_principal", "resource_principal"):
        try:
            if auth == "instance_principal":
                signer = oci.auth.signers.InstancePrincipalsSecurityTokenSigner()
            else:
                signer = oci.auth.signers.get_resource_principals_signer()
        except Exception as exc:  # the SDK raises many kinds here; all mean "not on such a host"
            raise ConfigError(
                f"{auth} authentication failed: {exc}",
                hint="it works only on an OCI instance / inside an OCI job or notebook; use --auth api_key elsewhere",
            ) from exc
        region = settings.region or getattr(signer, "region", None)
        return ({"region": region} if region else {}), signer
    path = _config_path(settings)
    profile = settings.profile or "DEFAULT"
    try:
        config: dict[str, Any] = oci.config.from_file(str(path), profile)
    except oci.exceptions.ConfigFileNotFound as exc:
        raise ConfigError(
            f"OCI config file {path} not found",
            hint="create it with `oci setup config`, or pass --config-file / --auth instance_principal",
        ) from exc
    except oci.exceptions.ProfileNotFound as exc:
        raise ConfigError(f"profile {profile!r} not found in {path}", hint="pick one with --profile") from exc
    except configparser.Error as exc:
        raise ConfigError(f"cannot read OCI config {path}: {_config_syntax_error(exc)}",
                          hint="each line must be `key=value` or a [PROFILE] header; a key belongs in its own "
                               "file, named by key_file") from exc
    except (oci.exceptions.ClientError, ValueError, OSError) as exc:
        raise ConfigError(f"cannot read OCI config {path} [{profile}]: {_scrub(str(exc))}") from exc
    if settings.region:
        config["region"] = settings.region
    signer = None
    if auth == "security_token":
        signer = _security_token_signer(config, path, profile)
    try:
        oci.config.validate_config(config, signer=signer)
    except oci.exceptions.InvalidConfig as exc:
        problems = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        detail = ", ".join(f"{key} {why}" for key, why in problems.items()) or str(exc)
        raise ConfigError(f"invalid OCI config {path} [{profile}]: {detail}") from exc
    if signer is None and not config.get("key_content"):
        key_file = Path(str(config.get("key_file", ""))).expanduser()
        if not key_file.is_file():
            raise ConfigError(f"key_file {key_file} in {path} [{profile}] does not exist")
    return config, signer


_KEY_MATERIAL = re.compile(r"-----BEGIN[^-]*-----.*?(-----END[^-]*-----|$)", re.DOTALL)
_KEYLIKE_QUOTED = re.compile(r"""(['"])[^'"]*(?:-----|[A-Za-z0-9+=]{40})[^'"]*\1""")


def _scrub(message: str) -> str:
    """An SDK message about the config, without what it quotes from it: a key pasted as a value comes
    back whole in "the key_file's value '-----BEGIN ...' must be a valid file path"."""
    message = _KEY_MATERIAL.sub("(key material not shown)", " ".join(message.split()))
    return _KEYLIKE_QUOTED.sub(r"\1(value not shown)\1", message)


def _config_syntax_error(exc: configparser.Error) -> str:
    """What is wrong and where, by line number only: the lines may be a pasted private key or pass phrase."""
    if isinstance(exc, configparser.ParsingError):
        numbers = sorted({number for number, _ in getattr(exc, "errors", [])} | {getattr(exc, "lineno", 0)} - {0})
        shown = ", ".join(str(n) for n in numbers[:10])
        if len(numbers) > 10:
            shown += f" and {len(numbers) - 10} more"
        if isinstance(exc, configparser.MissingSectionHeaderError):
            what = "before any [PROFILE] header"
        else:
            what = "not `key=value` lines" if len(numbers) > 1 else "not a `key=value` line"
        return f"line{'s' if len(numbers) > 1 else ''} {shown}: {what} (contents not shown)"
    if isinstance(exc, configparser.DuplicateOptionError):
        return f"option {exc.option!r} appears twice in [{exc.section}] (line {exc.lineno})"
    if isinstance(exc, configparser.DuplicateSectionError):
        return f"profile [{exc.section}] appears twice (line {exc.lineno})"
    return type(exc).__name__


def _security_token_signer(config: dict[str, Any], path: Path, profile: str) -> Any:
    """The SDK does not read security_token_file itself (`oci session authenticate` profiles)."""
    import oci

    missing = [k for k in ("security_token_file", "key_file") if not config.get(k)]
    if missing:
        raise ConfigError(f"profile {profile!r} in {path} lacks {', '.join(missing)} for --auth security_token",
                          hint="create a session with `oci session authenticate`")
    try:
        token = Path(str(config["security_token_file"])).expanduser().read_text(encoding="utf-8").strip()
        key = oci.signer.load_private_key_from_file(config["key_file"], config.get("pass_phrase"))
    except (OSError, oci.exceptions.ClientError, ValueError) as exc:
        raise ConfigError(f"cannot load the session token or key for profile {profile!r}: {exc}") from exc
    return oci.auth.signers.SecurityTokenSigner(token, key)


# What the SDK retries for jobctl: throttling (429), any 5xx, timeouts and dropped connections. Never a
# 409: the SDK's default retries IncorrectState for up to 10 minutes, so cancelling a run that is already
# CANCELING hung; each operation handles its own conflicts (docs/oci-fidelity.md, "Bounded retries").
RETRYABLE_STATUSES: dict[int, list[str]] = {429: []}
MAX_ATTEMPTS = 5
RETRY_BUDGET_SECONDS = 60  # no call retries for longer (each attempt: 10 s to connect, 60 s to read)


def retry_strategy(settings: OciSettings) -> Any:
    """The SDK strategy every client of one command shares, with the command's retry budget."""
    import oci

    bounds: dict[str, Any] = {
        "service_error_retry_config": RETRYABLE_STATUSES, "service_error_retry_on_any_5xx": True,
        "max_attempts": MAX_ATTEMPTS, "total_elapsed_time_seconds": RETRY_BUDGET_SECONDS,
    }
    if settings.fast_retries:
        bounds.update(max_attempts=6, retry_base_sleep_time_seconds=0.002, retry_max_wait_between_calls_seconds=0.01,
                      decorrelated_jitter=0)
    strategy = oci.retry.RetryStrategyBuilder(**bounds).get_retry_strategy()
    strategy.do_sleep = _budgeted(strategy, settings.retry_budget)
    return strategy


def _budgeted(strategy: Any, budget: float) -> Any:
    """The strategy's wait before a retry, counted against the command's budget: no wait goes past what is
    left of `budget` (over all the command's calls, in every thread), and once it is spent a failure is
    raised at once."""
    from oci.retry import retry_sleep_utils

    spent = [0.0]
    lock = threading.Lock()

    def do_sleep(attempt: int, exception: BaseException) -> None:
        planned = retry_sleep_utils.get_exponential_backoff_with_decorrelated_jitter_sleep_time(
            strategy.base_sleep_time_seconds, strategy.exponent_growth_factor,
            strategy.max_wait_between_calls_seconds, attempt, strategy.decorrelated_jitter)
        with lock:
            left = budget - spent[0]
            if left <= 0:
                raise exception
            wait = min(float(planned), left)
            spent[0] += wait  # claimed before sleeping: threads that retry at once share what is left
        time.sleep(wait)

    return do_sleep


@dataclass
class Clients:
    data_science: Any
    log_search: Any
    retry: Any
    object_storage: Any = None
    logging: Any = None  # LoggingManagementClient: a log group's compartment
    # another SDK client class -> one with the same auth, endpoint and retries (made when first needed)
    make: Callable[[Any], Any] | None = None


SDK_LOGGERS = ("oci", "urllib3", "requests")


def quiet_sdk_loggers() -> None:
    """Hold the SDK's and HTTP libraries' loggers at WARNING: at DEBUG they log request headers
    (Authorization, signatures), and a root logger at DEBUG (a sitecustomize, a notebook) would show them."""
    import logging

    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def build_clients(settings: OciSettings) -> Clients:
    """DataScienceClient and LogSearchClient with the same auth, endpoint, retries and no breaker."""
    import oci

    config, signer = load_auth(settings)
    if not config.get("region") and not settings.endpoint:
        raise ConfigError("no OCI region configured", hint="set region in the profile or pass --region")
    common: dict[str, Any] = {
        "retry_strategy": retry_strategy(settings),
        "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
        "timeout": (10, 60),
    }
    if signer is not None:
        common["signer"] = signer
    endpoint = settings.endpoint.rstrip("/") if settings.endpoint else None
    if endpoint:
        common["service_endpoint"] = endpoint
    try:
        if signer is None:  # an API key: read and parse it once, not once per client
            common["signer"] = oci.signer.Signer(
                config["tenancy"], config["user"], config["fingerprint"],
                private_key_file_location=config.get("key_file"), pass_phrase=config.get("pass_phrase"),
                private_key_content=config.get("key_content"))
        data_science = oci.data_science.DataScienceClient(config, **common)
        log_search = oci.loggingsearch.LogSearchClient(config, **common)
        object_storage = oci.object_storage.ObjectStorageClient(config, **common)
        logging_management = oci.logging.LoggingManagementClient(config, **common)
    except (oci.exceptions.ClientError, ValueError, TypeError, OSError) as exc:
        where = f"key_file {config.get('key_file')}" if config.get("key_file") else "the configured key"
        source = f" of profile [{settings.profile or 'DEFAULT'}] in {_config_path(settings)}" if signer is None else ""
        raise ConfigError(f"cannot use {where}{source} for OCI ({type(exc).__name__}): {exc}",
                          hint="point key_file at the PEM private key of the API key the profile names") from exc
    return Clients(data_science, log_search, common["retry_strategy"], object_storage, logging_management,
                   make=lambda client_class: client_class(config, **common))
