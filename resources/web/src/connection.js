// The connection to the server: the token, REST calls, and WebSocket streams that resume after a drop
// (?since=<last seq seen>, reconnecting with backoff), with the connection indicator in the header.
import { $ } from './dom.js';
import { throttle } from './timing.js';
import { dbg } from './debug.js';

const TOKEN_KEY = 'runwatch.token';

export const enc = encodeURIComponent;

const query = new URLSearchParams(location.search);
if (query.has('token')) {
    sessionStorage.setItem(TOKEN_KEY, query.get('token'));
    query.delete('token');
    const rest = query.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
}
let token = sessionStorage.getItem(TOKEN_KEY) || '';
export function hasToken() { return !!token; }
// A token entered by the user; an empty one is not kept.
export function setToken(t) {
    token = t;
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
}
export function forgetToken() { token = ''; sessionStorage.removeItem(TOKEN_KEY); }

// What happens when the server wants a token (set by main.js): fn(code), the server's error code.
let authRequired = () => {};
export function onAuthRequired(fn) { authRequired = fn; }

export class AuthError extends Error {
    constructor(code) { super(code); this.code = code; }
}

export async function api(path) {
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    const r = await fetch(path, { headers, cache: 'no-store' });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (r.status === 401) throw new AuthError((body && body.error && body.error.code) || 'AUTH_REQUIRED');
    if (!r.ok) {
        const err = new Error((body && body.error && body.error.message) || `${r.status} ${r.statusText}`);
        err.status = r.status;
        err.code = body && body.error && body.error.code;
        throw err;
    }
    return { data: body, headers: r.headers };
}

// The body as text (the CSV endpoints), with the same errors as api().
export async function apiText(path) {
    const headers = token ? { Authorization: 'Bearer ' + token } : {};
    const r = await fetch(path, { headers, cache: 'no-store' });
    const text = await r.text();
    if (r.ok) return text;
    let body = null;
    try { body = JSON.parse(text); } catch (e) { body = null; }
    if (r.status === 401) throw new AuthError((body && body.error && body.error.code) || 'AUTH_REQUIRED');
    const err = new Error((body && body.error && body.error.message) || `${r.status} ${r.statusText}`);
    err.status = r.status;
    throw err;
}

// ---------------------------------------------------------------- streams
const streams = new Set();
const renderConn = throttle(() => {
    const conn = $('conn');
    let state = 'live', text = 'live';
    if (!streams.size) { state = 'connecting'; text = 'connecting…'; }
    for (const s of streams) {
        if (s.state === 'auth') { state = 'auth'; text = 'token needed'; break; }
        if (s.state === 'reconnecting') {
            state = navigator.onLine === false ? 'offline' : 'reconnecting';
            const left = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
            text = (navigator.onLine === false ? 'offline · ' : 'disconnected · ') + `retry in ${left}s` + (s.closeReason ? ` (${s.closeReason})` : '');
        } else if (s.state === 'connecting' && state === 'live') { state = 'connecting'; text = 'connecting…'; }
    }
    conn.dataset.state = state;
    conn.textContent = text;
    dbg.state = state;
}, 100);

// One WebSocket path with resume: every event with a seq above `since` is delivered once, in order;
// after a drop it reconnects with exponential backoff and ?since=<last seq seen>.
export class Stream {
    constructor(path, handlers) {
        this.path = path;
        this.h = handlers;
        this.ws = null;
        this.state = 'connecting';
        this.attempt = 0;
        this.timer = null;
        this.lastByRun = new Map();
        streams.add(this);
    }
    start(since) { this.since = since; this.open(); }
    setState(s) { this.state = s; renderConn(); }
    open() {
        clearTimeout(this.timer);
        const q = new URLSearchParams();
        if (token) q.set('token', token);
        q.set('since', String(this.since));
        const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + this.path + '?' + q;
        this.setState('connecting');
        let ws;
        try { ws = new WebSocket(url); } catch (e) { this.retry('cannot connect'); return; }
        this.ws = ws;
        let lastError = null;
        ws.onmessage = (m) => {
            if (ws !== this.ws) return;
            let msg;
            try { msg = JSON.parse(m.data); } catch (e) { return; }
            if (msg.type === 'batch' && Array.isArray(msg.events)) {
                for (const e of msg.events) this.deliver(e);
                if (this.h.flush) this.h.flush();
            } else if (typeof msg.seq === 'number') {
                this.deliver(msg);
                if (this.h.flush) this.h.flush();
            } else if (msg.type === 'welcome') {
                this.attempt = 0;
                this.closeReason = '';
                dbg.connects++;
                $('server-info').textContent = `${msg.server || 'runwatch'} ${msg.version || ''}` + (msg.role && msg.role !== 'admin' && msg.role !== 'none' ? ` · ${msg.role}` : '');
                if (this.h.welcome) this.h.welcome(ws, msg);
                this.setState('live');
            } else if (msg.type === 'subscribed') {
                dbg.subscribed++;
            } else if (msg.type === 'error') {
                lastError = msg;
            } else if (msg.type === 'run_deleted' && this.h.deleted) {
                this.h.deleted(msg.run);
            }
        };
        ws.onclose = (ev) => {
            if (ws !== this.ws) return;
            this.ws = null;
            if (this.stopped) return;
            if (ev.code === 4401) {
                this.setState('auth');
                authRequired((lastError && lastError.code) || 'AUTH_REQUIRED');
                return;
            }
            this.retry(ev.code === 1001 ? 'server restarting' : ev.code === 4008 ? 'fell behind' : ev.code === 1006 ? 'connection lost' : `closed ${ev.code}`, ev.code === 4008);
        };
    }
    deliver(e) {
        const run = e.run;
        const last = this.lastByRun.get(run);
        if (last !== undefined && e.seq <= last) { dbg.duplicates++; return; }
        this.lastByRun.set(run, e.seq);
        if (e.seq > this.since) this.since = e.seq;
        this.h.event(e);
    }
    retry(reason, soon) {
        const delay = soon ? 100 : Math.min(15000, 500 * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
        this.attempt = Math.min(this.attempt + 1, 10);
        this.closeReason = reason;
        this.retryAt = Date.now() + delay;
        this.setState('reconnecting');
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.open(), delay);
    }
    retryNow() { if (this.state === 'reconnecting' && !this.stopped) this.open(); }
    stop() {
        this.stopped = true;
        clearTimeout(this.timer);
        streams.delete(this);
        if (this.ws) { const ws = this.ws; this.ws = null; ws.close(1000); }
        renderConn();
    }
}
window.addEventListener('online', () => { for (const s of streams) s.retryNow(); });
document.addEventListener('visibilitychange', () => { if (!document.hidden) for (const s of streams) s.retryNow(); });

// Every stream stopped (a new start, or a token is needed).
export function stopStreams() { for (const s of [...streams]) s.stop(); }
// The reconnect countdown ticks (called every second).
export function tickConnection() { for (const s of streams) if (s.state === 'reconnecting') { renderConn(); break; } }
