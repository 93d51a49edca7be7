// Metrics as CSV files: the server's wide tables (every point, not the thinned series drawn), one run
// or several side by side.
import { download } from './dom.js';
import { apiText, enc } from './connection.js';
import { failed } from './dialogs.js';

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
export async function downloadCsv(name, parts, button) {
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
