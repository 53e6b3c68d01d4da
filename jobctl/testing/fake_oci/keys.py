"""Throwaway API keys and `~/.oci/config`-style files that point the SDK, the oci CLI or jobctl at the fake."""

from __future__ import annotations

import configparser
import functools
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_FILE_NAME = "fake_oci_api_key.pem"


@dataclass(frozen=True)
class ApiKey:
    """An RSA API key with the OCID-shaped identity the SDK's config validator expects."""

    tenancy: str
    user: str
    fingerprint: str
    private_pem: str
    public_pem: str

    @property
    def key_id(self) -> str:
        return f"{self.tenancy}/{self.user}/{self.fingerprint}"


def generate_api_key() -> ApiKey:
    """A fresh 2048-bit key; the fingerprint is the real one (MD5 of the DER public key, as OCI computes it)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashlib.md5(public_der).hexdigest()
    return ApiKey(
        tenancy=f"ocid1.tenancy.oc1..aaaaaaaa{secrets.token_hex(26)}",
        user=f"ocid1.user.oc1..aaaaaaaa{secrets.token_hex(26)}",
        fingerprint=":".join(digest[i: i + 2] for i in range(0, 32, 2)),
        private_pem=private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
        public_pem=private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
    )


@functools.cache
def throwaway_api_key() -> ApiKey:
    """This process's throwaway key, made on first use: a config that needs only *a* key the fake accepts
    (each fake accepts only the keys registered with it) need not pay ~50 ms to generate one."""
    return generate_api_key()


def write_config(directory: Path, key: ApiKey, *, profile: str = "DEFAULT", region: str = "us-ashburn-1") -> Path:
    """Write `<directory>/config` (adding or replacing `profile`) and the key file next to it, mode 0600."""
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / KEY_FILE_NAME if profile == "DEFAULT" else directory / f"fake_oci_api_key_{profile}.pem"
    _write_private(key_file, key.private_pem)
    config_path = directory / "config"
    config = configparser.ConfigParser(interpolation=None)
    config.optionxform = str  # type: ignore[assignment,method-assign]
    if config_path.exists():
        config.read(config_path)
    values = {"user": key.user, "fingerprint": key.fingerprint, "tenancy": key.tenancy, "region": region,
              "key_file": str(key_file)}
    if profile == "DEFAULT":
        config["DEFAULT"] = values
    else:
        config[profile] = values
    with _open_private(config_path) as handle:
        config.write(handle)
    return config_path


def _write_private(path: Path, text: str) -> None:
    with _open_private(path) as handle:
        handle.write(text)


def _open_private(path: Path) -> TextIO:
    """Open for writing with mode 0600 (the oci CLI warns about key and config files others can read)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.chmod(path, 0o600)
    return os.fdopen(descriptor, "w", encoding="utf-8")
