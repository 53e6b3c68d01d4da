"""Every page of an OCI list call, followed by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def list_all(call: Callable[..., Any], what: str, fn: Callable[..., Any], *args: Any, collection: bool = False,
             **kwargs: Any) -> list[Any]:
    """Follow opc-next-page ourselves: oci.pagination wraps every page in its own default retry strategy on top
    of the client's, so one failing page would be tried 8 × 8 times. `call`: the backend's `_call` (service
    errors as jobctl errors); `collection`: each page is an object holding `items` (a search), not a list."""
    found: list[Any] = []
    page = None
    while True:
        response = call(what, fn, *args, **kwargs, **({"page": page} if page else {}))
        found.extend(response.data.items if collection else response.data)
        page = response.next_page
        if not page:
            return found
