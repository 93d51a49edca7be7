// The open run's charts (uPlot): a chart per metric or loss group, sections per name prefix, the runs
// overlaid in them, smoothing, log scale, step or time on x, zoom, and CSV and PNG downloads.
import { $, el, download, fileName } from './dom.js';
import { fmtNum, fmtTick, fmtElapsed, metricUnit } from './format.js';
import { dbg } from './debug.js';
import { runs, current, overlays, runLabel, newSeries, LOSS, sectionOf, tailOf, groupOf } from './store.js';
import { downloadCsv } from './csv.js';

// uPlot, which /assets/app.js holds ahead of the dashboard's modules (see build.mjs).
const uPlot = window.uPlot;
export function chartLibraryLoaded() { return typeof uPlot !== 'undefined'; }

const PALETTE = ['#2f7bd8', '#e3742f', '#2e9b4f', '#9b4fd0', '#c23b6b', '#1f9ea8', '#8a6d1f', '#5a6a7a'];
let smoothing = +$('smoothing').value;
let logY = false;
let xMode = $('x-mode').value === 'time' ? 'time' : 'step';

// The colour of a run in the charts and in the runs table while runs are overlaid (else null).
export function overlayColor(id) {
    if (!overlays.size || !current.view) return null;
    if (current.view.id === id) return PALETTE[0];
    const i = [...overlays.keys()].indexOf(id);
    return i < 0 ? null : PALETTE[(i + 1) % PALETTE.length];
}

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
        if (details.open && current.view === v) for (const c of v.charts.values()) if (c.section === sec) c.update(true);
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
    if (!current.view) return;
    const sources = [current.view, ...overlays.values()].filter((src) => src.series.size);
    if (!sources.length) return;
    const parts = sources.map((src) => ({ id: src.id, names: sources.length === 1 ? null : [...src.series.keys()].sort() }));
    downloadCsv(fileName(sources.length === 1 ? current.view.id + '-metrics' : 'runwatch-' + sources.length + '-runs-metrics') + '.csv', parts, $('export-csv'));
});
$('reset-zoom').addEventListener('click', () => { if (current.view) for (const c of current.view.charts.values()) c.resetZoom(); });

function rebuildCharts() {
    if (!current.view) return;
    for (const c of current.view.charts.values()) c.destroy();
    current.view.charts.clear();
    $('charts').replaceChildren();
    current.view.regroup = true;
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

export function renderCharts() {
    const v = current.view;
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

const DASHES = [null, [6, 4], [2, 3], [10, 3, 2, 3]];

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
    shown() { return !this.section || !current.view || !current.view.sections.has(this.section) || current.view.sections.get(this.section).details.open; }
    update(full) {
        if (!current.view) return;
        if (!this.shown()) return;
        const cols = this.data();
        dbg.points = [...current.view.series.values()].reduce((n, s) => n + s.x.length, 0);
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

dbg.chartInfo = () => (current.view ? [...current.view.charts.values()].map((c) => c.info()) : []);
