// The open run's panel: the header (status, progress, facts), config, output and the tabs, and the
// throttled redraw of what live events changed (header, steps, config, output, charts).
import { $, el, setBar } from './dom.js';
import { nf, fmtDuration, fmtRate, progressUnit } from './format.js';
import { throttle } from './timing.js';
import { current, runLabel, stoppedEarly, progressTitle, etaLeft, throughput } from './store.js';
import { renderSteps } from './steps.js';
import { renderLog } from './log.js';
import { renderCharts } from './charts.js';

export function renderAll() {
    renderHeader();
    renderSteps();
    renderConfig();
    renderOutput();
    renderLog();
    renderCharts();
}
// The open run's stream delivered a batch: what changed is drawn (at most every 100 ms).
export const renderLive = (v) => { if (current.view === v) liveRender(); };
export const liveRender = throttle(() => {
    const v = current.view;
    if (!v) return;
    if (v.headerDirty) { v.headerDirty = false; renderHeader(); }
    if (v.stepsDirty) { v.stepsDirty = false; renderSteps(); }
    if (v.configDirty) { v.configDirty = false; renderConfig(); }
    if (v.outputDirty) renderOutput();
    renderCharts();
}, 100);

export function renderHeader() {
    const v = current.view;
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

function renderConfig() {
    const s = current.view.summary;
    const info = { id: s.id, name: s.name, kind: s.kind, tags: s.tags, config: s.config };
    if (s.summary !== undefined) info.summary = s.summary;
    if (s.progress_extra) info.progress_extra = s.progress_extra;
    $('config').textContent = JSON.stringify(info, null, 2);
}

function renderOutput() {
    const v = current.view;
    v.outputDirty = false;
    const pre = $('output');
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
    pre.textContent = v.output || (v.outputDropped ? '' : 'No output yet.');
    const note = $('output-note');
    note.hidden = !v.outputDropped;
    note.textContent = v.outputDropped ? `${nf.format(v.outputDropped)} earlier characters are not shown.` : '';
    if (atEnd) pre.scrollTop = pre.scrollHeight;
}


// The tabs of the run view.
document.querySelector('.tabs').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-tab]');
    if (!b) return;
    for (const t of document.querySelectorAll('.tabs button')) t.setAttribute('aria-selected', String(t === b));
    for (const p of document.querySelectorAll('.tab')) p.hidden = p.id !== 'tab-' + b.dataset.tab;
    if (b.dataset.tab === 'charts') for (const c of current.view ? current.view.charts.values() : []) c.resize();
    if (b.dataset.tab === 'output') { const pre = $('output'); pre.scrollTop = pre.scrollHeight; }
});
