// The runs table: a row per run (status, progress, epoch, step, headline metric, updated, ETA), filtered
// by text and status; a click opens a run, its checkbox (or ctrl/cmd-click) overlays it in the charts.
import { $, el, makeBar } from './dom.js';
import { nf, fmtCount, fmtNum, fmtDuration, fmtAgo, parseValue } from './format.js';
import { throttle } from './timing.js';
import { enc } from './connection.js';
import { runs, current, overlays, runLabel, headlineMetric, stoppedEarly, progressTitle, sortedRuns, etaLeft } from './store.js';
import { overlayColor } from './charts.js';
import { renderRunFilter } from './log.js';

// What the checkbox of a row does (set by main.js): fn(run id).
let overlayToggled = () => {};
export function onOverlayToggle(fn) { overlayToggled = fn; }

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

export const renderRuns = throttle(() => {
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
        if (current.view && current.view.id === s.id) tr.className = 'selected';
        else if (overlays.has(s.id)) tr.className = 'compared';
        const box = el('input');
        box.type = 'checkbox';
        box.checked = !!(current.view && current.view.id === s.id) || overlays.has(s.id);
        box.disabled = !!(current.view && current.view.id === s.id);
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

$('runs-filter').addEventListener('input', renderRuns);
$('runs-status').addEventListener('change', renderRuns);
$('runs-table').addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-run]');
    if (!tr) return;
    // The checkbox or ctrl/cmd-click overlays a run in the charts; a plain click opens it.
    if (e.target.matches('input[type=checkbox]') || e.ctrlKey || e.metaKey) {
        e.preventDefault();
        overlayToggled(tr.dataset.run);
        return;
    }
    location.hash = 'run=' + enc(tr.dataset.run);
});
