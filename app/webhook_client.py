"""The webhooks' HTTP client (as app/mailer.py is the emails' SMTP client).

A receiver's URL is checked where the connection is made: only http(s); its host
resolved once and, unless private receivers are allowed (never in production),
refused when any of its addresses is loopback, private, link-local or otherwise not
public (IPv6 forms carrying an IPv4 address included); the connection then made to
those very addresses, in turn (a name that resolves elsewhere a moment later
changes nothing). Redirects are never followed (a 3xx is a failed attempt); an
attempt ends at its deadline whatever the receiver does (slow headers, a trickled
body), and at most RESPONSE_CAP bytes of the answer are read."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

RESPONSE_CAP = 64 * 1024
USER_AGENT = "LicenseRenewals-Webhooks/1"
# IPv6 ranges that carry (or translate to) an IPv4 address, and the deprecated
# site-local range: `is_global` does not cover them all.
NOT_PUBLIC_V6 = [
    ipaddress.ip_network(net)
    for net in (
        "::/96",
        "::ffff:0:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2002::/16",
        "2001::/32",
        "fec0::/10",
    )
]


class Refused(Exception):
    """The URL may not be called; the message says why, in the user's words."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query, percent-encoded
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (refused, unreachable, timed out)
    error: str | None  # why it failed; None for a 2xx


def check_syntax(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL, or Refused."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Refused("The URL is not valid.") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise Refused("The URL names no host.")
    if parts.username or parts.password:
        raise Refused("Put no user name or password in the URL: the signature proves the sender.")
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str, *, allow_private: bool) -> Target:
    """The URL's target, its host resolved once and its addresses checked."""
    scheme, host, port, path = check_syntax(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused(f"The host {host} could not be resolved.") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in addresses:
            if not _public(address):
                raise Refused(
                    f"{host} resolves to {address}, a loopback, private or link-local "
                    "address: webhooks go to public addresses only."
                )
    return Target(scheme, host, port, path, addresses)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in net for net in NOT_PUBLIC_V6):
        return False
    return ip.is_global and not ip.is_multicast


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> Answer:
    """POST `body` to `url` once, within `timeout` seconds in all; never raises."""
    try:
        target = resolve(url, allow_private=allow_private)
    except Refused as exc:
        return Answer(None, str(exc))
    connection = None
    cut = threading.Event()
    try:
        connection = _connect(target, timeout)
        deadline = threading.Timer(timeout, _cut, (connection, cut))
        deadline.start()
        try:
            connection.request(
                "POST",
                target.path,
                body=body,
                headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
            )
            response = connection.getresponse()
            response.read(RESPONSE_CAP)  # the rest is never read
            status = response.status
        finally:
            deadline.cancel()
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        if isinstance(exc, TimeoutError) or cut.is_set():
            return Answer(None, f"No answer within {timeout:g} seconds.")
        return Answer(None, f"Could not deliver: {type(exc).__name__}: {exc}"[:500])
    except Exception as exc:  # never leave a claimed attempt unrecorded
        return Answer(None, f"Could not deliver: {type(exc).__name__}: {exc}"[:500])
    finally:
        if connection is not None:
            connection.close()
    if 200 <= status < 300:
        return Answer(status, None)
    if 300 <= status < 400:
        return Answer(status, f"The receiver answered {status}: redirects are not followed.")
    return Answer(status, f"The receiver answered {status}.")


def _cut(connection: http.client.HTTPConnection, cut: threading.Event) -> None:
    """The attempt's deadline: whatever it is waiting for ends now."""
    cut.set()
    if connection.sock is not None:
        with contextlib.suppress(OSError):
            connection.sock.shutdown(socket.SHUT_RDWR)


def _connect(target: Target, timeout: float) -> http.client.HTTPConnection:
    """A connection to the first checked address that answers, speaking to the host
    by its name (Host header; for https, SNI and the certificate's name)."""
    failure: OSError | None = None
    for address in target.addresses:
        connection = _connection(target, address, timeout)
        try:
            connection.connect()
            return connection
        except OSError as exc:
            connection.close()
            failure = exc
    raise failure or OSError("no address")


def _connection(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        context = ssl.create_default_context()

        class Pinned(http.client.HTTPSConnection):
            def connect(self):
                raw = socket.create_connection((address, self.port), self.timeout)
                self.sock = context.wrap_socket(raw, server_hostname=self.host)

        return Pinned(target.host, target.port, timeout=timeout, context=context)

    class PinnedPlain(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.create_connection((address, self.port), self.timeout)

    return PinnedPlain(target.host, target.port, timeout=timeout)
