"""Verification of OCI API-key request signatures, as `oci.signer.Signer` produces them.

The SDK signs `date (request-target) host` on every request and adds `content-length content-type
x-content-sha256` on POST/PUT/PATCH, except for uploads it streams (job artifacts), which are signed
without the body headers. `(request-target)` is `<method> <raw path?query>` exactly as sent on the wire.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import re
import threading
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jobctl.testing.fake_oci.errors import ApiError

GENERIC_HEADERS = ("date", "(request-target)", "host")
BODY_HEADERS = ("content-length", "content-type", "x-content-sha256")
MAX_CLOCK_SKEW_SECONDS = 300
_PARAM = re.compile(r'(\w+)="([^"]*)"')
_NOT_AUTHENTICATED = "The required information to complete authentication was not provided or was incorrect."


def not_authenticated(reason: str) -> ApiError:
    return ApiError(401, "NotAuthenticated", f"{_NOT_AUTHENTICATED} ({reason})")


class KeyRing:
    """Public keys by keyId (`<tenancy>/<user>/<fingerprint>`); verifies signed requests."""

    def __init__(self) -> None:
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def register(self, key_id: str, public_key_pem: bytes | str) -> None:
        pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("OCI API keys are RSA keys")
        if len(key_id.split("/")) != 3:
            raise ValueError(f"keyId must be <tenancy>/<user>/<fingerprint>, got {key_id!r}")
        with self._lock:
            self._keys[key_id] = key

    def verify(self, method: str, raw_target: str, headers: Mapping[str, str], body: bytes, *, sign_body: bool,
               now: float) -> str:
        """Check the Authorization header; returns the user OCID from the keyId or raises 401."""
        authorization = headers.get("authorization", "")
        scheme, _, rest = authorization.partition(" ")
        if scheme != "Signature":
            raise not_authenticated("missing Signature authorization header")
        params = dict(_PARAM.findall(rest))
        if params.get("algorithm") != "rsa-sha256":
            raise not_authenticated("algorithm must be rsa-sha256")
        with self._lock:
            key = self._keys.get(params.get("keyId", ""))
        if key is None:
            raise not_authenticated(f"unknown keyId {params.get('keyId')!r}")
        signed = params.get("headers", "date").lower().split()
        required = GENERIC_HEADERS + (BODY_HEADERS if sign_body else ())
        unsigned = [name for name in required if name not in signed]
        if unsigned:
            raise not_authenticated(f"headers not signed: {', '.join(unsigned)}")
        message = signing_string(signed, method, raw_target, headers)
        try:
            key.verify(base64.b64decode(params.get("signature", "")), message, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, binascii.Error) as error:
            raise not_authenticated("signature does not verify") from error
        _check_date(headers["date"], now)
        _check_body(signed, headers, body)
        return str(params["keyId"]).split("/")[1]


def signing_string(signed: list[str], method: str, raw_target: str, headers: Mapping[str, str]) -> bytes:
    lines = []
    for name in signed:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {raw_target}")
        elif name in headers:
            lines.append(f"{name}: {headers[name]}")
        else:
            raise not_authenticated(f"signed header {name!r} is missing from the request")
    try:
        return "\n".join(lines).encode("ascii")
    except UnicodeEncodeError as error:
        raise not_authenticated("signed headers must be ASCII") from error


def _check_date(date: str, now: float) -> None:
    try:
        sent = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError) as error:
        raise not_authenticated(f"date header {date!r} is not an HTTP date") from error
    if abs(sent - now) > MAX_CLOCK_SKEW_SECONDS:
        raise not_authenticated("date header is more than 5 minutes away from the server's clock")


def _check_body(signed: list[str], headers: Mapping[str, str], body: bytes) -> None:
    if "x-content-sha256" in signed:
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if headers.get("x-content-sha256") != digest:
            raise not_authenticated("x-content-sha256 does not match the body")
    if "content-length" in signed and headers.get("content-length") != str(len(body)):
        raise not_authenticated("content-length does not match the body")
