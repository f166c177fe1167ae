"""A CDN edge on loopback that serves an origin's stream to signed URLs only.

Platforms hand out stream URLs signed with a token and a deadline (Bilibili's
`expires=…&trid=…`, Huya's `wsTime`, Twitch's usher token); the edge answers 403
once the deadline passed or the token was revoked. This fake does the same in front
of a loopback origin (`LiveHls`, `LiveFlvServer`):

* a request's token is its `token_param` (default `trid`, Bilibili's); its deadline
  the `expires` parameter (Unix seconds), if any. A revoked token or a passed
  deadline is answered 403 Forbidden;
* `revoke()` revokes every token seen so far (the next URL the platform signs is
  good): a deterministic "the URL just expired";
* playlists are rewritten so every URI in them carries the request's query: the
  segments are signed like the playlist, as signed CDNs do, and 403 with it;
* an FLV body is relayed as it arrives and cut (the connection closed) as soon as
  its token is revoked or its deadline passes, as edges that enforce the deadline
  on open connections do.

`served` lists every answer (path, status, token) for the tests' checks.

    with SignedCdn(live.url) as cdn:
        api.room("3").go_live(cdn.url_for(live.url))   # the platform signs it
        ...
        cdn.revoke()                                    # the signed URL expires
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.fakes.background import BackgroundFake

log = logging.getLogger(__name__)

_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
_RELAY_BYTES = 65536


@dataclass(frozen=True)
class Answer:
    """One request the edge answered."""

    path: str
    status: int
    token: str


class SignedCdn(BackgroundFake):
    """Signed-URL edge in front of `origin` (any URL on it; only its host is used).

    Args:
        origin: a URL of the origin server (`LiveHls.url`, `LiveFlvServer.url`).
        token_param: the query parameter that carries the token.
    """

    def __init__(self, origin: str, *, token_param: str = "trid") -> None:
        parts = urlsplit(origin)
        assert parts.hostname is not None
        self.origin_host = parts.hostname
        self.origin_port = parts.port or 80
        self.token_param = token_param
        self.served: list[Answer] = []
        self._revoked: set[str] = set()
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        assert self._httpd is not None, "SignedCdn not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url_for(self, origin_url: str) -> str:
        """The edge's URL of `origin_url` (unsigned: the platform signs it)."""
        return self.base + urlsplit(origin_url).path

    def revoke(self) -> None:
        """Every token seen so far is answered 403 from now on."""
        with self._lock:
            self._revoked |= self._seen

    def statuses(self, suffix: str) -> list[int]:
        """The statuses of the answers to paths ending with `suffix`."""
        with self._lock:
            return [a.status for a in self.served if a.path.endswith(suffix)]

    def served_ok(self, suffix: str) -> list[str]:
        """Paths ending with `suffix` answered 200, in order."""
        with self._lock:
            return [
                a.path
                for a in self.served
                if a.path.endswith(suffix) and a.status == 200
            ]

    def valid(self, query: dict[str, list[str]]) -> bool:
        """Whether a URL with this query may be served now."""
        token = query.get(self.token_param, [""])[0]
        expires = query.get("expires", [""])[0]
        with self._lock:
            self._seen.add(token)
            if token in self._revoked:
                return False
        return not (expires.isdigit() and time.time() >= int(expires))

    def start(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _note(self, path: str, status: int, query: dict[str, list[str]]) -> None:
        with self._lock:
            self.served.append(
                Answer(path, status, query.get(self.token_param, [""])[0])
            )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        cdn = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle(self) -> None:
                # a recorder that was stopped resets its connection: not news
                with contextlib.suppress(ConnectionError):
                    super().handle()

            def do_GET(self) -> None:
                path, _, raw_query = self.path.partition("?")
                query = parse_qs(raw_query)
                if not cdn.valid(query):
                    cdn._note(path, 403, query)
                    self._reply(403, b"token expired", "text/plain")
                    return
                origin = http.client.HTTPConnection(
                    cdn.origin_host, cdn.origin_port, timeout=10
                )
                try:
                    origin.request("GET", path)
                    answer = origin.getresponse()
                    cdn._note(path, answer.status, query)
                    if answer.status != 200:
                        self._reply(answer.status, answer.read(), "text/plain")
                    elif path.endswith(".flv"):
                        self._relay(answer, query)
                    elif path.endswith(".m3u8"):
                        text = answer.read().decode()
                        body = _signed_playlist(text, raw_query).encode()
                        self._reply(200, body, "application/vnd.apple.mpegurl")
                    else:
                        self._reply(200, answer.read(), "video/mp2t")
                except OSError as err:
                    log.debug("signed cdn: %s: %r", path, err)
                finally:
                    origin.close()

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _relay(
                self, answer: http.client.HTTPResponse, query: dict[str, list[str]]
            ) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/x-flv")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                while chunk := answer.read1(_RELAY_BYTES):
                    if not cdn.valid(query):
                        log.debug("signed cdn: cutting %s: token expired", self.path)
                        return
                    self.wfile.write(chunk)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("signed cdn: " + format, *args)

        return Handler


def _signed_playlist(text: str, query: str) -> str:
    """`text` with the request's query on every URI (segments, keys, maps)."""

    def sign(uri: str) -> str:
        if not query or uri.startswith("data:"):
            return uri
        return f"{uri}{'&' if '?' in uri else '?'}{query}"

    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            line = _URI_ATTRIBUTE.sub(lambda m: f'URI="{sign(m.group(1))}"', line)
        elif line.strip():
            line = sign(line.strip())
        lines.append(line)
    return "\n".join(lines) + "\n"
