// The event log: every run's live events with the open run's history, filtered by run, type and text.
import { $, el } from './dom.js';
import { fmtNum, fmtDuration, fmtTime, num } from './format.js';
import { throttle } from './timing.js';
import { dbg } from './debug.js';
import { enc } from './connection.js';
import { runs, current, liveEvents, liveGapBefore, hasSeq, metricEntries, runLabel } from './store.js';

const LOG_SHOW = 2000;            // rows rendered; older rows are dropped

// Every run's live events (liveEvents(), from the "*" stream) merged with the open run's history and
// events (current.view.log); an event both hold is shown once (same seq). New rows are appended and the
// oldest dropped beyond LOG_SHOW; a filter change or older events arriving rebuild the list.
let logPaused = false;
let logNeedsFull = true, logKey = '', logLastSeq = -1;
// The next rendering rebuilds the whole list (other events to show, or older ones arrived).
export function needFullLog() { logNeedsFull = true; }
const logTypes = new Set();
export function noteType(type) {
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
    const a = liveEvents(), b = current.view ? current.view.log : [];
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
export function renderLog() {
    if (logPaused) return;
    const runF = $('log-run').value;
    const type = $('log-type').value;
    const text = $('log-text').value.trim().toLowerCase();
    const key = [runF, type, text, current.view ? current.view.id : ''].join('\u0001');
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
    if (current.view && current.view.partialHistory && (!runF || runF === current.view.id)) notes.push('Older events of this run are not loaded.');
    if (runF && (!current.view || runF !== current.view.id)) notes.push('Events of this run that this page has seen; open the run for its full history.');
    else if (!runF) notes.push('Other runs: events since this page opened.');
    if (liveGapBefore()) notes.push('Some events of other runs were skipped after a long disconnect.');
    if (box.childElementCount >= LOG_SHOW) notes.push(`Showing the latest ${LOG_SHOW} matching events.`);
    $('log-note').textContent = notes.join(' ');
    if (atEnd || full) box.scrollTop = box.scrollHeight;
}
export const scheduleLog = throttle(renderLog, 200);
$('log-run').addEventListener('change', renderLog);
$('log').addEventListener('click', (e) => {
    // The run name of a row opens that run.
    const cell = e.target.closest('span.run');
    const row = cell && cell.parentElement;
    if (row && row.dataset.run && runs.has(row.dataset.run) && !(current.view && current.view.id === row.dataset.run)) location.hash = 'run=' + enc(row.dataset.run);
});
$('log-type').addEventListener('change', renderLog);
$('log-text').addEventListener('input', renderLog);
$('log-pause').addEventListener('click', () => {
    logPaused = !logPaused;
    $('log-pause').setAttribute('aria-pressed', String(logPaused));
    $('log-pause').textContent = logPaused ? 'Resume' : 'Pause';
    if (!logPaused) renderLog();
});

// An event older than the newest row shown needs the list rebuilt, unless the other source had it.
export function noteLate(e, other) {
    if (e.seq <= logLastSeq && !(other && hasSeq(other, e.seq))) logNeedsFull = true;
}

// The event log's run filter: "All runs", then every run in the order of the list.
let runFilterKey = '';
export function renderRunFilter(ordered) {
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
