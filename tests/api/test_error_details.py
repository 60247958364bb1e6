"""Every error Status carries ``details`` as Kubernetes' apimachinery constructors fill
it (issue 21 item 6): kubectl reads ``details.name`` of a 404 without checking that
``details`` is there, and a Status without it made ``kubectl debug`` panic."""

from __future__ import annotations

import http.client
import ssl

import orjson
import pytest

from navarch.apiserver import errors
from navarch.client.kubeconfig import load_kubeconfig

# metav1.Status's field order, details before code.
FIELD_ORDER = ("kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code")


@pytest.mark.parametrize(
    ("error", "details"),
    [
        (errors.not_found("pods", "", "web"), {"name": "web", "kind": "pods"}),
        (
            errors.not_found("deployments", "apps", "web"),
            {"name": "web", "group": "apps", "kind": "deployments"},
        ),
        (errors.already_exists("pods", "", "web"), {"name": "web", "kind": "pods"}),
        (
            errors.conflict("deployments", "apps", "web"),
            {"name": "web", "group": "apps", "kind": "deployments"},
        ),
        (
            errors.forbidden("bob", "get", "pods", "", "default", "web", "no rule"),
            {"name": "web", "kind": "pods"},
        ),
        (
            errors.invalid(
                "Pod", "", "web", [{"reason": "FieldValueRequired", "message": "m", "field": "f"}]
            ),
            {
                "name": "web",
                "kind": "Pod",
                "causes": [{"reason": "FieldValueRequired", "message": "m", "field": "f"}],
            },
        ),
        # A path the server does not serve: details present and empty (no name), which
        # is how kubectl debug tells "no such subresource" from "no such pod".
        (errors.path_not_found("/api/v1/nothing"), {}),
        (errors.method_not_allowed("PUT", "/x", "pods"), {"kind": "pods"}),
        (errors.internal("boom"), {"causes": [{"message": "boom"}]}),
        (errors.too_many_requests(2), {"retryAfterSeconds": 2}),
    ],
)
def test_error_status_details_are_kubernetes(error: errors.ApiError, details: dict) -> None:
    status = error.to_status()
    assert status["details"] == details
    assert list(status) == [*FIELD_ORDER]


def test_bad_request_has_no_details_as_in_kubernetes() -> None:
    assert "details" not in errors.bad_request("nope").to_status()


def _get(server, path: str) -> tuple[int, dict]:
    config = load_kubeconfig(server.kubeconfig)
    assert config.ca_data is not None
    context = ssl.create_default_context(cadata=config.ca_data.decode())
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=context)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {config.token}"})
        response = connection.getresponse()
        return response.status, orjson.loads(response.read())
    finally:
        connection.close()


def test_the_server_sends_details_on_every_404(api_server) -> None:
    status, body = _get(api_server, "/api/v1/namespaces/default/pods/missing")
    assert (status, body["details"]) == (404, {"name": "missing", "kind": "pods"})
    status, body = _get(api_server, "/api/v1/namespaces/default/pods/missing/nosuchsubresource")
    assert (status, body["details"]) == (404, {})
    status, body = _get(api_server, "/api/v2/unknown")
    assert (status, body["details"]) == (404, {})
