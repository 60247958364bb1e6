"""kubectl's describers for issue 23's kinds, one module per area (configuration,
batch, apps, storage), written as kubectl writes them: ``Label:\\tvalue`` lines at
kubectl's indent levels, aligned by :mod:`navarch.cli.navctl.tabwriter`, so that
``navctl describe`` prints what ``kubectl describe`` prints for the same object.

This module holds kubectl's helpers those describers share (labels, annotations,
selectors, times, the pod template, pod counts, the Events table). Each describer is
``async (session, obj) -> lines``; :func:`as_text` adapts it to ``navctl describe``'s
describer contract.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from navarch.cli.navctl.describe_text import Text
from navarch.cli.navctl.printing import age
from navarch.cli.navctl.session import Session, find_resource, resource_path
from navarch.cli.navctl.tabwriter import FLUSH, tabwrite
from navarch.printers.durations import parse_time

NONE = "<none>"
UNSET = "<unset>"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_ANNOTATION = 140  # kubectl's maxAnnotationLen

Lines = list[str]
KindDescriber = Callable[[Session, dict[str, Any]], Awaitable[Lines]]


def as_text(describer: KindDescriber) -> Callable[[Session, dict[str, Any], Text], Awaitable[None]]:
    """``describer`` as ``navctl describe`` calls describers: its lines, aligned,
    added to ``text`` as they are."""

    async def describe(session: Session, obj: dict[str, Any], text: Text) -> None:
        for line in tabwrite(await describer(session, obj)).splitlines():
            text.line(line)

    return describe


def level(depth: int) -> str:
    """kubectl's LEVEL_0…LEVEL_3 prefixes."""
    return "  " * depth


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def labels(title: str, values: dict[str, str] | None, indent: str = "") -> Lines:
    """printLabelsMultilineWithIndent: sorted ``key=value``, one per line."""
    items = [f"{k}={v}" for k, v in sorted((values or {}).items())]
    if not items:
        return [f"{indent}{title}:\t{NONE}"]
    return [f"{indent}{title}:\t{items[0]}", *(f"{indent}\t{item}" for item in items[1:])]


def annotation_lines(values: dict[str, str] | None, title: str = "Annotations") -> Lines:
    """printAnnotationsMultiline: ``key: value`` sorted, the last-applied configuration
    left out, a long or multi-line value under its key, each line cut at 138."""
    keys = sorted(k for k in values or {} if k != LAST_APPLIED)
    if not keys:
        return [f"{title}:\t{NONE}"]
    out: Lines = []
    for index, key in enumerate(keys):
        head = f"{title}:\t" if index == 0 else "\t"
        value = str((values or {})[key]).removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION or "\n" in value:
            out.append(f"{head}{key}:")
            out += [f"\t  {_shorten(part, MAX_ANNOTATION - 2)}" for part in value.split("\n")]
        else:
            out.append(f"{head}{key}: {value}")
    return out


def _shorten(text: str, limit: int) -> str:
    return text[:limit] + "..." if len(text) > limit else text


def format_labels(values: dict[str, str] | None) -> str:
    """labels.FormatLabels: ``a=1,b=2`` sorted, ``<none>`` if empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((values or {}).items())) or NONE


def selector_string(selector: dict[str, Any] | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String(): every requirement sorted by key,
    ``k=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``."""
    found: list[tuple[str, str]] = []
    for key, value in ((selector or {}).get("matchLabels") or {}).items():
        found.append((key, f"{key}={value}"))
    for expression in (selector or {}).get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(operator, f"{key} {operator} ({values})")
        found.append((key, text))
    return ",".join(text for _, text in sorted(found, key=lambda pair: pair[0]))


def rfc1123z(timestamp: Any) -> str:
    """Go's time.RFC1123Z: ``Mon, 07 Dec 2026 20:45:44 +0000``."""
    when = parse_time(timestamp)
    return when.strftime("%a, %d %b %Y %H:%M:%S %z") if when else ""


def bool_ptr(value: Any) -> str:
    """printBoolPtr: ``True``, ``False`` or ``<unset>``."""
    return UNSET if value is None else str(bool(value))


def go_list(values: list[Any] | None) -> str:
    """Go's ``%v`` of a slice: ``[a b]``."""
    return "[" + " ".join(str(v) for v in values or []) + "]"


def controller_of(obj: dict[str, Any]) -> str:
    """printController: ``Kind/name`` of the controlling owner, else empty."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return ""


def pod_template(template: dict[str, Any] | None) -> Lines:
    """DescribePodTemplate (``Pod Template:`` and what follows, at kubectl's levels)."""
    from navarch.cli.navctl.pod_template_text import describe_template

    return describe_template(template or {}).rstrip("\n").split("\n")


async def pod_phases(
    session: Session, owner: dict[str, Any], selector: dict[str, Any] | None
) -> str:
    """getPodStatusForController: ``N Running / N Waiting / N Succeeded / N Failed``
    of the pods the selector finds that ``owner`` controls."""
    listed = await session.request(
        "GET",
        resource_path(find_resource("pods"), meta(owner).get("namespace")),
        params={"labelSelector": selector_string(selector)},
    )
    uid = meta(owner).get("uid")
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for pod in listed.get("items") or []:
        refs = meta(pod).get("ownerReferences") or []
        if any(ref.get("controller") and ref.get("uid") == uid for ref in refs):
            phase = (pod.get("status") or {}).get("phase") or "Pending"
            counts[phase] = counts.get(phase, 0) + 1
    return (
        f"{counts['Running']} Running / {counts['Pending']} Waiting / "
        f"{counts['Succeeded']} Succeeded / {counts['Failed']} Failed"
    )


async def events(session: Session, obj: dict[str, Any]) -> Lines:
    """DescribeEvents of the events about ``obj`` (by uid): ``Events:\\t<none>``, or
    a table of its own (kubectl flushes the writer before it), oldest first."""
    listed = await session.request(
        "GET",
        resource_path(find_resource("events"), None),
        params={"fieldSelector": f"involvedObject.uid={meta(obj).get('uid')}"},
    )
    items = list(listed.get("items") or [])
    if not items:
        return [f"Events:\t{NONE}"]
    now = dt.datetime.now(dt.UTC)
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    items.sort(key=lambda e: parse_time(_last_seen(e)) or epoch)
    out = [
        FLUSH,
        "Events:",
        "  Type\tReason\tAge\tFrom\tMessage",
        "  ----\t------\t----\t----\t-------",
    ]
    for event in items:
        first = age(event.get("eventTime") or event.get("firstTimestamp"), now)
        count = int(event.get("count") or 1)
        interval = f"{age(_last_seen(event), now)} (x{count} over {first})" if count > 1 else first
        source = (event.get("source") or {}).get("component") or event.get("reportingComponent", "")
        message = str(event.get("message") or "").strip()
        out.append(
            f"  {event.get('type', '')}\t{event.get('reason', '')}\t{interval}\t{source}\t{message}"
        )
    return out


def _last_seen(event: dict[str, Any]) -> Any:
    return (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )
