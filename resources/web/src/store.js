// What the page knows: the runs and their summaries, the open run and the runs overlaid with it, the
// live events of every run, metric series, and what metric names mean (sections, loss groups).
import { nf, num, parseValue } from './format.js';
import { dbg } from './debug.js';

export const MAX_POINTS = 2000;   // points per metric asked from the server; the client keeps < 2x that
export const LIVE_KEEP = 20000;   // live events of all runs kept for the log

export const runs = new Map();   // id -> summary
// The run open in the run view (runview.js opens and closes it): its summary, series, steps, log and
// charts. Other runs whose metrics are drawn with it are in `overlays`.
export const current = { view: null };
export const overlays = new Map();   // id -> { id, series, currentStep, checkFrom, checkTo, pending, loading }

// ---------------------------------------------------------------- run summaries
// A summary as GET /api/runs has it, kept current by the run's events.

export function applyToSummary(s, e) {
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

export function runLabel(s) { return s.name || s.id; }
// The metric a run is judged by: loss, else another *loss, else the first by name.
export function headlineMetric(metrics) {
    const names = Object.keys(metrics || {}).sort();
    if (!names.length) return null;
    return names.includes('loss') ? 'loss' : names.find((n) => isLoss(n)) || names[0];
}

const FINISHED = new Set(['completed', 'failed', 'cancelled']);
// A run that ended with less done than its total (the server says so; live events are worked out here).
export function stoppedEarly(s) {
    if (!s || !FINISHED.has(s.status)) return false;
    if (s.stopped_early === true) return true;
    const c = num(s.completed), t = num(s.total);
    return c !== null && t !== null && t > 0 && c < t;
}

// "320,000 of 1,000,000 done": what a progress bar stands for, for its tooltip.
export function progressTitle(s) {
    const c = num(s.completed), t = num(s.total);
    if (c === null || t === null) return '';
    return `${nf.format(c)} of ${nf.format(t)} done` + (stoppedEarly(s) ? ' — the run ended before its total' : '');
}

// Newest first (runs not started yet on top), then by id.
export function sortedRuns() {
    return [...runs.values()].sort((a, b) => (b.started_at || '\uffff').localeCompare(a.started_at || '\uffff') || a.id.localeCompare(b.id));
}

export function etaLeft(s) {
    if (s.eta_s == null) return null;
    const since = s.eta_at ? (Date.now() - s.eta_at) / 1000 : 0;
    return Math.max(0, s.eta_s - Math.max(0, since));
}

export function throughput(s) {
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

// ---------------------------------------------------------------- events of every run
let liveLog = [];          // ascending seq
let logGapBefore = 0;      // a long outage: events of other runs up to this seq were skipped
export function liveEvents() { return liveLog; }
export function liveGapBefore() { return logGapBefore; }
export function skipLiveEventsBefore(seq) { logGapBefore = seq; }

// Index of the first event with a seq >= `seq` in an array in ascending seq order.
function seqIndex(arr, seq) {
    let lo = 0, hi = arr.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid].seq < seq) lo = mid + 1; else hi = mid; }
    return lo;
}
export function hasSeq(arr, seq) { const i = seqIndex(arr, seq); return i < arr.length && arr[i].seq === seq; }
// A live event in seq order; false if it is there already.
export function addLiveEvent(e) {
    const n = liveLog.length;
    if (!n || liveLog[n - 1].seq < e.seq) liveLog.push(e);
    else {
        // Seqs of different runs may interleave at the seam of a replay: keep the log in seq order.
        const i = seqIndex(liveLog, e.seq);
        if (i < n && liveLog[i].seq === e.seq) return false;
        liveLog.splice(i, 0, e);
    }
    if (liveLog.length > LIVE_KEEP * 1.2) liveLog.splice(0, liveLog.length - LIVE_KEEP);
    return true;
}
// The events of a deleted run go; true if there were any.
export function dropLiveEvents(run) {
    if (!liveLog.some((e) => e.run === run)) return false;
    liveLog = liveLog.filter((e) => e.run !== run);
    return true;
}

// The log of a run that is closed stays in the all-runs log (the oldest events go first when it is full).
export function keepLog(events) {
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

// ---------------------------------------------------------------- metric series
export function newSeries(name) { return { name, x: [], y: [], ts: [], total: 0 }; }
// A series from GET /api/runs/{run}/metrics/{name}: points are [step, value, ts_ms].
export function seriesFrom(data) {
    const s = newSeries(data.name);
    for (const [x, val, ts] of data.points) {
        const y = parseValue(val);
        if (y === undefined) continue;
        s.x.push(x); s.y.push(y); s.ts.push(ts);
    }
    s.total = data.total;
    return s;
}

// A metric event's values as [name, value]: nested objects flattened to "outer/inner", as the server does.
export function metricEntries(d, prefix = '', out = []) {
    for (const key of Object.keys(d)) {
        if (!prefix && key === 'step') continue;
        const val = d[key];
        if (val !== null && typeof val === 'object' && !Array.isArray(val)) metricEntries(val, prefix + key + '/', out);
        else out.push([prefix + key, val]);
    }
    return out;
}

// A metric event of the open run (v is the view) or of an overlaid run (v is its overlay entry).
export function onMetric(v, e, d) {
    const explicit = Number.isInteger(d.step) ? d.step : null;
    const ts = Date.parse(e.ts) || Date.now();
    const check = e.seq > v.checkFrom && e.seq <= v.checkTo;
    for (const [key, raw] of metricEntries(d)) {
        const y = parseValue(raw);
        if (y === undefined) continue;
        let s = v.series.get(key);
        if (!s) { s = newSeries(key); v.series.set(key, s); if (current.view) current.view.regroup = true; }
        const n = s.x.length;
        const lastX = n ? s.x[n - 1] : -Infinity;
        // Same rule as the server: without a step, the run's current step or one past the last point.
        const x = explicit !== null ? explicit : Math.max(v.currentStep, n ? lastX + 1 : 0);
        // Events the metric history may already hold (fetched after `since`): skip what is not newer.
        if (check && n && (x < lastX || (x === lastX && ts <= s.ts[n - 1]))) { dbg.overlapSkipped++; continue; }
        s.x.push(x); s.y.push(y); s.ts.push(ts);
        s.total++;
        if (s.x.length > MAX_POINTS * 2) decimate(s, MAX_POINTS);
        if (current.view) current.view.dirtyCharts.add(groupOf(key));
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

// ---------------------------------------------------------------- metric names
const isLoss = (name) => name.toLowerCase().endsWith('loss');
// Metrics named "train/loss", "train/acc" form the section "train" (collapsible); a chart holds one
// metric, or every *loss metric of its section (or of the names without a prefix) together.
export const LOSS = '\u0000loss';
export function sectionOf(name) {
    const i = name.indexOf('/');
    return i > 0 && i < name.length - 1 ? name.slice(0, i) : '';
}
export const tailOf = (name) => { const sec = sectionOf(name); return sec ? name.slice(sec.length + 1) : name; };
export const groupOf = (name) => {
    const sec = sectionOf(name), tail = tailOf(name), base = isLoss(tail) ? LOSS : tail;
    return sec ? sec + '/' + base : base;
};
