#!/usr/bin/python3
"""Reference server for bench/run: the same wire protocol as Runwatch (the parts the load generator
uses), written the way a typical Python backend is written: FastAPI on uvicorn, a ConnectionManager
holding each run's subscriber WebSockets, and a broadcast() that sends to them one after another.

    /usr/bin/python3 bench/peers/fastapi_peer.py [--host 127.0.0.1] [--port 0]

/ws takes {"op": "publish", "id": N, "events": [...]}: every event gets the next seq, is kept in
memory (a list) and broadcast to that run's subscribers as one envelope, then the publish is acked
with {"type": "ack", "id": N, "seq": [...]}. /ws/runs/{run} subscribes to one run (replay=0 skips
the history). Both send a welcome first. History lives in memory only: nothing is written to disk.

Needs Debian's python3-fastapi, python3-uvicorn and python3-websockets (python3-uvloop is used when
installed, as uvicorn[standard] would). Prints one line once it accepts connections:
    fastapi_peer listening on http://HOST:PORT
"""
import argparse
import asyncio
import json
import socket
import sys
import uuid
from collections import defaultdict
from datetime import datetime, timezone

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ConnectionManager:
    def __init__(self) -> None:
        self.subscribers: dict[str, list[WebSocket]] = defaultdict(list)

    def connect(self, run: str, websocket: WebSocket) -> None:
        self.subscribers[run].append(websocket)

    def disconnect(self, run: str, websocket: WebSocket) -> None:
        if websocket in self.subscribers[run]:
            self.subscribers[run].remove(websocket)

    async def broadcast(self, run: str, message: str) -> None:
        for websocket in list(self.subscribers[run]):
            try:
                await websocket.send_text(message)
            except Exception:
                self.disconnect(run, websocket)


class EventLog:
    """Every accepted event, in order, with a server-wide increasing seq."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.events: list[dict] = []

    def append(self, event: dict) -> dict:
        self.last_seq += 1
        envelope = {
            "seq": self.last_seq,
            "run": event["run"],
            "type": event["type"],
            "ts": now_rfc3339(),
            "data": event.get("data", {}),
        }
        if "step" in event:
            envelope["step"] = event["step"]
        self.events.append(envelope)
        return envelope


manager = ConnectionManager()
log = EventLog()


async def welcome(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {"type": "welcome", "client_id": uuid.uuid4().hex, "protocol": 1, "last_seq": log.last_seq}
    )


@app.websocket("/ws")
async def producer_socket(websocket: WebSocket):
    await welcome(websocket)
    try:
        while True:
            message = json.loads(await websocket.receive_text())
            if message.get("op") != "publish":
                await websocket.send_json({"type": "error", "code": "UNKNOWN_OP", "message": "only publish is served"})
                continue
            events = message.get("events") or [message.get("event")]
            seqs = []
            for event in events:
                envelope = log.append(event)
                seqs.append(envelope["seq"])
                await manager.broadcast(envelope["run"], json.dumps(envelope))
            if "id" in message:
                await websocket.send_json({"type": "ack", "id": message["id"], "seq": seqs})
    except WebSocketDisconnect:
        pass


@app.websocket("/ws/runs/{run}")
async def run_socket(websocket: WebSocket, run: str, replay: str = "1"):
    await welcome(websocket)
    if replay != "0":
        for envelope in log.events:
            if envelope["run"] == run:
                await websocket.send_text(json.dumps(envelope))
    manager.connect(run, websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        manager.disconnect(run, websocket)


def main() -> int:
    parser = argparse.ArgumentParser(description="FastAPI reference server for bench/run")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()

    # Bind here so that the printed port is the real one, also for --port 0.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    host, port = sock.getsockname()[:2]

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    config.setup_event_loop()  # uvloop when it is installed, as uvicorn itself does
    loop_name = type(asyncio.get_event_loop_policy()).__module__.split(".")[0]

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            print(f"fastapi_peer listening on http://{host}:{port} (loop {loop_name})", flush=True)
        await task

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
