"""Name and label syntax, as Kubernetes checks it (apimachinery's validation rules).

Each check returns a list of human messages (empty when valid) so callers can wrap
them into field errors at the right path.
"""

from __future__ import annotations

import re

DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
QUALIFIED_NAME_MAX = 63

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_C_IDENTIFIER_ISH = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def dns1123_label(value: str) -> list[str]:
    """e.g. a container or namespace name: "web-1"."""
    problems = []
    if len(value) > DNS1123_LABEL_MAX:
        problems.append(f"must be no more than {DNS1123_LABEL_MAX} characters")
    if not _DNS1123_LABEL.fullmatch(value):
        problems.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
            "or '-', and must start and end with an alphanumeric character "
            "(e.g. 'my-name', or '123-abc')"
        )
    return problems


def dns1123_subdomain(value: str) -> list[str]:
    """e.g. a pod, deployment or node name: "web-7d4b9.example"."""
    problems = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        problems.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX} characters")
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        problems.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'example.com')"
        )
    return problems


def qualified_name(value: str) -> list[str]:
    """A label or annotation key: an optional DNS subdomain prefix, "/", then a name."""
    prefix, slash, name = value.rpartition("/")
    problems = []
    if slash:
        if not prefix:
            problems.append("prefix part must be non-empty")
        else:
            problems.extend(f"prefix part {p}" for p in dns1123_subdomain(prefix))
        if "/" in prefix:
            return [
                "a qualified name must consist of an optional DNS subdomain prefix and a name "
                "separated by a single '/' (e.g. 'example.com/MyName')"
            ]
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        problems.append(f"name part must be no more than {QUALIFIED_NAME_MAX} characters")
    elif not _QUALIFIED_NAME.fullmatch(name):
        problems.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyName', 'my.name', "
            "or '123-abc')"
        )
    return problems


def label_value(value: str) -> list[str]:
    """A label value: empty, or up to 63 of [-A-Za-z0-9_.] starting/ending alphanumeric."""
    problems = []
    if len(value) > LABEL_VALUE_MAX:
        problems.append(f"must be no more than {LABEL_VALUE_MAX} characters")
    if value and not _QUALIFIED_NAME.fullmatch(value):
        problems.append(
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyValue', or 'my_value', or '12345')"
        )
    return problems


def env_var_name(value: str) -> list[str]:
    if not _C_IDENTIFIER_ISH.fullmatch(value):
        return [
            "a valid environment variable name must consist of alphabetic characters, "
            "digits, '_', '-', or '.', and must not start with a digit"
        ]
    return []
