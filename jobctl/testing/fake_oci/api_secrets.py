"""`/20190301/secretbundles/{secretId}`: the Vault Secrets read API (GetSecretBundle), what a job run
reads a git SSH key with. Secrets are put in by tests (`FakeOCI.add_secret`); an unknown or malformed id
is 404, as for any resource one may not see."""

from __future__ import annotations

import base64

from jobctl.testing.fake_oci.errors import not_found
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services
from jobctl.testing.fake_oci.wire import format_time


def get_secret_bundle(services: Services, request: Request, secret_id: str) -> Response:
    content = services.store.secrets.get(secret_id)
    if content is None:
        raise not_found("Secret", secret_id)
    return json_response({
        "secretId": secret_id, "versionNumber": 1, "stages": ["CURRENT", "LATEST"],
        "timeCreated": format_time(0.0),
        "secretBundleContent": {"contentType": "BASE64", "content": base64.b64encode(content).decode()},
    })


ROUTES = [Route("GET", "/20190301/secretbundles/{secretId}", get_secret_bundle)]
