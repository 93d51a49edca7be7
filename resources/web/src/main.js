// Runwatch web dashboard. Speaks docs/protocol.md: REST for a snapshot, then WebSocket for everything
// live (/ws/runs for the runs list, /ws/runs/{run}?since=N for the open run, and a /ws connection
// subscribed to "*" for the event log of every run and the runs overlaid in the charts). No polling.
'use strict';
(() => {
const MAX_POINTS = 2000;          // points per metric asked from the server; the client keeps < 2x that
const LOG_KEEP = 10000;           // events of the open run kept for the log
const LIVE_KEEP = 20000;          // live events of all runs kept for the log
const LOG_SHOW = 2000;            // rows rendered; older rows are dropped
const OUTPUT_KEEP = 500000;       // characters of token output kept
const FULL_HISTORY_EVENTS = 20000; // runs with up to this many events load their whole event history
const TAIL_SEQS = 5000;           // otherwise the log starts this many seqs before the run's last seq
const TOKEN_KEY = 'runwatch.token';
const STEPS_IN_SUMMARY = 1000;    // the run summary lists at most this many steps
const STEPS_PAGE = 250;           // rows of a large step table fetched and shown at a time

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const dbg = window.__runwatch = {
    seenSeqs: [], runsSeqs: [], duplicates: 0, overlapSkipped: 0, connects: 0, state: 'connecting', run: null, openedMs: null,
    charts: 0, points: 0, subscribed: 0, logRows: 0, xMode: 'step', overlay: [], overlayLoads: 0, chartBuilds: 0,
    // What the charts show: one entry per chart with its x range and legend labels.
    chartInfo: () => (view ? [...view.charts.values()].map((c) => c.info()) : []),
};
// Seqs the "*" stream delivered, in order (not enumerable, so state dumps stay short).
Object.defineProperty(dbg, 'allSeqs', { value: [], writable: true, enumerable: false });

// ---------------------------------------------------------------- token
const query = new URLSearchParams(location.search);
if (query.has('token')) {
    sessionStorage.setItem(TOKEN_KEY, query.get('token'));
    query.delete('token');
    const rest = query.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
}
let token = sessionStorage.getItem(TOKEN_KEY) || '';

class AuthError extends Error {
    constructor(code) { super(code); this.code = code; }
}

async function api(path) {
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
async function apiText(path) {
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

// ---------------------------------------------------------------- formatting
const nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const cf = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
// Counts in a narrow column: 12,345, then 320K, 1.2M.
function fmtCount(v) { return typeof v === 'number' && Math.abs(v) >= 100000 ? cf.format(v) : fmtNum(v); }
function fmtNum(v) {
    if (v === null || v === undefined) return '';
    if (typeof v !== 'number') return String(v);
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return '+∞';
    if (v === -Infinity) return '−∞';
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e7)) return v.toExponential(3);
    if (Number.isInteger(v)) return nf.format(v);
    return String(+v.toPrecision(a >= 1000 ? 7 : 5));
}
function fmtTick(v) {
    if (v === null || v === undefined) return '';
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e7)) return v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
    return String(+v.toPrecision(6));
}
function fmtDuration(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return '';
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
    if (m) return `${m}m ${String(sec).padStart(2, '0')}s`;
    return `${sec}s`;
}
function fmtTime(ts) {
    const d = new Date(ts);
    if (Number.isNaN(d.getTime())) return '';
    return d.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}
function parseValue(v) {
    if (typeof v === 'number') return v;
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    return undefined;
}
function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
}
// A percentage that never rounds up to 100 before the end: 32 %, 32.5 %, 99.9 %.
function fmtPct(f) {
    const p = Math.floor(f * 1000) / 10;
    return (Number.isInteger(p) ? String(p) : p.toFixed(1)) + ' %';
}
const FINISHED = new Set(['completed', 'failed', 'cancelled']);
// A run that ended with less done than its total (the server says so; live events are worked out here).
function stoppedEarly(s) {
    if (!s || !FINISHED.has(s.status)) return false;
    if (s.stopped_early === true) return true;
    const c = num(s.completed), t = num(s.total);
    return c !== null && t !== null && t > 0 && c < t;
}
function setBar(bar, fraction, status, early) {
    const f = fraction === null || fraction === undefined || !Number.isFinite(fraction) ? null : Math.max(0, Math.min(1, fraction));
    bar.querySelector('.fill').style.width = f === null ? '0' : (f * 100).toFixed(1) + '%';
    bar.querySelector('.label').textContent = f === null ? '' : fmtPct(f);
    bar.classList.toggle('completed', status === 'completed' && !early);
    bar.classList.toggle('stopped', status === 'completed' && !!early);
    bar.classList.toggle('failed', status === 'failed');
}
function makeBar(fraction, status, early) {
    const bar = el('div', 'bar');
    bar.append(el('div', 'fill'), el('span', 'label'));
    setBar(bar, fraction, status, early);
    return bar;
}
// "320,000 of 1,000,000 done": what a progress bar stands for, for its tooltip.
function progressTitle(s) {
    const c = num(s.completed), t = num(s.total);
    if (c === null || t === null) return '';
    return `${nf.format(c)} of ${nf.format(t)} done` + (stoppedEarly(s) ? ' — the run ended before its total' : '');
}
// Events per second over the last ten seconds of arrivals.
class RateMeter {
    constructor(windowMs = 10000) { this.w = windowMs; this.t = []; this.since = performance.now(); }
    note(n = 1) { const now = performance.now(); for (let i = 0; i < n; i++) this.t.push(now); if (this.t.length > 100000) this.t.splice(0, 50000); }
    rate() {
        const now = performance.now();
        let i = 0;
        while (i < this.t.length && this.t[i] < now - this.w) i++;
        if (i) this.t.splice(0, i);
        const span = Math.min(this.w, now - this.since) / 1000;
        return span >= 1 ? this.t.length / span : null;
    }
}
// A rate with its unit: "19.8 steps/s", "1,240 events/s".
function fmtRate(r, unit) {
    if (r === null || r === undefined || !Number.isFinite(r)) return '';
    return `${fmtNum(r >= 100 ? Math.round(r) : r === 0 ? 0 : +r.toPrecision(3))} ${unit}/s`;
}
// What a run's progress counts: items of an evaluation, steps of anything else.
const progressUnit = (s) => (s.kind === 'evaluation' ? 'items' : 'steps');
// "samples_per_second" is in samples/s, "tokens_per_sec" in tokens/s.
function metricUnit(name) {
    const m = /^(?:.*\/)?([^/]+?)_(?:per_?(?:second|sec|s)|ps)$/i.exec(name);
    return m ? m[1] + '/s' : '';
}
function num(v) { return typeof v === 'number' && Number.isFinite(v) ? v : (typeof v === 'string' && v !== '' && Number.isFinite(+v) ? +v : null); }

// Throttled rendering: at most one pass per animation frame and per `minMs`.
function throttle(fn, minMs) {
    let queued = false, last = 0;
    return () => {
        if (queued) return;
        queued = true;
        const run = () => {
            const wait = last + minMs - performance.now();
            if (wait > 0) { setTimeout(() => requestAnimationFrame(run), wait); return; }
            queued = false;
            last = performance.now();
            fn();
        };
        requestAnimationFrame(run);
        // Background tabs get no animation frames; keep the model current anyway.
        if (document.hidden) setTimeout(() => { if (queued) { queued = false; last = performance.now(); fn(); } }, minMs);
    };
}

// ---------------------------------------------------------------- connections
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
class Stream {
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
                needAuth((lastError && lastError.code) || 'AUTH_REQUIRED');
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

// ---------------------------------------------------------------- auth
let authShown = false;
function stopAll() {
    for (const s of [...streams]) s.stop();
    if (runsStream) runsStream = null;
    if (allStream) allStream = null;
    if (view && view.stream) view.stream = null;
}
function needAuth(code) {
    stopAll();
    const conn = $('conn');
    conn.dataset.state = 'auth';
    conn.textContent = 'token needed';
    dbg.state = 'auth';
    const wrong = code === 'AUTH_FAILED' || (token && code !== 'AUTH_REQUIRED');
    const msg = $('auth-message');
    msg.textContent = wrong ? 'The token was not accepted. Check it and enter it again.'
                            : 'This Runwatch server needs a token to show runs.';
    msg.classList.toggle('wrong', wrong);
    $('token-button').hidden = false;
    if (wrong) { token = ''; sessionStorage.removeItem(TOKEN_KEY); }
    if (!authShown) {
        authShown = true;
        const dlg = $('auth-dialog');
        if (!dlg.open) dlg.showModal();
        $('auth-token').value = '';
        $('auth-token').focus();
    }
}
$('auth-form').addEventListener('submit', () => {
    token = $('auth-token').value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    authShown = false;
    start();
});
$('auth-dialog').addEventListener('cancel', (e) => e.preventDefault());
$('token-button').addEventListener('click', () => {
    authShown = true;
    $('auth-message').textContent = 'Enter the token for this server.';
    $('auth-message').classList.remove('wrong');
    $('auth-token').value = '';
    $('auth-dialog').showModal();
});
function showBanner(text) {
    const b = $('banner');
    b.hidden = !text;
    b.textContent = text || '';
}
function failed(e, what) {
    if (e instanceof AuthError) { needAuth(e.code); return; }
    showBanner(`${what}: ${e.message}`);
    console.warn(what, e);
}

// ---------------------------------------------------------------- runs list
const runs = new Map();   // id -> summary
let runsStream = null;

function applyToSummary(s, e) {
    const d = e.data || {};
    s.updated_at = e.ts;
    if (s.last_seq === undefined || s.last_seq === null || e.seq > s.last_seq) s.last_seq = e.seq;
    switch (e.type) {
    case 'run_started':
        if (d.name !== undefined) s.name = d.name;
        if (d.kind !== undefined) s.kind = d.kind;
        if (d.config !== undefined) s.config = d.config;
        if (d.tags !== undefined) s.tags = d.tags;
        if (num(d.total_epochs) !== null) s.total_epochs = num(d.total_epochs);
        if (num(d.total_steps) !== null && s.total == null) s.total = num(d.total_steps);
        s.status = 'running';
        if (!s.started_at) s.started_at = e.ts;
        s.ended_at = null;
        break;
    case 'run_status':
        s.status = d.status;
        s.stopped_early = null;
        s.status_message = d.message === undefined ? null : d.message;
        break;
    case 'progress': {
        const c = num(d.completed);
        if (c !== null) s.completed = c;
        if (num(d.total) !== null) s.total = num(d.total);
        s.progress = s.total ? Math.min(1, Math.max(0, s.completed / s.total)) : null;
        if (num(d.epoch) !== null) s.current_epoch = num(d.epoch);
        if (num(d.total_epochs) !== null) s.total_epochs = num(d.total_epochs);
        if (d.eta_s !== undefined) { s.eta_s = num(d.eta_s); s.eta_at = Date.parse(e.ts) || Date.now(); }
        const step = d.step !== undefined ? d.step : c;
        if (step !== null && step !== undefined) s.current_step = step;
        (s.rate || (s.rate = [])).push([Date.parse(e.ts), c]);
        if (s.rate.length > 30) s.rate.shift();
        break;
    }
    case 'run_completed':
        s.status = 'completed';
        s.ended_at = e.ts;
        s.stopped_early = null;   // worked out from completed and total (stoppedEarly)
        if (d.summary !== undefined) s.summary = d.summary;
        break;
    case 'run_failed':
        s.status = 'failed';
        s.ended_at = e.ts;
        s.stopped_early = null;
        if (d.message !== undefined) s.last_error = d.message;
        break;
    case 'error':
        s.error_count = (s.error_count || 0) + 1;
        s.last_error = d.message;
        break;
    }
}

function runLabel(s) { return s.name || s.id; }
// The metric a run is judged by: loss, else another *loss, else the first by name.
function headlineMetric(metrics) {
    const names = Object.keys(metrics || {}).sort();
    if (!names.length) return null;
    return names.includes('loss') ? 'loss' : names.find((n) => isLoss(n)) || names[0];
}
function lastMetricCell(s) {
    const c = el('td', 'metric');
    const name = headlineMetric(s.metrics);
    if (name === null) return c;
    const value = parseValue(s.metrics[name]);
    c.append(el('span', 'muted', name + ' '), el('b', Number.isFinite(value) ? null : 'error-text', fmtNum(value === undefined ? s.metrics[name] : value)));
    const all = Object.keys(s.metrics).sort();
    c.title = all.slice(0, 30).map((n) => `${n} = ${fmtNum(parseValue(s.metrics[n]))}`).join('\n') + (all.length > 30 ? `\n… ${all.length - 30} more` : '');
    return c;
}
// "4s ago", "3m ago", "2h ago"; older (or a clock ahead of this one) as a date.
function fmtAgo(ts) {
    const t = Date.parse(ts);
    if (!Number.isFinite(t)) return '';
    const d = (Date.now() - t) / 1000;
    if (d < -60 || d >= 86400) return new Date(t).toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + new Date(t).toLocaleTimeString(undefined, { hour12: false, hour: '2-digit', minute: '2-digit' });
    if (d < 5) return 'just now';
    if (d < 60) return `${Math.floor(d)}s ago`;
    if (d < 3600) return `${Math.floor(d / 60)}m ago`;
    return `${Math.floor(d / 3600)}h ${Math.floor((d % 3600) / 60)}m ago`;
}
// The optional columns (kind, epoch, step, ETA) give way when the pane is too narrow for all of
// them, unless "All columns" is on (the table then scrolls sideways).
let allColumns = localStorage.getItem('runwatch.allColumns') === '1';
function fitRunColumns() {
    const table = $('runs-table'), box = table.parentElement, button = $('runs-columns');
    table.classList.toggle('all', allColumns);
    table.classList.remove('compact');
    const narrow = table.scrollWidth > box.clientWidth + 1 || matchMedia('(max-width: 900px)').matches;
    table.classList.toggle('compact', narrow && !allColumns);
    button.hidden = !narrow && !allColumns;
    button.setAttribute('aria-pressed', String(allColumns));
}
$('runs-columns').addEventListener('click', () => {
    allColumns = !allColumns;
    try { localStorage.setItem('runwatch.allColumns', allColumns ? '1' : '0'); } catch (e) { /* private mode */ }
    fitRunColumns();
});
new ResizeObserver(() => fitRunColumns()).observe($('runs-pane'));
// A completed run that did not reach its total reads "stopped early" (still green: it ended normally).
function statusBadge(s, early) {
    const shortOf = early && s.status === 'completed';   // failed and cancelled say so themselves
    const badge = el('span', 'badge ' + (s.status || '') + (shortOf ? ' early' : ''), shortOf ? 'stopped early' : (s.status || '—'));
    const why = [s.status_message, early ? `${s.status}: ${progressTitle(s)}` : ''].filter(Boolean).join(' · ');
    if (why) badge.title = why;
    return badge;
}
function progressCell(s, early) {
    const c = el('td', 'progress');
    const bar = makeBar(s.progress, s.status, early);
    bar.title = progressTitle(s);
    c.append(bar);
    return c;
}
// Newest first (runs not started yet on top), then by id.
function sortedRuns() {
    return [...runs.values()].sort((a, b) => (b.started_at || '\uffff').localeCompare(a.started_at || '\uffff') || a.id.localeCompare(b.id));
}
const renderRuns = throttle(() => {
    const tbody = $('runs-table').tBodies[0];
    const filter = $('runs-filter').value.trim().toLowerCase();
    const status = $('runs-status').value;
    const rows = [];
    const ordered = sortedRuns();
    for (const s of ordered) {
        if (status && s.status !== status) continue;
        if (filter && !(`${s.id} ${s.name || ''} ${s.kind || ''} ${(s.tags || []).join(' ')}`.toLowerCase().includes(filter))) continue;
        const tr = el('tr');
        tr.dataset.run = s.id;
        if (view && view.id === s.id) tr.className = 'selected';
        else if (overlays.has(s.id)) tr.className = 'compared';
        const box = el('input');
        box.type = 'checkbox';
        box.checked = !!(view && view.id === s.id) || overlays.has(s.id);
        box.disabled = !!(view && view.id === s.id);
        box.setAttribute('aria-label', `Overlay ${runLabel(s)} in the charts`);
        const early = stoppedEarly(s);
        const badge = statusBadge(s, early);
        const td = (content, cls) => { const c = el('td', cls); if (content instanceof Node) c.append(content); else c.textContent = content; return c; };
        const name = td(runLabel(s), 'name');
        name.title = s.id;
        const color = overlayColor(s.id);
        if (color) tr.style.setProperty('--run-color', color);
        const step = td(s.current_step != null ? `${fmtCount(s.current_step)}${s.total ? '/' + fmtCount(s.total) : ''}` : '', 'opt num');
        if (s.current_step != null) step.title = `step ${nf.format(s.current_step)}${s.total ? ' of ' + nf.format(s.total) : ''}`;
        const updated = td(fmtAgo(s.updated_at), 'updated');
        updated.title = s.updated_at ? new Date(s.updated_at).toLocaleString() : '';
        tr.append(td(box, 'cmp'), td(badge, 'status'), name, td(s.kind || '', 'opt'), progressCell(s, early),
                  td(s.current_epoch != null ? `${s.current_epoch}${s.total_epochs ? '/' + s.total_epochs : ''}` : '', 'opt num'),
                  step, lastMetricCell(s), updated,
                  td(s.status === 'running' ? fmtDuration(etaLeft(s)) : '', 'opt num'));
        rows.push(tr);
    }
    tbody.replaceChildren(...rows);
    fitRunColumns();
    $('runs-empty').hidden = runs.size > 0;
    $('runs-empty').textContent = runs.size ? '' : 'No runs yet. Producers create a run with their first event.';
    renderRunFilter(ordered);
}, 150);
// The event log's run filter: "All runs", then every run in the order of the list.
let runFilterKey = '';
function renderRunFilter(ordered) {
    const key = ordered.map((s) => s.id + '\u0001' + runLabel(s)).join('\u0002');
    if (key === runFilterKey) return;
    runFilterKey = key;
    const sel = $('log-run');
    const value = sel.value;
    const labels = new Map();
    for (const s of ordered) labels.set(runLabel(s), (labels.get(runLabel(s)) || 0) + 1);
    const opts = [el('option', null, 'All runs')];
    opts[0].value = '';
    for (const s of ordered) {
        // Two runs of the same name are told apart by their id.
        const o = el('option', null, labels.get(runLabel(s)) > 1 && s.name ? `${s.name} (${s.id})` : runLabel(s));
        o.value = s.id;
        o.title = s.id;
        opts.push(o);
    }
    if (value && !runs.has(value)) {   // a run that was deleted stays selectable while it is the filter
        const o = el('option', null, value);
        o.value = value;
        opts.push(o);
    }
    sel.replaceChildren(...opts);
    sel.value = value;
}
$('runs-filter').addEventListener('input', renderRuns);
$('runs-status').addEventListener('change', renderRuns);
$('runs-table').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-run]');
    if (!tr) return;
    // The checkbox or ctrl/cmd-click overlays a run in the charts; a plain click opens it.
    if (e.target.matches('input[type=checkbox]') || e.ctrlKey || e.metaKey) {
        e.preventDefault();
        toggleOverlay(tr.dataset.run);
        return;
    }
    location.hash = 'run=' + enc(tr.dataset.run);
});

function etaLeft(s) {
    if (s.eta_s == null) return null;
    const since = s.eta_at ? (Date.now() - s.eta_at) / 1000 : 0;
    return Math.max(0, s.eta_s - Math.max(0, since));
}

const fetchingRuns = new Set();
function onLifecycle(e) {
    dbg.runsSeqs.push(e.seq);
    if (dbg.runsSeqs.length > 100000) dbg.runsSeqs.splice(0, 50000);
    let s = runs.get(e.run);
    if (!s) {
        s = { id: e.run, status: null, progress: null };
        runs.set(e.run, s);
        // A run born while we watch: its summary once (config, totals); the stream keeps it current.
        if (!fetchingRuns.has(e.run)) {
            fetchingRuns.add(e.run);
            api('/api/runs/' + enc(e.run)).then(({ data }) => {
                const cur = runs.get(e.run);
                if (cur && data && (cur.last_seq == null || data.last_seq >= cur.last_seq)) Object.assign(cur, data, { rate: cur.rate });
                renderRuns();
                if (view && view.id === e.run) renderHeader();
            }).catch(() => {}).finally(() => fetchingRuns.delete(e.run));
        }
    }
    // The open run's own stream applies the same events; apply each only once.
    if (!(view && view.id === e.run && view.summary === s && view.stream && view.stream.lastByRun.get(e.run) >= e.seq))
        applyToSummary(s, e);
    renderRuns();
    if (view && view.id === e.run) renderHeader();
    if (!view && !location.hash) selectDefault();
}

function selectDefault() {
    if (view || location.hash.startsWith('#run=')) return;
    const all = sortedRuns();
    // A running training run has charts to look at; else any running run; else the first.
    const first = all.find((s) => s.status === 'running' && s.kind === 'training') || all.find((s) => s.status === 'running') || all[0];
    if (first) history.replaceState(null, '', '#run=' + enc(first.id)), route();
}

async function start() {
    stopAll();
    showBanner('');
    try {
        const health = await api('/healthz');
        const since = health.data.last_seq || 0;
        const { data } = await api('/api/runs');
        runs.clear();
        for (const s of data) runs.set(s.id, s);
        renderRuns();
        runsStream = new Stream('/ws/runs', { event: onLifecycle, deleted: onDeleted });
        runsStream.start(since);
        startAllStream(since);
        route(true);
        if (!view) selectDefault();
    } catch (e) {
        failed(e, 'Could not load the runs');
        if (!(e instanceof AuthError)) setTimeout(start, 3000);
    }
}

function onDeleted(run) {
    if (overlays.has(run)) toggleOverlay(run);
    if (liveLog.some((e) => e.run === run)) { liveLog = liveLog.filter((e) => e.run !== run); logNeedsFull = true; scheduleLog(); }
    runs.delete(run);
    renderRuns();
    if (view && view.id === run) {
        closeRun();
        $('run-empty').textContent = `Run "${run}" was deleted.`;
        history.replaceState(null, '', location.pathname + location.search);
    }
}

// ---------------------------------------------------------------- every run's events
// One /ws connection subscribed to "*": the live events of every run, for the event log and for the
// runs overlaid in the charts. It starts at the seq of the snapshot the page loaded (so it replays
// next to nothing) and resumes after a drop from the last seq it saw, like the other streams.
let allStream = null;
let liveLog = [];          // ascending seq
let logGapBefore = 0;      // a long outage: events of other runs up to this seq were skipped
function startAllStream(since) {
    allStream = new Stream('/ws', {
        welcome: (ws, msg) => {
            const s = allStream && allStream.ws === ws ? allStream : null;
            if (!s) return;
            // After a long outage do not replay the whole server: the log keeps LIVE_KEEP events anyway.
            // Overlaid runs then reload their series from the REST API so their charts have no hole.
            if (typeof msg.last_seq === 'number' && msg.last_seq - s.since > LIVE_KEEP) {
                s.since = msg.last_seq - LIVE_KEEP;
                logGapBefore = s.since;
                for (const o of overlays.values()) reloadOverlay(o);
            }
            ws.send(JSON.stringify({ op: 'subscribe', run: '*', since: s.since, id: 'all' }));
        },
        event: onAnyEvent,
        flush: () => { if (view) liveRender(); },
        deleted: onDeleted,
    });
    allStream.start(since);
}

// Index of the first event with a seq >= `seq` in an array in ascending seq order.
function seqIndex(arr, seq) {
    let lo = 0, hi = arr.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid].seq < seq) lo = mid + 1; else hi = mid; }
    return lo;
}
function hasSeq(arr, seq) { const i = seqIndex(arr, seq); return i < arr.length && arr[i].seq === seq; }
// An event older than the newest row shown needs the list rebuilt, unless the other source had it.
function noteLate(e, other) {
    if (e.seq <= logLastSeq && !(other && hasSeq(other, e.seq))) logNeedsFull = true;
}

const allRate = new RateMeter();
function onAnyEvent(e) {
    allRate.note();
    dbg.allSeqs.push(e.seq);
    if (dbg.allSeqs.length > 200000) dbg.allSeqs.splice(0, 100000);
    const n = liveLog.length;
    if (!n || liveLog[n - 1].seq < e.seq) liveLog.push(e);
    else {
        // Seqs of different runs may interleave at the seam of a replay: keep the log in seq order.
        const i = seqIndex(liveLog, e.seq);
        if (i < n && liveLog[i].seq === e.seq) return;
        liveLog.splice(i, 0, e);
    }
    noteLate(e, view && view.id === e.run ? view.log : null);
    if (liveLog.length > LIVE_KEEP * 1.2) liveLog.splice(0, liveLog.length - LIVE_KEEP);
    noteType(e.type);
    scheduleLog();
    const s = runs.get(e.run);
    if (s) {
        if (!s.updated_at || e.ts > s.updated_at) s.updated_at = e.ts;
        if (e.type === 'metric' && e.data) {
            const m = s.metrics || (s.metrics = {});
            for (const [k, val] of metricEntries(e.data)) m[k] = val;
        }
        renderRuns();
    }
    const o = overlays.get(e.run);
    if (o) onOverlayEvent(o, e);
}

// ---------------------------------------------------------------- runs overlaid in the charts
// Other runs whose metrics are drawn in the open run's charts, one colour per run. Their series come
// from the REST API once, then from the "*" stream (events after the snapshot's seq only).
const overlays = new Map();   // id -> { id, series, currentStep, checkFrom, checkTo, pending, loading }
function overlayColor(id) {
    if (!overlays.size || !view) return null;
    if (view.id === id) return PALETTE[0];
    const i = [...overlays.keys()].indexOf(id);
    return i < 0 ? null : PALETTE[(i + 1) % PALETTE.length];
}
function toggleOverlay(id) {
    if (view && view.id === id) return;
    if (overlays.has(id)) {
        overlays.get(id).dead = true;
        overlays.delete(id);
    } else {
        const o = { id, series: new Map(), currentStep: 0, checkFrom: 0, checkTo: 0, pending: [], loading: true };
        overlays.set(id, o);
        loadOverlay(o);
    }
    overlaysChanged();
}
function overlaysChanged() {
    dbg.overlay = [...overlays.keys()];
    renderOverlayList();
    renderRuns();
    if (view) { view.regroup = true; liveRender(); }
}
function renderOverlayList() {
    const box = $('overlay-list');
    const items = [];
    for (const id of overlays.keys()) {
        const s = runs.get(id) || { id };
        const chip = el('span', 'chip');
        chip.style.setProperty('--run-color', overlayColor(id));
        chip.title = id;
        const x = el('button', null, '×');
        x.type = 'button';
        x.dataset.run = id;
        x.setAttribute('aria-label', `Remove ${runLabel(s)} from the charts`);
        chip.append(el('i'), runLabel(s), x);
        items.push(chip);
    }
    if (items.length) items.unshift(el('span', 'muted', 'with'));
    box.replaceChildren(...items);
}
$('overlay-list').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-run]');
    if (b) toggleOverlay(b.dataset.run);
});
function reloadOverlay(o) {
    if (o.dead || o.loading) return;
    o.dead = true;
    const fresh = { id: o.id, series: new Map(), currentStep: 0, checkFrom: 0, checkTo: 0, pending: [], loading: true };
    overlays.set(o.id, fresh);
    loadOverlay(fresh);
}
async function loadOverlay(o) {
    try {
        let summary;
        try { summary = (await api('/api/runs/' + enc(o.id))).data; } catch (e) { if (e.status !== 404) throw e; summary = {}; }
        o.checkFrom = summary.last_seq || 0;
        o.currentStep = num(summary.current_step) || 0;
        const names = summary.last_seq !== undefined ? (await api(`/api/runs/${enc(o.id)}/metrics`)).data : [];
        const results = await Promise.all(names.map((n) => api(`/api/runs/${enc(o.id)}/metrics/${enc(n)}?max_points=${MAX_POINTS}`)));
        o.checkTo = summary.last_seq !== undefined ? (await api('/api/runs/' + enc(o.id))).data.last_seq : 0;
        if (o.dead) return;
        for (const { data } of results) o.series.set(data.name, seriesFrom(data));
        o.loading = false;
        const pending = o.pending;
        o.pending = null;
        for (const e of pending) onOverlayEvent(o, e);
        dbg.overlayLoads++;
        if (view) { view.regroup = true; liveRender(); }
    } catch (e) {
        if (o.dead) return;
        overlays.delete(o.id);
        overlaysChanged();
        failed(e, `Could not load run ${o.id}`);
    }
}
function onOverlayEvent(o, e) {
    if (o.loading) { o.pending.push(e); return; }
    if (e.seq <= o.checkFrom) return;   // already in the snapshot
    const d = e.data || {};
    if (e.type === 'metric') onMetric(o, e, d);
    else if (e.type === 'progress') {
        const st = num(d.step !== undefined ? d.step : d.completed);
        if (st !== null && st > o.currentStep) o.currentStep = st;
    }
}

// ---------------------------------------------------------------- run view
let view = null;

function route(force) {
    const m = /^#run=(.+)$/.exec(location.hash);
    const id = m ? decodeURIComponent(m[1]) : null;
    if (!id) { if (view) closeRun(); selectDefault(); return; }
    if (!force && view && view.id === id) return;
    openRun(id);
}
window.addEventListener('hashchange', () => route());

// The log of a run that is closed stays in the all-runs log (the oldest events go first when it is full).
function keepLog(events) {
    if (!events.length) return;
    const merged = [];
    let i = 0, j = 0;
    while (i < liveLog.length || j < events.length) {
        const a = liveLog[i], b = events[j];
        if (b === undefined || (a !== undefined && a.seq < b.seq)) { merged.push(a); i++; }
        else if (a === undefined || b.seq < a.seq) { merged.push(b); j++; }
        else { merged.push(a); i++; j++; }
    }
    liveLog = merged.length > LIVE_KEEP ? merged.slice(-LIVE_KEEP) : merged;
}

function closeRun() {
    if (view) {
        keepLog(view.log);
        if (view.stream) view.stream.stop();
        for (const c of view.charts.values()) c.destroy();
        clearTimeout(view.stepsRefresh);
    }
    view = null;
    dbg.run = null;
    $('run-view').hidden = true;
    $('run-empty').hidden = false;
    $('charts').replaceChildren();
    renderRuns();
}

function newSeries(name) { return { name, x: [], y: [], ts: [], total: 0 }; }
// A series from GET /api/runs/{run}/metrics/{name}: points are [step, value, ts_ms].
function seriesFrom(data) {
    const s = newSeries(data.name);
    for (const [x, val, ts] of data.points) {
        const y = parseValue(val);
        if (y === undefined) continue;
        s.x.push(x); s.y.push(y); s.ts.push(ts);
    }
    s.total = data.total;
    return s;
}

async function openRun(id) {
    closeRun();
    if (overlays.has(id)) { overlays.get(id).dead = true; overlays.delete(id); dbg.overlay = [...overlays.keys()]; }
    const v = view = {
        id, t0: performance.now(), summary: null, series: new Map(), steps: new Map(), log: [], types: new Set(),
        output: '', outputDropped: 0, charts: new Map(), sections: new Map(), currentStep: 0, dirtyCharts: new Set(), regroup: true,
        checkFrom: 0, checkTo: 0, stream: null, events: new RateMeter(),
    };
    dbg.run = id;
    dbg.seenSeqs = [];
    dbg.openedMs = null;
    $('run-empty').hidden = true;
    $('run-view').hidden = false;
    $('run-name').textContent = id;
    $('run-facts').textContent = 'loading…';
    $('run-message').textContent = '';
    $('output').textContent = '';
    $('config').textContent = '';
    logNeedsFull = true;
    scheduleLog();
    renderOverlayList();
    renderRuns();
    try {
        let summary, since;
        try {
            summary = (await api('/api/runs/' + enc(id))).data;
            since = summary.last_seq || 0;
        } catch (e) {
            if (e.status !== 404) throw e;
            // Not there yet: watch for it (subscribing to an unknown run is allowed).
            since = (await api('/healthz')).data.last_seq || 0;
            summary = { id, status: 'pending', progress: null, steps: [] };
            $('run-message').textContent = 'This run has no events yet; it appears as soon as its producer starts.';
        }
        if (view !== v) return;
        const known = runs.get(id);
        v.summary = known ? Object.assign(known, summary, { rate: known.rate }) : summary;
        if (!known && summary.last_seq !== undefined) runs.set(id, v.summary);
        v.currentStep = num(summary.current_step) || 0;
        for (const st of summary.steps || []) v.steps.set(st.id, st);
        // More steps than the summary lists: the table pages through them from the server.
        const listed = (summary.steps || []).length;
        v.stepTotal = Math.max(listed, num(summary.step_counts && summary.step_counts.total) || 0);
        v.stepsTruncated = !!summary.steps_truncated || v.stepTotal > listed;
        if (v.stepsTruncated || listed > STEPS_IN_SUMMARY) { v.steps.clear(); pageSteps(v, 0); }

        // History: each metric thinned to MAX_POINTS by the server, plus the tail of the event log.
        const names = summary.last_seq !== undefined ? (await api(`/api/runs/${enc(id)}/metrics`)).data : [];
        const loads = names.map((n) => api(`/api/runs/${enc(id)}/metrics/${enc(n)}?max_points=${MAX_POINTS}`));
        const eventsLoad = summary.last_seq !== undefined ? loadEvents(v, summary) : Promise.resolve();
        const results = await Promise.all(loads);
        await eventsLoad;
        if (view !== v) return;
        for (const { data } of results) v.series.set(data.name, seriesFrom(data));
        // Points of events after `since` may already be in these series: those seqs get checked.
        v.checkFrom = since;
        if (summary.last_seq !== undefined) {
            try { v.checkTo = (await api('/api/runs/' + enc(id))).data.last_seq; } catch (e) { v.checkTo = Infinity; }
        }
        if (view !== v) return;
        v.regroup = true;
        renderAll();
        v.stream = new Stream('/ws/runs/' + enc(id), { event: (e) => onRunEvent(v, e), flush: () => renderLive(v), deleted: onDeleted });
        v.stream.lastByRun.set(id, since);
        dbg.since = since;
        v.stream.start(since);
        requestAnimationFrame(() => { if (view === v) dbg.openedMs = Math.round(performance.now() - v.t0); });
    } catch (e) {
        if (view === v) failed(e, `Could not open run ${id}`);
    }
}

async function loadEvents(v, summary) {
    const count = summary.event_count || 0;
    const last = summary.last_seq || 0;
    let since = count <= FULL_HISTORY_EVENTS ? 0 : Math.max(0, last - TAIL_SEQS);
    v.partialHistory = since > 0;
    for (let page = 0; page < 10 && since < last; page++) {
        const { data, headers } = await api(`/api/runs/${enc(v.id)}/events?since=${since}&limit=10000`);
        if (view !== v) return;
        for (const e of data) if (e.seq <= last) addHistoryEvent(v, e);
        logNeedsFull = true;
        const next = headers.get('X-Runwatch-Next-Since');
        if (!next || !data.length) break;
        since = +next;
    }
    if (v.partialHistory && summary.output_chars > v.output.length)
        v.outputDropped = summary.output_chars - v.output.length;
}

function addHistoryEvent(v, e) {
    pushLog(v, e);
    if (e.type === 'token') appendOutput(v, e);
}

function pushLog(v, e) {
    v.log.push(e);
    if (view === v) noteLate(e, liveLog);
    noteType(e.type);
    if (v.log.length > LOG_KEEP * 1.2) v.log.splice(0, v.log.length - LOG_KEEP);
}
function appendOutput(v, e) {
    const text = e.data && typeof e.data.text === 'string' ? e.data.text : '';
    v.output += text;
    if (v.output.length > OUTPUT_KEEP * 1.2) {
        v.outputDropped += v.output.length - OUTPUT_KEEP;
        v.output = v.output.slice(-OUTPUT_KEEP);
    }
    v.outputDirty = true;
}

function onRunEvent(v, e) {
    if (view !== v) return;
    dbg.seenSeqs.push(e.seq);
    if (dbg.seenSeqs.length > 200000) dbg.seenSeqs.splice(0, 100000);   // bounded on a page left open for days
    v.events.note();
    const d = e.data || {};
    if (v.summary !== runs.get(v.id) && runs.get(v.id)) v.summary = runs.get(v.id);
    if (!runs.has(v.id)) { runs.set(v.id, v.summary); renderRuns(); }
    // The runs stream may have applied this lifecycle event already.
    if (!(runsStream && runsStream.lastByRun.get(v.id) >= e.seq)) applyToSummary(v.summary, e);
    v.summary.event_count = (v.summary.event_count || 0) + 1;
    pushLog(v, e);
    scheduleLog();
    switch (e.type) {
    case 'metric': onMetric(v, e, d); break;
    case 'progress': {
        const st = num(d.step !== undefined ? d.step : d.completed);
        if (st !== null && st > v.currentStep) v.currentStep = st;
        break;
    }
    case 'token': appendOutput(v, e); break;
    case 'result':
        v.summary.result_count = (v.summary.result_count || 0) + 1;
        break;
    case 'log':
        if (d.level === 'error') v.summary.error_count = (v.summary.error_count || 0) + 1;
        break;
    case 'run_started':
        if (d.config !== undefined) v.configDirty = true;
        break;
    default:
        if (e.type.startsWith('step_') && e.step !== undefined) onStep(v, e, d);
    }
    v.headerDirty = true;
}

// A metric event's values as [name, value]: nested objects flattened to "outer/inner", as the server does.
function metricEntries(d, prefix = '', out = []) {
    for (const key of Object.keys(d)) {
        if (!prefix && key === 'step') continue;
        const val = d[key];
        if (val !== null && typeof val === 'object' && !Array.isArray(val)) metricEntries(val, prefix + key + '/', out);
        else out.push([prefix + key, val]);
    }
    return out;
}

// A metric event of the open run (v is the view) or of an overlaid run (v is its overlay entry).
function onMetric(v, e, d) {
    const explicit = Number.isInteger(d.step) ? d.step : null;
    const ts = Date.parse(e.ts) || Date.now();
    const check = e.seq > v.checkFrom && e.seq <= v.checkTo;
    for (const [key, raw] of metricEntries(d)) {
        const y = parseValue(raw);
        if (y === undefined) continue;
        let s = v.series.get(key);
        if (!s) { s = newSeries(key); v.series.set(key, s); if (view) view.regroup = true; }
        const n = s.x.length;
        const lastX = n ? s.x[n - 1] : -Infinity;
        // Same rule as the server: without a step, the run's current step or one past the last point.
        const x = explicit !== null ? explicit : Math.max(v.currentStep, n ? lastX + 1 : 0);
        // Events the metric history may already hold (fetched after `since`): skip what is not newer.
        if (check && n && (x < lastX || (x === lastX && ts <= s.ts[n - 1]))) { dbg.overlapSkipped++; continue; }
        s.x.push(x); s.y.push(y); s.ts.push(ts);
        s.total++;
        if (s.x.length > MAX_POINTS * 2) decimate(s, MAX_POINTS);
        if (view) view.dirtyCharts.add(groupOf(key));
    }
    if (explicit !== null && explicit > v.currentStep) v.currentStep = explicit;
}

// Min/max per bucket, like the server: spikes and every kind of non-finite value survive.
function decimate(s, target) {
    const n = s.x.length, buckets = Math.max(1, Math.floor(target / 2)), size = Math.ceil(n / buckets);
    const keep = [];
    for (let b = 0; b < n; b += size) {
        const end = Math.min(n, b + size);
        let lo = -1, hi = -1, nan = -1, pinf = -1, ninf = -1;
        for (let i = b; i < end; i++) {
            const y = s.y[i];
            if (Number.isNaN(y)) { if (nan < 0) nan = i; } else if (y === Infinity) { if (pinf < 0) pinf = i; } else if (y === -Infinity) { if (ninf < 0) ninf = i; } else {
                if (lo < 0 || y < s.y[lo]) lo = i;
                if (hi < 0 || y > s.y[hi]) hi = i;
            }
        }
        const idx = [...new Set([lo, hi, nan, pinf, ninf].filter((i) => i >= 0))].sort((a, c) => a - c);
        keep.push(...idx);
    }
    if (keep[keep.length - 1] !== n - 1) keep.push(n - 1);   // the newest point stays, so live appends line up
    s.x = keep.map((i) => s.x[i]); s.y = keep.map((i) => s.y[i]); s.ts = keep.map((i) => s.ts[i]);
}

// One page of the run's steps from GET /api/runs/{run}/steps (the newest answer wins).
async function loadStepPage(v, offset) {
    const req = v.stepsReq = (v.stepsReq || 0) + 1;
    try {
        const { data } = await api(`/api/runs/${enc(v.id)}/steps?offset=${offset}&limit=${STEPS_PAGE}`);
        if (view !== v || req !== v.stepsReq) return;
        v.stepTotal = data.total;
        // Past the end (steps gone, e.g. the run restarted): the last page.
        if (offset > 0 && offset >= data.total) { loadStepPage(v, Math.max(0, Math.floor((data.total - 1) / STEPS_PAGE) * STEPS_PAGE)); return; }
        v.stepOffset = data.offset;
        v.steps = new Map(data.steps.map((st) => [st.id, st]));
        renderSteps();
    } catch (e) {
        if (view === v) failed(e, 'Could not load the steps');
    }
}
function pageSteps(v, offset) {
    v.paged = true;
    v.stepOffset = offset;
    loadStepPage(v, offset);
}
// A step that is not on the page shown: the page (and the count) are fetched again, at most once a second.
function refreshStepPage(v) {
    if (v.stepsRefresh) return;
    v.stepsRefresh = setTimeout(() => { v.stepsRefresh = null; if (view === v) loadStepPage(v, v.stepOffset || 0); }, 1000);
}

function onStep(v, e, d) {
    const id = e.step;
    if (v.paged && !v.steps.has(id)) { refreshStepPage(v); return; }
    if (!v.paged && !v.steps.has(id)) v.stepTotal = (v.stepTotal || 0) + 1;
    const st = v.steps.get(id) || { id, name: null, status: 'pending', progress: null, message: null, result: null, started_at: null, ended_at: null };
    if (d.name !== undefined) st.name = d.name;
    if (d.message !== undefined) st.message = d.message;
    if (d.result !== undefined) st.result = d.result;
    if (num(d.progress) !== null) st.progress = num(d.progress);
    if (e.type === 'step_started') { st.status = 'running'; st.started_at = st.started_at || e.ts; st.ended_at = null; }
    else if (e.type === 'step_progress') { if (st.status === 'pending') st.status = 'running'; if (!st.started_at) st.started_at = e.ts; }
    else if (e.type === 'step_completed') { st.status = 'completed'; st.progress = 1; st.ended_at = e.ts; }
    else if (e.type === 'step_failed') { st.status = 'failed'; st.ended_at = e.ts; }
    if (st.started_at && st.ended_at) st.duration_s = (Date.parse(st.ended_at) - Date.parse(st.started_at)) / 1000;
    v.steps.set(id, st);
    v.stepsDirty = true;
    // Grown past what one table should hold: page it from the server from now on.
    if (!v.paged && v.steps.size > STEPS_IN_SUMMARY) pageSteps(v, 0);
}

// ---------------------------------------------------------------- rendering the run
function renderAll() {
    renderHeader();
    renderSteps();
    renderConfig();
    renderOutput();
    renderLog();
    renderCharts();
}
const renderLive = (v) => { if (view === v) liveRender(); };
const liveRender = throttle(() => {
    const v = view;
    if (!v) return;
    if (v.headerDirty) { v.headerDirty = false; renderHeader(); }
    if (v.stepsDirty) { v.stepsDirty = false; renderSteps(); }
    if (v.configDirty) { v.configDirty = false; renderConfig(); }
    if (v.outputDirty) renderOutput();
    renderCharts();
}, 100);

function renderHeader() {
    const v = view;
    if (!v || !v.summary) return;
    const s = v.summary;
    $('run-name').textContent = runLabel(s);
    $('run-name').title = s.id;
    const badge = $('run-status');
    badge.className = 'badge ' + (s.status || '');
    badge.textContent = s.status || '—';
    const early = stoppedEarly(s);
    setBar($('run-progress'), s.progress, s.status, early);
    $('run-progress').title = progressTitle(s);
    $('run-early').hidden = !early;
    const facts = [];
    const add = (label, value) => { if (value !== '' && value !== null && value !== undefined) facts.push([label, value]); };
    add('', s.kind || '');
    if (s.current_epoch != null) add('epoch', `${s.current_epoch}${s.total_epochs ? '/' + s.total_epochs : ''}`);
    if (s.current_step != null) add('step', `${s.current_step}${s.total ? '/' + s.total : ''}`);
    if (s.status === 'running') add('ETA', fmtDuration(etaLeft(s)));
    const start = Date.parse(s.started_at);
    if (Number.isFinite(start)) add('elapsed', fmtDuration(((s.ended_at ? Date.parse(s.ended_at) : Date.now()) - start) / 1000));
    const rate = throughput(s);
    if (rate !== null) add('', fmtRate(rate, progressUnit(s)));
    if (s.status === 'running' && v.events) add('', fmtRate(v.events.rate(), 'events'));
    if (s.result_count) add('results', `${s.result_count}${s.success_rate != null ? ` · ${(s.success_rate * 100).toFixed(1)} % ok` : ''}`);
    if (s.error_count) add('errors', String(s.error_count));
    const box = $('run-facts');
    box.replaceChildren();
    facts.forEach(([label, value], i) => {
        if (i) box.append(' · ');
        if (label) box.append(label + ' ');
        box.append(el('b', null, value));
    });
    const msg = s.status === 'failed' || s.last_error ? (s.last_error || s.status_message || '') : (s.status_message || '');
    if (msg || !$('run-message').textContent.startsWith('This run has no events'))
        $('run-message').textContent = msg ? (s.last_error ? 'last error: ' : '') + msg : '';
}
function throughput(s) {
    const r = s.rate;
    if (r && r.length >= 2) {
        const a = r[Math.max(0, r.length - 10)], b = r[r.length - 1];
        if (b[0] > a[0] && b[1] !== null && a[1] !== null) return (b[1] - a[1]) / ((b[0] - a[0]) / 1000);
    }
    const start = Date.parse(s.started_at);
    if (s.completed && Number.isFinite(start)) {
        const end = s.ended_at ? Date.parse(s.ended_at) : Date.now();
        if (end > start) return s.completed / ((end - start) / 1000);
    }
    return null;
}

function renderSteps() {
    const v = view;
    const rows = [];
    for (const st of v.steps.values()) {
        const tr = el('tr');
        const badge = el('span', 'badge ' + (st.status || ''), st.status || '');
        const dur = st.duration_s != null ? st.duration_s : (st.started_at && !st.ended_at ? (Date.now() - Date.parse(st.started_at)) / 1000 : null);
        const cells = [el('td', null, st.name || st.id), el('td'), el('td'), el('td', 'opt', fmtDuration(dur)),
            el('td', null, st.message || (st.result !== null && st.result !== undefined ? JSON.stringify(st.result) : ''))];
        cells[0].title = st.id;
        cells[1].append(badge);
        cells[2].append(makeBar(st.progress, st.status));
        cells[4].title = cells[4].textContent;
        tr.append(...cells);
        rows.push(tr);
    }
    $('steps-table').tBodies[0].replaceChildren(...rows);
    const total = v.paged ? v.stepTotal || 0 : rows.length;
    $('steps-empty').hidden = rows.length > 0 || total > 0;
    $('steps-count').textContent = total ? `(${nf.format(total)})` : '';
    const note = $('steps-note');
    note.hidden = !v.paged;
    note.textContent = !v.paged ? '' : v.stepsTruncated
        ? `This run has ${nf.format(total)} steps; its summary lists only the first ${nf.format(STEPS_IN_SUMMARY)}. The table shows all of them, ${STEPS_PAGE} at a time.`
        : `This run has ${nf.format(total)} steps; the table shows them ${STEPS_PAGE} at a time.`;
    const pager = $('steps-pager');
    pager.hidden = !v.paged;
    if (v.paged) {
        const from = v.stepOffset || 0;
        $('steps-range').textContent = rows.length ? `${nf.format(from + 1)}–${nf.format(from + rows.length)} of ${nf.format(total)}` : `0 of ${nf.format(total)}`;
        for (const b of pager.querySelectorAll('button')) {
            const back = b.dataset.page === 'first' || b.dataset.page === 'prev';
            b.disabled = back ? from <= 0 : from + STEPS_PAGE >= total;
        }
    }
}

function renderConfig() {
    const s = view.summary;
    const info = { id: s.id, name: s.name, kind: s.kind, tags: s.tags, config: s.config };
    if (s.summary !== undefined) info.summary = s.summary;
    if (s.progress_extra) info.progress_extra = s.progress_extra;
    $('config').textContent = JSON.stringify(info, null, 2);
}

function renderOutput() {
    const v = view;
    v.outputDirty = false;
    const pre = $('output');
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
    pre.textContent = v.output || (v.outputDropped ? '' : 'No output yet.');
    const note = $('output-note');
    note.hidden = !v.outputDropped;
    note.textContent = v.outputDropped ? `${nf.format(v.outputDropped)} earlier characters are not shown.` : '';
    if (atEnd) pre.scrollTop = pre.scrollHeight;
}

$('steps-pager').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-page]');
    const v = view;
    if (!b || !v || !v.paged) return;
    const last = Math.max(0, Math.floor(((v.stepTotal || 0) - 1) / STEPS_PAGE) * STEPS_PAGE);
    const at = v.stepOffset || 0;
    const to = { first: 0, prev: Math.max(0, at - STEPS_PAGE), next: Math.min(last, at + STEPS_PAGE), last }[b.dataset.page];
    if (to !== undefined && to !== at) pageSteps(v, to);
});

// ---------------------------------------------------------------- event log
// Every run's live events (liveLog, from the "*" stream) merged with the open run's history and
// events (view.log); an event both hold is shown once (same seq). New rows are appended and the
// oldest dropped beyond LOG_SHOW; a filter change or older events arriving rebuild the list.
let logPaused = false;
let logNeedsFull = true, logKey = '', logLastSeq = -1;
const logTypes = new Set();
function noteType(type) {
    if (logTypes.has(type)) return;
    logTypes.add(type);
    addTypeOption(type);
}
function addTypeOption(type) {
    const sel = $('log-type');
    const opts = [...sel.options].slice(2);
    const o = el('option', null, type);
    o.value = type;
    const before = opts.find((x) => x.value > type);
    sel.insertBefore(o, before || null);
}
function summarize(e) {
    const d = e.data || {};
    switch (e.type) {
    case 'metric': return [...(Number.isInteger(d.step) ? [['step', d.step]] : []), ...metricEntries(d)].map(([k, val]) => `${k}=${typeof val === 'number' ? fmtNum(val) : val}`).join('  ');
    case 'progress': {
        let t = `${d.completed}${d.total ? '/' + d.total + ` (${(100 * d.completed / d.total).toFixed(1)} %)` : ''}`;
        if (d.epoch !== undefined) t += `  epoch ${d.epoch}`;
        if (d.eta_s !== undefined) t += `  ETA ${fmtDuration(d.eta_s)}`;
        return t;
    }
    case 'log': return `[${d.level || 'info'}] ${d.message}`;
    case 'token': return JSON.stringify(d.text);
    case 'error': return `${d.code ? d.code + ': ' : ''}${d.message}`;
    case 'run_status': return `${d.status}${d.message ? ' — ' + d.message : ''}`;
    case 'run_failed': return d.message || 'failed';
    case 'run_started': return `${d.name || ''} ${d.kind ? '(' + d.kind + ')' : ''}`.trim() || '{}';
    default:
        if (e.type.startsWith('step_'))
            return `${e.step}${d.name ? ' ' + d.name : ''}${num(d.progress) !== null ? ' ' + Math.round(d.progress * 100) + ' %' : ''}${d.message ? ' — ' + d.message : ''}`;
        return JSON.stringify(d);
    }
}
// Newest first, each seq once, down to (not including) seq `stop`.
function* newestFirst(stop) {
    const a = liveLog, b = view ? view.log : [];
    let i = a.length - 1, j = b.length - 1;
    while (i >= 0 || j >= 0) {
        const x = i >= 0 ? a[i] : null, y = j >= 0 ? b[j] : null;
        let e;
        if (x && y && x.seq === y.seq) { e = x; i--; j--; }
        else if (!y || (x && x.seq > y.seq)) { e = x; i--; }
        else { e = y; j--; }
        if (e.seq <= stop) return;
        yield e;
    }
}
function logRow(e) {
    const sum = summarize(e);
    const row = el('div', 't-' + e.type + (e.type === 'log' && e.data ? ' lv-' + e.data.level : ''));
    const s = runs.get(e.run);
    const run = el('span', 'run', s ? runLabel(s) : e.run);
    run.title = e.run;
    row.dataset.run = e.run;
    row.dataset.seq = String(e.seq);
    row.append(el('span', 'time', fmtTime(e.ts)), el('span', 'seq', String(e.seq)), run, el('span', null, e.type), el('span', null, sum));
    row.title = sum.length > 100 ? sum.slice(0, 2000) : '';
    return row;
}
function renderLog() {
    if (logPaused) return;
    const runF = $('log-run').value;
    const type = $('log-type').value;
    const text = $('log-text').value.trim().toLowerCase();
    const key = [runF, type, text, view ? view.id : ''].join('\u0001');
    const full = logNeedsFull || key !== logKey;
    logNeedsFull = false;
    logKey = key;
    const box = $('log');
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 30;
    const out = [];
    let newest = -1;
    for (const e of newestFirst(full ? -1 : logLastSeq)) {
        if (newest < 0) newest = e.seq;
        if (runF && e.run !== runF) continue;
        if (type === '!noise' ? (e.type === 'metric' || e.type === 'token') : (type && e.type !== type)) continue;
        if (text && !(`${e.run} ${e.type} ${e.step || ''} ${summarize(e)}`.toLowerCase().includes(text))) continue;
        out.push(logRow(e));
        if (out.length >= LOG_SHOW) break;
    }
    out.reverse();
    if (full) { box.replaceChildren(...out); logLastSeq = newest; }
    else {
        box.append(...out);
        if (newest > logLastSeq) logLastSeq = newest;
    }
    let extra = box.childElementCount - LOG_SHOW;
    while (extra-- > 0) box.firstElementChild.remove();
    dbg.logRows = box.childElementCount;
    const notes = [];
    if (view && view.partialHistory && (!runF || runF === view.id)) notes.push('Older events of this run are not loaded.');
    if (runF && (!view || runF !== view.id)) notes.push('Events of this run that this page has seen; open the run for its full history.');
    else if (!runF) notes.push('Other runs: events since this page opened.');
    if (logGapBefore) notes.push('Some events of other runs were skipped after a long disconnect.');
    if (box.childElementCount >= LOG_SHOW) notes.push(`Showing the latest ${LOG_SHOW} matching events.`);
    $('log-note').textContent = notes.join(' ');
    if (atEnd || full) box.scrollTop = box.scrollHeight;
}
const scheduleLog = throttle(renderLog, 200);
$('log-run').addEventListener('change', renderLog);
$('log').addEventListener('click', (e) => {
    // The run name of a row opens that run.
    const cell = e.target.closest('span.run');
    const row = cell && cell.parentElement;
    if (row && row.dataset.run && runs.has(row.dataset.run) && !(view && view.id === row.dataset.run)) location.hash = 'run=' + enc(row.dataset.run);
});
$('log-type').addEventListener('change', renderLog);
$('log-text').addEventListener('input', renderLog);
$('log-pause').addEventListener('click', () => {
    logPaused = !logPaused;
    $('log-pause').setAttribute('aria-pressed', String(logPaused));
    $('log-pause').textContent = logPaused ? 'Resume' : 'Pause';
    if (!logPaused) renderLog();
});

// ---------------------------------------------------------------- tabs
document.querySelector('.tabs').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-tab]');
    if (!b) return;
    for (const t of document.querySelectorAll('.tabs button')) t.setAttribute('aria-selected', String(t === b));
    for (const p of document.querySelectorAll('.tab')) p.hidden = p.id !== 'tab-' + b.dataset.tab;
    if (b.dataset.tab === 'charts') for (const c of view ? view.charts.values() : []) c.resize();
    if (b.dataset.tab === 'output') { const pre = $('output'); pre.scrollTop = pre.scrollHeight; }
});

// ---------------------------------------------------------------- charts
const PALETTE = ['#2f7bd8', '#e3742f', '#2e9b4f', '#9b4fd0', '#c23b6b', '#1f9ea8', '#8a6d1f', '#5a6a7a'];
let smoothing = +$('smoothing').value;
let logY = false;
let xMode = $('x-mode').value === 'time' ? 'time' : 'step';
const isLoss = (name) => name.toLowerCase().endsWith('loss');
// Metrics named "train/loss", "train/acc" form the section "train" (collapsible); a chart holds one
// metric, or every *loss metric of its section (or of the names without a prefix) together.
const LOSS = '\u0000loss';
function sectionOf(name) {
    const i = name.indexOf('/');
    return i > 0 && i < name.length - 1 ? name.slice(0, i) : '';
}
const tailOf = (name) => { const sec = sectionOf(name); return sec ? name.slice(sec.length + 1) : name; };
const groupOf = (name) => {
    const sec = sectionOf(name), tail = tailOf(name), base = isLoss(tail) ? LOSS : tail;
    return sec ? sec + '/' + base : base;
};
const COLLAPSED_KEY = 'runwatch.collapsedSections';
const collapsed = new Set((() => { try { return JSON.parse(localStorage.getItem(COLLAPSED_KEY)) || []; } catch (e) { return []; } })());
function sectionBox(v, sec) {
    let box = v.sections.get(sec);
    if (box) return box;
    const details = el('details', 'chart-section');
    details.dataset.section = sec;
    details.open = !collapsed.has(sec);
    const summary = el('summary');
    const count = el('span', 'count');
    summary.append(el('span', 'section-name', sec), count);
    const grid = el('div', 'charts');
    details.append(summary, grid);
    details.addEventListener('toggle', () => {
        if (details.open) collapsed.delete(sec); else collapsed.add(sec);
        try { localStorage.setItem(COLLAPSED_KEY, JSON.stringify([...collapsed])); } catch (e) { /* private mode */ }
        // Charts of a closed section are not drawn; opening it draws them at their width.
        if (details.open && view === v) for (const c of v.charts.values()) if (c.section === sec) c.update(true);
    });
    box = { details, grid, count };
    v.sections.set(sec, box);
    return box;
}

$('smoothing').addEventListener('input', () => {
    smoothing = +$('smoothing').value;
    $('smoothing-value').textContent = smoothing.toFixed(2);
    rebuildCharts();
});
$('log-y').addEventListener('change', () => { logY = $('log-y').checked; rebuildCharts(); });
$('x-mode').addEventListener('change', () => { xMode = $('x-mode').value === 'time' ? 'time' : 'step'; dbg.xMode = xMode; rebuildCharts(); });
// Every metric of the open run (and of the overlaid runs) as one table.
$('export-csv').addEventListener('click', () => {
    if (!view) return;
    const sources = [view, ...overlays.values()].filter((src) => src.series.size);
    if (!sources.length) return;
    const parts = sources.map((src) => ({ id: src.id, names: sources.length === 1 ? null : [...src.series.keys()].sort() }));
    downloadCsv(fileName(sources.length === 1 ? view.id + '-metrics' : 'runwatch-' + sources.length + '-runs-metrics') + '.csv', parts, $('export-csv'));
});
$('reset-zoom').addEventListener('click', () => { if (view) for (const c of view.charts.values()) c.resetZoom(); });

function rebuildCharts() {
    if (!view) return;
    for (const c of view.charts.values()) c.destroy();
    view.charts.clear();
    $('charts').replaceChildren();
    view.regroup = true;
    renderCharts();
}

function ema(ys, alpha) {
    const out = new Array(ys.length);
    let acc = 0, weight = 0;
    for (let i = 0; i < ys.length; i++) {
        const y = ys[i];
        if (y === null || y === undefined) { out[i] = y; continue; }
        acc = acc * alpha + (1 - alpha) * y;
        weight = weight * alpha + (1 - alpha);
        out[i] = acc / weight;   // debiased, so the curve starts at the first value
    }
    return out;
}

function renderCharts() {
    const v = view;
    if (!v) return;
    if (v.regroup) {
        v.regroup = false;
        // The open run first, then the overlaid runs; a chart holds a group's metrics of every run.
        const sources = [v, ...overlays.values()];
        const names = new Set();
        for (const src of sources) for (const n of src.series.keys()) names.add(n);
        const groups = new Map();
        for (const name of [...names].sort()) {
            const g = groupOf(name);
            if (!groups.has(g)) groups.set(g, []);
            groups.get(g).push(name);
        }
        const members = new Map();
        for (const [g, gnames] of groups) {
            const list = [];
            // mi picks the dash of a metric when runs are overlaid: a plain "loss" gets the solid line.
            const styled = [...gnames].sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : 0));
            sources.forEach((src, ri) => gnames.forEach((name) => { if (src.series.has(name)) list.push({ src, name, ri, mi: styled.indexOf(name) }); }));
            members.set(g, list);
        }
        const sig = (list) => list.map((m) => m.src.id + '\u0001' + m.name + '\u0001' + m.ri).join('\n') + (overlays.size ? '\u0002multi' : '');
        // The loss chart first, wide; the others in name order.
        const order = [...groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        for (const [g, c] of v.charts) {
            if (!members.has(g) || sig(members.get(g)) !== c.sig) { c.destroy(); v.charts.delete(g); }
        }
        const box = $('charts');
        // Names without a prefix first, as before; then a section per prefix, in name order.
        const sections = [...new Set(order.map((g) => sectionOf(groups.get(g)[0])))].sort();
        const inBox = [];
        for (const sec of sections) {
            const grid = sec ? sectionBox(v, sec).grid : box;
            const here = order.filter((g) => sectionOf(groups.get(g)[0]) === sec);
            for (const g of here) {
                if (!v.charts.has(g)) { const c = new Chart(g, groups.get(g), members.get(g)); c.sig = sig(members.get(g)); v.charts.set(g, c); }
                grid.append(v.charts.get(g).root);   // keeps the order
            }
            if (sec) {
                const sb = v.sections.get(sec);
                sb.count.textContent = `${here.length} chart${here.length === 1 ? '' : 's'}`;
                inBox.push(sb.details);
            }
        }
        for (const [sec, sb] of v.sections) if (!sections.includes(sec)) { sb.details.remove(); v.sections.delete(sec); }
        box.append(...inBox);
        for (const c of v.charts.values()) c.update(true);
        v.dirtyCharts.clear();
        $('charts-empty').hidden = names.size > 0;
        dbg.charts = v.charts.size;
        return;
    }
    for (const g of v.dirtyCharts) { const c = v.charts.get(g); if (c) c.update(false); }
    v.dirtyCharts.clear();
}

function ascending(m) {
    let sorted = true;
    for (let i = 1; i < m.x.length; i++) if (m.x[i] < m.x[i - 1]) { sorted = false; break; }
    if (sorted) return m;
    const idx = m.x.map((_, i) => i).sort((a, b) => m.x[a] - m.x[b] || a - b);
    return { name: m.name, x: idx.map((i) => m.x[i]), y: idx.map((i) => m.y[i]) };
}

// When a run started (ms): its started_at, else its earliest metric point.
function runStartMs(src) {
    const s = runs.get(src.id) || src.summary;
    const t = s ? Date.parse(s.started_at) : NaN;
    if (Number.isFinite(t)) return t;
    let min = Infinity;
    for (const ser of src.series.values()) for (const ts of ser.ts) if (ts < min) min = ts;
    return Number.isFinite(min) ? min : 0;
}
// One metric of one run as x/y columns: x is the step, or seconds since the run started.
function memberXY(m) {
    const s = m.src.series.get(m.name) || newSeries(m.name);
    if (xMode !== 'time') return ascending(s);
    const t0 = runStartMs(m.src);
    return ascending({ name: s.name, x: s.ts.map((t) => (t - t0) / 1000), y: s.y });
}
function fmtElapsed(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '';
    const a = Math.abs(v), sign = v < 0 ? '−' : '';
    if (a < 60) return sign + String(+a.toPrecision(a < 1 ? 2 : a < 10 ? 3 : 4)) + 's';
    const h = Math.floor(a / 3600), m = Math.floor((a % 3600) / 60), sec = a % 60;
    const ss = (sec < 10 ? '0' : '') + String(+sec.toFixed(sec % 1 ? 1 : 0));
    return sign + (h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`);
}
const DASHES = [null, [6, 4], [2, 3], [10, 3, 2, 3]];
const csvField = (v) => {
    let t = String(v);
    if (/^[=+@\t\r]/.test(t)) t = "'" + t;   // not a formula in a spreadsheet
    return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
};
// RFC 4180 fields: quoted ones may hold commas, quotes and line breaks.
function parseCsv(text) {
    const rows = [];
    let row = [], field = '', i = 0, quoted = false;
    while (i < text.length) {
        const c = text[i];
        if (quoted) {
            if (c === '"') { if (text[i + 1] === '"') { field += '"'; i += 2; continue; } quoted = false; i++; continue; }
            field += c; i++; continue;
        }
        if (c === '"') { quoted = true; i++; }
        else if (c === ',') { row.push(field); field = ''; i++; }
        else if (c === '\r' || c === '\n') {
            row.push(field); field = ''; rows.push(row); row = [];
            i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
        } else { field += c; i++; }
    }
    if (field !== '' || row.length) { row.push(field); rows.push(row); }
    return rows;
}
// One run's metrics as the server's wide table (step, time, a column per metric, a row per step):
// every point at full resolution, not the thinned series the charts hold. `names` null: all of them.
async function wideTable(run, names) {
    const plain = names && names.every((n) => !n.includes(','));
    const q = plain ? '&names=' + names.map(enc).join(',') : '';
    const rows = parseCsv(await apiText(`/api/runs/${enc(run)}/metrics?format=csv${q}`));
    const header = rows.shift() || ['step', 'time'];
    const want = names || header.slice(2);
    const idx = want.map((n) => header.indexOf(n, 2));
    return { names: want, rows: rows.filter((r) => r.length > 1).map((r) => [r[0], r[1], ...idx.map((i) => (i < 0 ? '' : r[i] || ''))]) };
}
// One run: step,time,<metric>… as the server has it. Several runs: one row per step of any of them,
// step,<run>:time,<run>:<metric>…, a run's cells empty at a step it did not log.
async function metricsCsv(parts) {
    const tables = await Promise.all(parts.map((p) => wideTable(p.id, p.names)));
    let header, rows;
    if (parts.length === 1) {
        header = ['step', 'time', ...tables[0].names];
        rows = tables[0].rows;
    } else {
        header = ['step'];
        const byStep = new Map();
        let col = 1;
        tables.forEach((t, k) => {
            header.push(`${parts[k].id}:time`, ...t.names.map((n) => `${parts[k].id}:${n}`));
            for (const r of t.rows) {
                let row = byStep.get(r[0]);
                if (!row) { row = [r[0]]; byStep.set(r[0], row); }
                for (let j = 1; j < r.length; j++) row[col + j - 1] = r[j];
            }
            col += 1 + t.names.length;
        });
        rows = [...byStep.values()].sort((a, b) => a[0] - b[0]);
        for (const r of rows) for (let j = 0; j < col; j++) if (r[j] === undefined) r[j] = '';
    }
    return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}
async function downloadCsv(name, parts, button) {
    if (button) button.disabled = true;
    try {
        const text = await metricsCsv(parts);
        download(name, URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' })));
    } catch (e) {
        failed(e, 'Could not export the metrics');
    } finally {
        if (button) button.disabled = false;
    }
}
const fileName = (t) => t.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 100) || 'chart';
function download(name, href) {
    const a = el('a');
    a.href = href;
    a.download = name;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    if (href.startsWith('blob:')) setTimeout(() => URL.revokeObjectURL(href), 10000);
}

// Wide enough for the longest tick label.
function yAxisSize(u, values) {
    if (!values || !values.length) return 50;
    return Math.ceil(Math.max(...values.map((t) => String(t).length)) * 7.2 + 18);
}

// Draws a red marker where a value is NaN or ±Infinity (the line has a gap there).
function nonFinitePlugin(chart) {
    return {
        hooks: {
            draw: [(u) => {
                const marks = chart.nonFinite;
                if (!marks.length) return;
                const ctx = u.ctx;
                const { left, top, width, height } = u.bbox;
                ctx.save();
                ctx.beginPath();
                ctx.rect(left, top, width, height);
                ctx.clip();
                ctx.fillStyle = '#d0342c';
                ctx.strokeStyle = 'rgba(208,52,44,0.55)';
                ctx.lineWidth = Math.max(1, devicePixelRatio);
                ctx.font = `${Math.round(10 * devicePixelRatio)}px sans-serif`;
                ctx.textAlign = 'center';
                let lastPx = -1e9;
                for (const [x, kind] of marks) {
                    const px = u.valToPos(x, 'x', true);
                    if (px < left - 1 || px > left + width + 1 || px - lastPx < 3 * devicePixelRatio) continue;
                    lastPx = px;
                    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
                    ctx.beginPath();
                    ctx.moveTo(px, top);
                    ctx.lineTo(px, top + height);
                    ctx.stroke();
                    ctx.setLineDash([]);
                    const label = kind === 'nan' ? 'NaN' : kind === 'inf' ? '+∞' : '−∞';
                    const y = kind === 'ninf' ? top + height - 4 * devicePixelRatio : top + 11 * devicePixelRatio;
                    ctx.fillText(label, px, y);
                }
                ctx.restore();
            }],
        },
    };
}

class Chart {
    constructor(group, names, members) {
        this.group = group;
        this.names = names;
        this.members = members;
        this.multi = overlays.size > 0;
        this.section = sectionOf(names[0]);
        this.isLoss = group === LOSS || group.endsWith('/' + LOSS);
        this.title = this.isLoss ? (names.length === 1 ? tailOf(names[0]) : 'loss') : tailOf(names[0]);
        this.root = el('div', 'chart' + (this.isLoss ? ' wide' : ''));
        const head = el('div', 'chart-head');
        this.head = el('h3', null, this.title);
        this.head.title = names.join(', ');
        this.unit = names.length === 1 ? metricUnit(names[0]) : '';
        if (this.unit) this.head.append(el('span', 'unit', this.unit));
        this.warn = el('span', 'warn');
        this.head.append(this.warn);
        const tools = el('span', 'chart-tools');
        const csv = el('button', 'csv', 'CSV');
        csv.type = 'button';
        csv.title = 'Download the metrics of this chart as CSV: a row per step, a column per metric';
        csv.addEventListener('click', () => this.exportCsv(csv));
        const png = el('button', 'png', 'PNG');
        png.type = 'button';
        png.title = 'Download this chart as a PNG image';
        png.addEventListener('click', () => this.exportPng());
        tools.append(csv, png);
        head.append(el('span', 'chart-pad'), this.head, tools);
        this.plotBox = el('div');
        this.root.append(head, this.plotBox);
        this.root.dataset.metrics = names.join(',');
        this.u = null;
        this.zoomed = false;
        this.nonFinite = [];
        this.raw = [];
        this.observer = new ResizeObserver(() => this.resize());
        this.observer.observe(this.root);
        dbg.chartBuilds++;
    }
    runName(src) { return runLabel(runs.get(src.id) || src.summary || { id: src.id }); }
    label(m) {
        if (!this.multi) return m.name;
        return this.names.length > 1 ? `${this.runName(m.src)} · ${m.name}` : this.runName(m.src);
    }
    // One colour per metric for a single run; with overlaid runs one colour per run and a dash per metric.
    style(m) {
        if (!this.multi) return { color: PALETTE[m.mi % PALETTE.length], dash: null };
        return { color: PALETTE[m.ri % PALETTE.length], dash: DASHES[m.mi % DASHES.length] };
    }
    data() {
        // uPlot needs x ascending; a producer that restarts its step count (a resumed job) breaks that.
        const members = this.members.map(memberXY);
        let xs;
        if (members.length === 1) xs = members[0].x;
        else {
            const all = new Set();
            for (const m of members) for (const x of m.x) all.add(x);
            xs = Float64Array.from(all).sort();
        }
        const cols = [xs];
        this.raw = [];
        const marks = new Map();
        for (const m of members) {
            let raw;
            if (members.length === 1) raw = m.y;
            else {
                const at = new Map();
                for (let i = 0; i < m.x.length; i++) at.set(m.x[i], m.y[i]);
                // undefined where this metric has no point at x (uPlot draws across it); null is a real gap.
                raw = Array.from(xs, (x) => (at.has(x) ? at.get(x) : undefined));
            }
            this.raw.push(raw);
            const plot = raw.map((y, i) => {
                if (y === null || y === undefined) return y;
                if (!Number.isFinite(y)) {
                    const kind = Number.isNaN(y) ? 'nan' : y > 0 ? 'inf' : 'ninf';
                    if (!marks.has(xs[i])) marks.set(xs[i], kind);
                    return null;
                }
                return logY && y <= 0 ? null : y;
            });
            cols.push(plot);
            if (smoothing > 0) cols.push(ema(plot, smoothing));
        }
        this.nonFinite = [...marks];
        const counts = { nan: 0, inf: 0, ninf: 0 };
        for (const raw of this.raw) for (const y of raw) if (y != null && !Number.isFinite(y)) counts[Number.isNaN(y) ? 'nan' : y > 0 ? 'inf' : 'ninf']++;
        const parts = [];
        if (counts.nan) parts.push(`${counts.nan} NaN`);
        if (counts.inf) parts.push(`${counts.inf} +∞`);
        if (counts.ninf) parts.push(`${counts.ninf} −∞`);
        this.warn.textContent = parts.length ? '⚠ ' + parts.join(', ') : '';
        return cols;
    }
    options(width) {
        const fmtX = xMode === 'time' ? fmtElapsed : fmtNum;
        const series = [{ label: xMode === 'time' ? 'time' : 'step', value: (u, x) => (x === null ? 'latest' : fmtX(x)) }];
        this.members.forEach((m, i) => {
            const { color, dash } = this.style(m);
            const name = this.label(m);
            // Hovered: the value under the cursor (NaN and ±∞ spelled out); otherwise the latest value.
            const lastOf = (arr) => { for (let k = arr.length - 1; k >= 0; k--) if (arr[k] != null) return arr[k]; return null; };
            const rawValue = (u, val, si, idx) => {
                const y = idx === null || idx === undefined ? lastOf(this.raw[i]) : this.raw[i][idx];
                return y === null || y === undefined ? '—' : fmtNum(y);
            };
            const smoothValue = (u, val, si, idx) => {
                const y = idx === null || idx === undefined ? lastOf(u.data[si]) : val;
                return y === null || y === undefined ? '—' : fmtNum(y);
            };
            const d = dash ? { dash } : {};
            if (smoothing > 0) {
                series.push({ label: name + ' (raw)', stroke: color + '4d', width: 1, spanGaps: false, value: rawValue, points: { show: false }, ...d });
                series.push({ label: name, stroke: color, width: 2, spanGaps: true, value: smoothValue, points: { show: false }, ...d });
            } else {
                series.push({ label: name, stroke: color, width: 1.5, spanGaps: false, value: rawValue, points: { show: false }, ...d });
            }
        });
        const axis = { stroke: '#66707a', grid: { stroke: '#eceff2' }, ticks: { stroke: '#d8dde3' } };
        return {
            width, height: this.isLoss ? 260 : 200,
            scales: { x: { time: false }, y: logY ? { distr: 3 } : {} },
            axes: [
                { ...axis, values: (u, ts) => ts.map(xMode === 'time' ? fmtElapsed : fmtTick) },
                { ...axis, size: yAxisSize, values: (u, ts) => ts.map(fmtTick) },
            ],
            series,
            cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 6 } },
            legend: { live: true },
            plugins: [nonFinitePlugin(this)],
            hooks: {
                setSelect: [(u) => { if (u.select.width > 0) this.zoomed = true; }],
            },
        };
    }
    // For tests and debugging: what is drawn.
    info() {
        const xs = this.u ? this.u.data[0] : [];
        return {
            title: this.title, section: this.section, metrics: this.names, runs: [...new Set(this.members.map((m) => m.src.id))], xMode,
            xLabel: this.u ? this.u.series[0].label : null, xMin: xs.length ? xs[0] : null, xMax: xs.length ? xs[xs.length - 1] : null,
            legend: this.u ? this.u.series.slice(1).map((s) => s.label) : [],
        };
    }
    baseName() {
        const runIds = [...new Set(this.members.map((m) => m.src.id))];
        return fileName((runIds.length === 1 ? runIds[0] : 'runwatch-' + runIds.length + '-runs') + '-' + (this.section ? this.section + '-' : '') + (this.isLoss ? 'loss' : this.title));
    }
    // The chart's metrics of each of its runs, every step (from the server, not the thinned points drawn).
    csvParts() {
        const parts = new Map();
        for (const m of this.members) {
            if (!parts.has(m.src.id)) parts.set(m.src.id, { id: m.src.id, names: [] });
            parts.get(m.src.id).names.push(m.name);
        }
        return [...parts.values()];
    }
    exportCsv(button) {
        return downloadCsv(this.baseName() + '.csv', this.csvParts(), button);
    }
    // The plot canvas on white with the title above and the legend below.
    png() {
        if (!this.u) return null;
        const src = this.u.ctx.canvas;
        const r = src.width / this.u.width || 1;
        const items = this.u.series.slice(1).filter((s) => s.show !== false && !/ \(raw\)$/.test(s.label));
        const pad = 8 * r, line = 18 * r, head = 24 * r;
        const c = document.createElement('canvas');
        const ctx = c.getContext('2d');
        ctx.font = `${12 * r}px sans-serif`;
        const widths = items.map((s) => 28 * r + ctx.measureText(s.label).width + 14 * r);
        let rows = items.length ? 1 : 0, x = 0;
        for (const w of widths) { if (x && x + w > src.width) { rows++; x = 0; } x += w; }
        c.width = src.width;
        c.height = head + src.height + rows * line + pad;
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, c.width, c.height);
        ctx.fillStyle = '#1d2329';
        ctx.textAlign = 'center';
        ctx.textBaseline = 'middle';
        ctx.font = `600 ${13 * r}px sans-serif`;
        ctx.fillText([this.title + (this.unit ? ` (${this.unit})` : ''), this.warn.textContent].filter(Boolean).join('  '), c.width / 2, head / 2);
        ctx.drawImage(src, 0, head);
        ctx.font = `${12 * r}px sans-serif`;
        ctx.textAlign = 'left';
        x = pad;
        let y = head + src.height + line / 2;
        items.forEach((s, i) => {
            if (x > pad && x + widths[i] > c.width) { x = pad; y += line; }
            ctx.strokeStyle = typeof s.stroke === 'function' ? s.stroke(this.u, i + 1) : s.stroke;
            ctx.lineWidth = 2 * r;
            ctx.setLineDash(s.dash ? s.dash.map((d) => d * r) : []);
            ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 20 * r, y); ctx.stroke();
            ctx.setLineDash([]);
            ctx.fillStyle = '#1d2329';
            ctx.fillText(s.label, x + 26 * r, y);
            x += widths[i];
        });
        return c.toDataURL('image/png');
    }
    exportPng() {
        const url = this.png();
        if (url) download(this.baseName() + '.png', url);
    }
    width() { return Math.max(200, Math.floor(this.root.clientWidth - 14)); }
    shown() { return !this.section || !view || !view.sections.has(this.section) || view.sections.get(this.section).details.open; }
    update(full) {
        if (!view) return;
        if (!this.shown()) return;
        const cols = this.data();
        dbg.points = [...view.series.values()].reduce((n, s) => n + s.x.length, 0);
        if (!this.u) {
            this.u = new uPlot(this.options(this.width()), cols, this.plotBox);
            // With overlaid runs the legend lists each run's smoothed line only (the raw line keeps its colour).
            if (this.multi && smoothing > 0) {
                this.root.classList.add('multi');
                this.u.root.querySelectorAll('.u-legend .u-series').forEach((row, i) => { if (i && this.u.series[i].label.endsWith(' (raw)')) row.classList.add('raw'); });
            }
            this.u.over.addEventListener('dblclick', () => { this.zoomed = false; });
            return;
        }
        if (full || !this.zoomed) this.u.setData(cols);
        else this.u.setData(cols, false);
    }
    resetZoom() {
        this.zoomed = false;
        if (this.u) this.u.setData(this.data());
    }
    resize() {
        if (!this.u || !this.root.isConnected || this.root.clientWidth === 0) return;
        const w = this.width();
        if (Math.abs(w - this.u.width) > 2) this.u.setSize({ width: w, height: this.u.height });
    }
    destroy() {
        this.observer.disconnect();
        if (this.u) this.u.destroy();
        this.root.remove();
    }
}

// ---------------------------------------------------------------- clock
// Elapsed time, ETA and the reconnect countdown tick locally; nothing is fetched.
setInterval(() => {
    if (view && view.summary) { renderHeader(); if (view.steps.size) renderSteps(); }
    for (const s of streams) if (s.state === 'reconnecting') { renderConn(); break; }
    renderRuns();   // ETA and "updated … ago" tick
    const r = allRate.rate();
    $('log-rate').textContent = r === null ? '' : fmtRate(r, 'events');
}, 1000);

if (typeof uPlot === 'undefined') {
    showBanner('The chart library did not load; charts are unavailable.');
    return;
}
start();
})();
