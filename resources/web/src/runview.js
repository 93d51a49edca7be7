// The run view: which run is open (#run=<id>), opening it (summary, metric history, the tail of its
// events, then its own stream from the snapshot's seq) and closing it, and its live events.
import { $ } from './dom.js';
import { num } from './format.js';
import { RateMeter } from './timing.js';
import { dbg } from './debug.js';
import { api, enc, Stream } from './connection.js';
import { failed } from './dialogs.js';
import {
    runs, current, overlays, MAX_POINTS, applyToSummary, sortedRuns, liveEvents, dropLiveEvents, keepLog,
    seriesFrom, onMetric,
} from './store.js';
import { noteType, noteLate, needFullLog, scheduleLog } from './log.js';
import { STEPS_IN_SUMMARY, pageSteps, onStep } from './steps.js';
import { renderAll, renderLive } from './panel.js';
import { forgetOverlay, toggleOverlay, renderOverlayList } from './overlay.js';
import { renderRuns } from './runs-table.js';

const LOG_KEEP = 10000;           // events of the open run kept for the log
const OUTPUT_KEEP = 500000;       // characters of token output kept
const FULL_HISTORY_EVENTS = 20000; // runs with up to this many events load their whole event history
const TAIL_SEQS = 5000;           // otherwise the log starts this many seqs before the run's last seq

// The /ws/runs stream (live.js starts it) applies the open run's lifecycle events to its summary too;
// each is applied once.
let runsStream = null;
export function followRunsStream(stream) { runsStream = stream; }

// #run=<id> opens a run; without it the run most worth watching is opened.
export function route(force) {
    const m = /^#run=(.+)$/.exec(location.hash);
    const id = m ? decodeURIComponent(m[1]) : null;
    if (!id) { if (current.view) closeRun(); selectDefault(); return; }
    if (!force && current.view && current.view.id === id) return;
    openRun(id);
}
window.addEventListener('hashchange', () => route());


export function selectDefault() {
    if (current.view || location.hash.startsWith('#run=')) return;
    const all = sortedRuns();
    // A running training run has charts to look at; else any running run; else the first.
    const first = all.find((s) => s.status === 'running' && s.kind === 'training') || all.find((s) => s.status === 'running') || all[0];
    if (first) history.replaceState(null, '', '#run=' + enc(first.id)), route();
}

// A run was deleted: out of the charts, the log, the table, and closed if it was open.
export function onDeleted(run) {
    if (overlays.has(run)) toggleOverlay(run);
    if (dropLiveEvents(run)) { needFullLog(); scheduleLog(); }
    runs.delete(run);
    renderRuns();
    if (current.view && current.view.id === run) {
        closeRun();
        $('run-empty').textContent = `Run "${run}" was deleted.`;
        history.replaceState(null, '', location.pathname + location.search);
    }
}

function closeRun() {
    if (current.view) {
        keepLog(current.view.log);
        if (current.view.stream) current.view.stream.stop();
        for (const c of current.view.charts.values()) c.destroy();
        clearTimeout(current.view.stepsRefresh);
    }
    current.view = null;
    dbg.run = null;
    $('run-view').hidden = true;
    $('run-empty').hidden = false;
    $('charts').replaceChildren();
    renderRuns();
}


async function openRun(id) {
    closeRun();
    forgetOverlay(id);
    const v = current.view = {
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
    needFullLog();
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
        if (current.view !== v) return;
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
        if (current.view !== v) return;
        for (const { data } of results) v.series.set(data.name, seriesFrom(data));
        // Points of events after `since` may already be in these series: those seqs get checked.
        v.checkFrom = since;
        if (summary.last_seq !== undefined) {
            try { v.checkTo = (await api('/api/runs/' + enc(id))).data.last_seq; } catch (e) { v.checkTo = Infinity; }
        }
        if (current.view !== v) return;
        v.regroup = true;
        renderAll();
        v.stream = new Stream('/ws/runs/' + enc(id), { event: (e) => onRunEvent(v, e), flush: () => renderLive(v), deleted: onDeleted });
        v.stream.lastByRun.set(id, since);
        dbg.since = since;
        v.stream.start(since);
        requestAnimationFrame(() => { if (current.view === v) dbg.openedMs = Math.round(performance.now() - v.t0); });
    } catch (e) {
        if (current.view === v) failed(e, `Could not open run ${id}`);
    }
}

async function loadEvents(v, summary) {
    const count = summary.event_count || 0;
    const last = summary.last_seq || 0;
    let since = count <= FULL_HISTORY_EVENTS ? 0 : Math.max(0, last - TAIL_SEQS);
    v.partialHistory = since > 0;
    for (let page = 0; page < 10 && since < last; page++) {
        const { data, headers } = await api(`/api/runs/${enc(v.id)}/events?since=${since}&limit=10000`);
        if (current.view !== v) return;
        for (const e of data) if (e.seq <= last) addHistoryEvent(v, e);
        needFullLog();
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
    if (current.view === v) noteLate(e, liveEvents());
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
    if (current.view !== v) return;
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

