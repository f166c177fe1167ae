"""`/api/ws/events`: the dashboard's live events over a WebSocket.

Authentication is the first message, `{"token": "<access token>"}`, sent within
`AUTH_TIMEOUT_SECS` of the connection; the token never goes into a URL, where
proxies and access logs would keep it. The server answers
`{"type": "hello", "expires_at": ...}` and then streams the events of
`api.live_events` (one JSON object per message, fanned out by `api.event_hub`).
It closes the socket with code 4401 on a missing or invalid token and when the
token expires (the client reconnects with its refreshed token), and with 4408
when the client fell behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.auth import InvalidTokenError

if TYPE_CHECKING:
    from api.auth import TokenSigner
    from api.event_hub import EventHub

log = logging.getLogger(__name__)

router = APIRouter()

AUTH_TIMEOUT_SECS = 10.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408


async def _authenticate(websocket: WebSocket, signer: TokenSigner) -> datetime | None:
    """The token's expiry, or None after closing the socket with the reason."""
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_SECS)
        token = json.loads(raw)["token"]
        if not isinstance(token, str):
            raise TypeError("token is not a string")
        claims = signer.verify(token, "access")
    except TimeoutError:
        await websocket.close(CLOSE_UNAUTHORIZED, "no token sent")
        return None
    except (ValueError, KeyError, TypeError, InvalidTokenError):
        await websocket.close(CLOSE_UNAUTHORIZED, 'send {"token": <access token>}')
        return None
    return claims.expires_at


@router.websocket("/api/ws/events")
async def events(websocket: WebSocket) -> None:
    """Stream the app's live events to an authenticated client."""
    await websocket.accept()
    signer: TokenSigner = websocket.app.state.signer
    hub: EventHub = websocket.app.state.event_hub
    try:
        expires_at = await _authenticate(websocket, signer)
    except WebSocketDisconnect:
        return
    if expires_at is None:
        return
    queue = await hub.subscribe()
    # the client sends nothing more; reading notices it leaving
    reader = asyncio.create_task(_drain(websocket))
    try:
        await websocket.send_json(
            {"type": "hello", "expires_at": expires_at.isoformat()}
        )
        while True:
            left = (expires_at - datetime.now(UTC)).total_seconds()
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {getter, reader}, timeout=max(left, 0), return_when="FIRST_COMPLETED"
            )
            if reader in done:
                getter.cancel()
                return
            if getter not in done:
                getter.cancel()
                await websocket.close(CLOSE_UNAUTHORIZED, "token expired")
                return
            event = getter.result()
            if event is None:
                await websocket.close(CLOSE_TOO_SLOW, "fell behind; reconnect")
                return
            await websocket.send_json(event)
    except WebSocketDisconnect:
        return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await reader
        hub.unsubscribe(queue)


async def _drain(websocket: WebSocket) -> None:
    """Read and ignore until the client disconnects."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
