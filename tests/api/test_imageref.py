"""Image references by distribution/reference's grammar (issue 29 item 4): what parses,
how it is normalised, and distribution's message for what does not."""

from __future__ import annotations

import pytest

from navarch.api.defaults import image_pull_policy
from navarch.api.imageref import ImageReference, InvalidImageReference, parse_image_reference

SHA256 = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("busybox", ("docker.io", "library/busybox", "", "")),
        ("busybox:1.36", ("docker.io", "library/busybox", "1.36", "")),
        ("busybox:Latest_v1.2-rc", ("docker.io", "library/busybox", "Latest_v1.2-rc", "")),
        ("navarch/busybox", ("docker.io", "navarch/busybox", "", "")),
        ("docker.io/busybox", ("docker.io", "library/busybox", "", "")),
        ("index.docker.io/busybox", ("docker.io", "library/busybox", "", "")),
        ("127.0.0.1:5000/navarch/app:1", ("127.0.0.1:5000", "navarch/app", "1", "")),
        ("localhost/app", ("localhost", "app", "", "")),
        ("localhost:5000/a/b/c", ("localhost:5000", "a/b/c", "", "")),
        ("[::1]:5000/app:v1", ("[::1]:5000", "app", "v1", "")),
        ("navarch.test/demo:2", ("navarch.test", "demo", "2", "")),
        ("Registry/app", ("Registry", "app", "", "")),  # upper case: a domain
        ("a__b/c--d/e.f_g-h", ("docker.io", "a__b/c--d/e.f_g-h", "", "")),
        (f"busybox@{SHA256}", ("docker.io", "library/busybox", "", SHA256)),
        (f"busybox:1@{SHA256}", ("docker.io", "library/busybox", "1", SHA256)),
        ("app@sha512:" + "ab" * 64, ("docker.io", "library/app", "", "sha512:" + "ab" * 64)),
    ],
)
def test_valid_references_parse_and_normalise(text, expected):
    assert parse_image_reference(text) == ImageReference(*expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("../../etc", "invalid reference format"),
        ("../etc/passwd", "invalid reference format"),
        ("/etc", "invalid reference format"),
        ("busybox/", "invalid reference format"),
        ("busybox:", "invalid reference format"),
        ("busybox:1:2", "invalid reference format"),
        ("bus box", "invalid reference format"),
        ("busybox:" + "t" * 129, "invalid reference format"),
        ("a_-b", "invalid reference format"),
        ("-busybox", "invalid reference format"),
        ("http://registry/app", "invalid reference format"),
        ("", "invalid reference format"),
        ("bücher", "invalid reference format"),
        ("busybox@sha256:abc", "invalid reference format"),
        (
            "Busybox",
            "invalid reference format: repository name (library/Busybox) must be lowercase",
        ),
        (
            "navarch/BusyBox:1",
            "invalid reference format: repository name (navarch/BusyBox) must be lowercase",
        ),
        ("0123456789abcdef" * 4, "cannot specify 64-byte hexadecimal strings"),
        ("a" * 256, "repository name must not be more than 255 characters"),
        ("busybox@md5:" + "0" * 32, "unsupported digest algorithm"),
        ("busybox@sha256:" + "0" * 32, "invalid checksum digest length"),
        ("busybox@sha256:" + "A" * 64, "invalid checksum digest format"),
    ],
)
def test_invalid_references_say_why(text, message):
    with pytest.raises(InvalidImageReference) as caught:
        parse_image_reference(text)
    assert message in str(caught.value)


def test_the_tag_a_pull_gets():
    assert parse_image_reference("busybox").tag_or_default == "latest"
    assert parse_image_reference("busybox:1").tag_or_default == "1"
    assert parse_image_reference(f"busybox@{SHA256}").tag_or_default == ""


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        (f"busybox:latest@{SHA256}", "Always"),  # the tag is latest, as Kubernetes reads it
        (f"busybox@{SHA256}", "IfNotPresent"),
        ("docker.io/library/busybox", "Always"),
        ("../../etc", "IfNotPresent"),  # no tag to read: InvalidImageName at the agent
        ("Busybox", "IfNotPresent"),
    ],
)
def test_the_default_pull_policy_reads_the_parsed_tag(image, policy):
    assert image_pull_policy(image) == policy
