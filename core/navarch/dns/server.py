"""The cluster DNS server's transport: UDP and TCP on one address and port, in the
agent's event loop. dnspython does the wire format; this module only frames it.

- UDP: one datagram, one answer. The answer fits the client's buffer: 512 bytes
  without EDNS, the EDNS payload size the query advertised (at most
  ``MAX_UDP_PAYLOAD``) with it. What does not fit is cut at a whole RRset with TC set,
  and the client asks again over TCP (RFC 1035 4.2.1, RFC 6891 6.2.5).
- TCP: each message preceded by its two-byte length (RFC 1035 4.2.2, RFC 7766);
  several queries per connection; a connection idle for ``TCP_IDLE_SECONDS`` is closed.
- A name outside the cluster gets an answer at once: REFUSED (this server does no
  recursion), unless ``upstreams`` are given, where it is forwarded with a short
  timeout (SERVFAIL when none answers). Forwarding is off by default: the agent runs
  in the node's network namespace, where the host's resolvers may not be reachable,
  and a pod's resolver must never hang on a name it asked by mistake.
- A message that is not a query we can read: FORMERR when its header is readable
  (the client learns at once), nothing otherwise; another opcode: NOTIMP.

Answers are remembered by the query's bytes after its ID (a pod asks the same few
names again and again; the bytes hold the name as asked, the flags and EDNS, so the
same bytes always get the same answer) until the zone changes: a repeated question
costs a dictionary look-up instead of parsing and rendering (~10x).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rrset
from loguru import logger

from navarch.dns.answers import DEFAULT_TTL, resolve
from navarch.dns.zone import ClusterZone

MAX_UDP_PAYLOAD = 1232  # the DNS flag day 2020 size: no IP fragmentation on any path
CLASSIC_UDP_PAYLOAD = 512
OUR_EDNS_PAYLOAD = MAX_UDP_PAYLOAD
TCP_IDLE_SECONDS = 10.0
UPSTREAM_TIMEOUT_SECONDS = 2.0
CACHED_ANSWERS = 10_000

log = logger.bind(component="dns")


def split_host_port(address: str, default_port: int = 53) -> tuple[str, int]:
    """``10.0.0.1``, ``10.0.0.1:5353``, ``[::1]:53``, ``::1`` -> (host, port)."""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if address.count(":") == 1:
        host, _, port = address.partition(":")
        return host, int(port)
    return address, default_port


class DnsServer:
    """Answers from ``zone`` on ``host``:``port`` (UDP and TCP; port 0 picks a free
    port, the same for both). ``ttl`` is every record's TTL and the negative TTL;
    ``upstreams`` (``ip`` or ``ip:port``) enable forwarding of other names."""

    def __init__(
        self,
        zone: ClusterZone,
        host: str = "127.0.0.1",
        port: int = 53,
        *,
        ttl: int = DEFAULT_TTL,
        upstreams: Sequence[str] = (),
        upstream_timeout: float = UPSTREAM_TIMEOUT_SECONDS,
    ):
        self.zone = zone
        self.host = host
        self.port = port
        self.ttl = ttl
        self.upstreams = [split_host_port(u) for u in upstreams]
        self.upstream_timeout = upstream_timeout
        self.queries = 0  # answered, for /metrics-style counting and the tests
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._pending: set[asyncio.Task[None]] = set()
        # (over UDP, the query after its ID) -> the answer after its ID
        self._answers: OrderedDict[tuple[bool, bytes], bytes] = OrderedDict()
        self._answers_generation = -1

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        # Port 0: the port UDP got may be taken for TCP; another pick then.
        for attempt in range(5 if self.port == 0 else 1):
            try:
                await self._bind(self.port)
                break
            except OSError:
                if attempt == 4 or self.port != 0:
                    raise
        log.bind(address=self.host, port=self.port, forwarding=bool(self.upstreams)).info(
            "cluster DNS serving"
        )

    async def _bind(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self), local_addr=(self.host, port)
        )
        bound = transport.get_extra_info("sockname")[1]
        try:
            self._tcp = await asyncio.start_server(self._serve_tcp, self.host, bound)
        except OSError:
            transport.close()
            raise
        self._udp = transport
        self.port = bound

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 2.0)
            self._tcp = None
        for task in list(self._pending):
            task.cancel()

    async def __aenter__(self) -> DnsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- one message -----------------------------------------------------------------

    def answer(self, wire: bytes) -> tuple[dns.message.Message | None, dns.message.Message | None]:
        """(the query, the response) for ``wire``; the response is None when the query
        must be forwarded (then the query is returned) or cannot be answered at all."""
        try:
            query = dns.message.from_wire(wire)
        except dns.message.ShortHeader:
            return None, None
        except dns.exception.DNSException as exc:
            return None, _error_reply(wire, dns.rcode.FORMERR, str(exc))
        if query.flags & dns.flags.QR:
            return None, None  # a response sent to us: never answer one (loops)
        response = dns.message.make_response(query, our_payload=OUR_EDNS_PAYLOAD)
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return query, response
        if query.edns > 0:  # only EDNS version 0 exists (RFC 6891 6.1.3)
            response.set_rcode(dns.rcode.BADVERS)
            return query, response
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return query, response
        question = query.question[0]
        found = None
        if question.rdclass == dns.rdataclass.IN:
            found = resolve(self.zone, question.name, question.rdtype, self.ttl)
        if found is None:
            if self.upstreams:
                return query, None
            response.set_rcode(dns.rcode.REFUSED)
            return query, response
        response.flags |= dns.flags.AA
        response.set_rcode(found.rcode)
        response.answer.extend(found.answer)
        response.authority.extend(found.authority)
        response.additional.extend(found.additional)
        return query, response

    async def forward(self, query: dns.message.Message) -> dns.message.Message:
        """The first upstream's answer to ``query``, or SERVFAIL."""
        for host, port in self.upstreams:
            try:
                reply = await dns.asyncquery.udp(
                    query, host, timeout=self.upstream_timeout, port=port
                )
                if reply.flags & dns.flags.TC:
                    reply = await dns.asyncquery.tcp(
                        query, host, timeout=self.upstream_timeout, port=port
                    )
                return reply
            except (dns.exception.DNSException, OSError) as exc:
                log.bind(upstream=f"{host}:{port}", error=str(exc) or type(exc).__name__).debug(
                    "upstream did not answer"
                )
        response = dns.message.make_response(query, our_payload=OUR_EDNS_PAYLOAD)
        response.set_rcode(dns.rcode.SERVFAIL)
        return response

    async def reply(self, wire: bytes) -> dns.message.Message | None:
        query, response = self.answer(wire)
        if response is None and query is not None:
            response = await self.forward(query)
        if response is not None:
            self.queries += 1
        return response

    def _cached(self, udp: bool, wire: bytes) -> bytes | None:
        if self._answers_generation != self.zone.generation:
            self._answers.clear()
            self._answers_generation = self.zone.generation
        found = self._answers.get((udp, wire[2:]))
        if found is None:
            return None
        self._answers.move_to_end((udp, wire[2:]))
        return wire[:2] + found

    def _remember(self, udp: bool, wire: bytes, answer: bytes) -> None:
        if self._answers_generation != self.zone.generation:
            return  # the zone changed while this answer was made
        self._answers[(udp, wire[2:])] = answer[2:]
        if len(self._answers) > CACHED_ANSWERS:
            self._answers.popitem(last=False)

    # --- UDP -------------------------------------------------------------------------

    def _datagram(self, wire: bytes, peer: Any) -> None:
        cached = self._cached(True, wire)
        if cached is not None and self._udp is not None:
            self.queries += 1
            self._udp.sendto(cached, peer)
            return
        query, response = self.answer(wire)
        if response is not None:
            self.queries += 1
            rendered = self._send_udp(query, response, peer)
            if rendered is not None and query is not None:
                self._remember(True, wire, rendered)
        elif query is not None:
            task = asyncio.create_task(self._forward_udp(query, peer))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _forward_udp(self, query: dns.message.Message, peer: Any) -> None:
        response = await self.forward(query)
        self.queries += 1
        self._send_udp(query, response, peer)

    def _send_udp(
        self, query: dns.message.Message | None, response: dns.message.Message, peer: Any
    ) -> bytes | None:
        if self._udp is None:
            return None
        limit = CLASSIC_UDP_PAYLOAD
        if query is not None and query.edns >= 0:
            limit = max(CLASSIC_UDP_PAYLOAD, min(query.payload, MAX_UDP_PAYLOAD))
        try:
            wire = fit(response, limit)
        except dns.exception.DNSException as exc:
            log.bind(error=str(exc)).warning("could not render a DNS answer")
            return None
        self._udp.sendto(wire, peer)
        return wire

    # --- TCP -------------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    header = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_SECONDS)
                    (length,) = struct.unpack("!H", header)
                    wire = await asyncio.wait_for(reader.readexactly(length), TCP_IDLE_SECONDS)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                response = await self.reply(wire)
                if response is None:
                    return  # unreadable: nothing sensible to say on this stream
                writer.write(
                    response.to_wire(max_size=65535, prefer_truncation=True, prepend_length=True)
                )
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer):
        self.server = server

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            self.server._datagram(data, addr)
        except Exception as exc:  # one bad datagram never stops the server
            log.opt(exception=exc).error("DNS query failed")

    def error_received(self, exc: Exception) -> None:
        log.bind(error=str(exc)).debug("UDP error (a client went away)")


def fit(response: dns.message.Message, limit: int) -> bytes:
    """``response`` in at most ``limit`` bytes. Too big: the additional section goes
    first (no TC: nothing the question asked is missing, RFC 2181 9); then as many
    answer records as fit are kept, with TC set. Keeping some records rather than none
    (CoreDNS does the same) serves resolvers that never retry over TCP (musl before
    1.2.4, in many small images) with part of the set instead of nothing."""
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        pass
    response.additional.clear()
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        pass
    records = [(rrset, record) for rrset in response.answer for record in rrset]
    response.authority.clear()
    response.flags |= dns.flags.TC
    low, high = 0, len(records)
    while low < high:  # the most records that fit: ``low`` always fits
        middle = (low + high + 1) // 2
        response.answer = _first(records, middle)
        try:
            response.to_wire(max_size=limit)
            low = middle
        except dns.exception.TooBig:
            high = middle - 1
    response.answer = _first(records, low)
    return response.to_wire(max_size=limit, prefer_truncation=True)


def _first(records: list[tuple[Any, Any]], count: int) -> list[Any]:
    """RRsets holding the first ``count`` records, in order."""
    rrsets: list[Any] = []
    for rrset, record in records[:count]:
        if not rrsets or rrsets[-1].name != rrset.name or rrsets[-1].rdtype != rrset.rdtype:
            rrsets.append(dns.rrset.RRset(rrset.name, rrset.rdclass, rrset.rdtype))
        rrsets[-1].add(record, rrset.ttl)
    return rrsets


def _error_reply(wire: bytes, rcode: dns.rcode.Rcode, why: str) -> dns.message.Message | None:
    """A bare reply with ``rcode`` to a message whose header, at least, is readable."""
    if len(wire) < 12:
        return None
    (query_id, flags) = struct.unpack("!HH", wire[:4])
    if flags & dns.flags.QR:
        return None
    reply = dns.message.Message(id=query_id)
    reply.flags = dns.flags.QR | (flags & dns.flags.RD)
    reply.set_opcode(dns.opcode.from_flags(flags))
    reply.set_rcode(rcode)
    log.bind(error=why).debug("malformed DNS query")
    return reply
