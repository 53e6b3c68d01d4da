"""sha256 without importing hashlib: what `plan` and `export` hash (spec hashes, artifact digests) at start-up.

hashlib loads OpenSSL's libcrypto (~2.5 ms of every start, issue 18); CPython's own implementation of the
same function (`_sha256`, `_sha2` from 3.12) is a small extension. The digests are the same either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import sha256
else:
    try:
        from _sha256 import sha256
    except ImportError:  # Python 3.12+, or a build without it
        try:
            from _sha2 import sha256
        except ImportError:
            from hashlib import sha256

__all__ = ["sha256"]
