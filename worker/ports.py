"""Port checks before a process starts: a clear message instead of a late failure.

A second `srec up` with the default ports used to fail only inside the Temporal
server's log, while its worker went on to talk to the first instance's server. Now
each command binds-tests its ports first and stops with a message that names the
port and the option that changes it.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Port:
    """A port a command is about to listen on.

    Args:
        host: the interface it binds.
        port: the port number.
        what: what listens there, for the message ("Temporal", "API").
        option: the command-line option that changes it ("--temporal-port").
    """

    host: str
    port: int
    what: str
    option: str


def _bind_error(host: str, port: int) -> OSError | None:
    """Try to bind (host, port) as a server would; the error, or None if free."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        return OSError(errno.EADDRNOTAVAIL, f"unknown host {host!r}: {err}")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        # as the servers do: a port left in TIME_WAIT by a stopped srec is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as err:
            return err
    return None


def port_problems(ports: list[Port]) -> list[str]:
    """Say which of `ports` cannot be listened on, one message each.

    Args:
        ports: the ports a command needs, in the order to report them.

    Returns:
        Messages such as "port 7233 is in use (Temporal); choose another with
        --temporal-port"; empty when every port is free.
    """
    problems: list[str] = []
    seen: dict[int, Port] = {}
    for want in ports:
        other = seen.get(want.port)
        if other is not None:
            problems.append(
                f"port {want.port} is given to both {other.what} and {want.what}; "
                f"choose another with {want.option}"
            )
            continue
        seen[want.port] = want
        err = _bind_error(want.host, want.port)
        if err is None:
            continue
        if err.errno == errno.EADDRINUSE:
            problems.append(
                f"port {want.port} is in use ({want.what}); choose another with "
                f"{want.option}"
            )
        else:
            problems.append(
                f"cannot listen on {want.host}:{want.port} ({want.what}): "
                f"{err.strerror or err}; choose another with {want.option}"
            )
    return problems
