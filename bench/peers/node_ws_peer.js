#!/usr/bin/env node
// Reference server for bench/run: the same wire protocol as Runwatch (the parts the load generator
// uses), written with npm's `ws` library the way its documentation broadcasts: one JSON.stringify
// per event, then send() to every open client, here only to the subscribers of that event's run.
//
//   node bench/peers/node_ws_peer.js [--host 127.0.0.1] [--port 0]
//
// /ws takes {"op": "publish", "id": N, "events": [...]}: every event gets the next seq, is kept in
// memory (an array) and sent to that run's subscribers as one envelope, then the publish is acked
// with {"type": "ack", "id": N, "seq": [...]}. /ws/runs/{run} subscribes to one run (replay=0 skips
// the history). Both send a welcome first. History lives in memory only: nothing is written to disk.
// Prints one line once it accepts connections: node_ws_peer listening on http://HOST:PORT
'use strict';

const http = require('http');
const crypto = require('crypto');
const { WebSocketServer, WebSocket } = require('ws');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const host = option('host', '127.0.0.1');
const port = Number(option('port', '0'));

let lastSeq = 0;
const history = [];
const subscribers = new Map(); // run id -> Set of WebSocket

function welcome(ws) {
  ws.send(JSON.stringify({ type: 'welcome', client_id: crypto.randomUUID(), protocol: 1, last_seq: lastSeq }));
}

function broadcast(run, data) {
  const clients = subscribers.get(run);
  if (!clients) return;
  clients.forEach((client) => {
    if (client.readyState === WebSocket.OPEN) client.send(data);
  });
}

function publish(ws, message) {
  const events = message.events || [message.event];
  const seqs = [];
  for (const event of events) {
    const envelope = { seq: ++lastSeq, run: event.run, type: event.type, ts: new Date().toISOString(), data: event.data || {} };
    if (event.step !== undefined) envelope.step = event.step;
    history.push(envelope);
    seqs.push(envelope.seq);
    broadcast(envelope.run, JSON.stringify(envelope));
  }
  if (message.id !== undefined) ws.send(JSON.stringify({ type: 'ack', id: message.id, seq: seqs }));
}

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'Content-Type': 'application/json' });
  res.end('{"error":"not found"}');
});
const wss = new WebSocketServer({ server, maxPayload: 16 * 1024 * 1024 });

wss.on('connection', (ws, req) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/ws') {
    welcome(ws);
    ws.on('message', (raw) => {
      let message;
      try {
        message = JSON.parse(raw);
      } catch (e) {
        ws.send(JSON.stringify({ type: 'error', code: 'BAD_JSON', message: String(e) }));
        return;
      }
      if (message.op === 'publish') publish(ws, message);
      else ws.send(JSON.stringify({ type: 'error', code: 'UNKNOWN_OP', message: 'only publish is served' }));
    });
    return;
  }
  const match = /^\/ws\/runs\/([^/]+)$/.exec(url.pathname);
  if (!match) {
    ws.close(1008, 'unknown path');
    return;
  }
  const run = decodeURIComponent(match[1]);
  welcome(ws);
  if (url.searchParams.get('replay') !== '0') {
    for (const envelope of history) if (envelope.run === run) ws.send(JSON.stringify(envelope));
  }
  if (!subscribers.has(run)) subscribers.set(run, new Set());
  subscribers.get(run).add(ws);
  ws.on('close', () => subscribers.get(run).delete(ws));
});

server.listen(port, host, () => {
  const address = server.address();
  console.log(`node_ws_peer listening on http://${address.address}:${address.port} (ws ${require('ws/package.json').version})`);
});

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
