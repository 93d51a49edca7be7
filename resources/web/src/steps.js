// The open run's steps: the table, paged from the server when the run has many, kept current by step_* events.
import { $, el, makeBar } from './dom.js';
import { nf, fmtDuration, num } from './format.js';
import { api, enc } from './connection.js';
import { failed } from './dialogs.js';
import { current } from './store.js';

export const STEPS_IN_SUMMARY = 1000;    // the run summary lists at most this many steps
const STEPS_PAGE = 250;            // rows of a large step table fetched and shown at a time

// One page of the run's steps from GET /api/runs/{run}/steps (the newest answer wins).
async function loadStepPage(v, offset) {
    const req = v.stepsReq = (v.stepsReq || 0) + 1;
    try {
        const { data } = await api(`/api/runs/${enc(v.id)}/steps?offset=${offset}&limit=${STEPS_PAGE}`);
        if (current.view !== v || req !== v.stepsReq) return;
        v.stepTotal = data.total;
        // Past the end (steps gone, e.g. the run restarted): the last page.
        if (offset > 0 && offset >= data.total) { loadStepPage(v, Math.max(0, Math.floor((data.total - 1) / STEPS_PAGE) * STEPS_PAGE)); return; }
        v.stepOffset = data.offset;
        v.steps = new Map(data.steps.map((st) => [st.id, st]));
        renderSteps();
    } catch (e) {
        if (current.view === v) failed(e, 'Could not load the steps');
    }
}
export function pageSteps(v, offset) {
    v.paged = true;
    v.stepOffset = offset;
    loadStepPage(v, offset);
}
// A step that is not on the page shown: the page (and the count) are fetched again, at most once a second.
function refreshStepPage(v) {
    if (v.stepsRefresh) return;
    v.stepsRefresh = setTimeout(() => { v.stepsRefresh = null; if (current.view === v) loadStepPage(v, v.stepOffset || 0); }, 1000);
}

export function onStep(v, e, d) {
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

export function renderSteps() {
    const v = current.view;
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

$('steps-pager').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-page]');
    const v = current.view;
    if (!b || !v || !v.paged) return;
    const last = Math.max(0, Math.floor(((v.stepTotal || 0) - 1) / STEPS_PAGE) * STEPS_PAGE);
    const at = v.stepOffset || 0;
    const to = { first: 0, prev: Math.max(0, at - STEPS_PAGE), next: Math.min(last, at + STEPS_PAGE), last }[b.dataset.page];
    if (to !== undefined && to !== at) pageSteps(v, to);
});
