// Runs overlaid in the charts: other runs whose metrics are drawn in the open run's charts, one colour
// per run (the chips above the charts). Their series come from the REST API once, then from the "*"
// stream (events after the snapshot's seq only).
import { $, el } from './dom.js';
import { num } from './format.js';
import { dbg } from './debug.js';
import { api, enc } from './connection.js';
import { failed } from './dialogs.js';
import { runs, current, overlays, MAX_POINTS, runLabel, seriesFrom, onMetric } from './store.js';
import { overlayColor } from './charts.js';
import { liveRender } from './panel.js';
import { renderRuns } from './runs-table.js';

// A run is no longer overlaid (it was opened, or taken out).
export function forgetOverlay(id) {
    if (!overlays.has(id)) return;
    overlays.get(id).dead = true;
    overlays.delete(id);
    dbg.overlay = [...overlays.keys()];
}
export function toggleOverlay(id) {
    if (current.view && current.view.id === id) return;
    if (overlays.has(id)) forgetOverlay(id);
    else {
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
    if (current.view) { current.view.regroup = true; liveRender(); }
}
export function renderOverlayList() {
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
export function reloadOverlay(o) {
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
        if (current.view) { current.view.regroup = true; liveRender(); }
    } catch (e) {
        if (o.dead) return;
        overlays.delete(o.id);
        overlaysChanged();
        failed(e, `Could not load run ${o.id}`);
    }
}
export function onOverlayEvent(o, e) {
    if (o.loading) { o.pending.push(e); return; }
    if (e.seq <= o.checkFrom) return;   // already in the snapshot
    const d = e.data || {};
    if (e.type === 'metric') onMetric(o, e, d);
    else if (e.type === 'progress') {
        const st = num(d.step !== undefined ? d.step : d.completed);
        if (st !== null && st > o.currentStep) o.currentStep = st;
    }
}

