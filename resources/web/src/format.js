// Formatting for the page: numbers, counts, durations, times, rates and units; parsing of the values
// the server sends ("NaN", "Infinity" as strings, numbers as strings).

export const nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const cf = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
// Counts in a narrow column: 12,345, then 320K, 1.2M.
export function fmtCount(v) { return typeof v === 'number' && Math.abs(v) >= 100000 ? cf.format(v) : fmtNum(v); }
export function fmtNum(v) {
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
export function fmtTick(v) {
    if (v === null || v === undefined) return '';
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e7)) return v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
    return String(+v.toPrecision(6));
}
export function fmtDuration(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return '';
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
    if (m) return `${m}m ${String(sec).padStart(2, '0')}s`;
    return `${sec}s`;
}
export function fmtTime(ts) {
    const d = new Date(ts);
    if (Number.isNaN(d.getTime())) return '';
    return d.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}
export function parseValue(v) {
    if (typeof v === 'number') return v;
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    return undefined;
}

// A percentage that never rounds up to 100 before the end: 32 %, 32.5 %, 99.9 %.
export function fmtPct(f) {
    const p = Math.floor(f * 1000) / 10;
    return (Number.isInteger(p) ? String(p) : p.toFixed(1)) + ' %';
}

// A rate with its unit: "19.8 steps/s", "1,240 events/s".
export function fmtRate(r, unit) {
    if (r === null || r === undefined || !Number.isFinite(r)) return '';
    return `${fmtNum(r >= 100 ? Math.round(r) : r === 0 ? 0 : +r.toPrecision(3))} ${unit}/s`;
}
// What a run's progress counts: items of an evaluation, steps of anything else.
export const progressUnit = (s) => (s.kind === 'evaluation' ? 'items' : 'steps');

// "samples_per_second" is in samples/s, "tokens_per_sec" in tokens/s.
export function metricUnit(name) {
    const m = /^(?:.*\/)?([^/]+?)_(?:per_?(?:second|sec|s)|ps)$/i.exec(name);
    return m ? m[1] + '/s' : '';
}
export function num(v) { return typeof v === 'number' && Number.isFinite(v) ? v : (typeof v === 'string' && v !== '' && Number.isFinite(+v) ? +v : null); }

// "4s ago", "3m ago", "2h ago"; older (or a clock ahead of this one) as a date.
export function fmtAgo(ts) {
    const t = Date.parse(ts);
    if (!Number.isFinite(t)) return '';
    const d = (Date.now() - t) / 1000;
    if (d < -60 || d >= 86400) return new Date(t).toLocaleDateString(undefined, { month: 'short', day: 'numeric' }) + ' ' + new Date(t).toLocaleTimeString(undefined, { hour12: false, hour: '2-digit', minute: '2-digit' });
    if (d < 5) return 'just now';
    if (d < 60) return `${Math.floor(d)}s ago`;
    if (d < 3600) return `${Math.floor(d / 60)}m ago`;
    return `${Math.floor(d / 3600)}h ${Math.floor((d % 3600) / 60)}m ago`;
}

export function fmtElapsed(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '';
    const a = Math.abs(v), sign = v < 0 ? '−' : '';
    if (a < 60) return sign + String(+a.toPrecision(a < 1 ? 2 : a < 10 ? 3 : 4)) + 's';
    const h = Math.floor(a / 3600), m = Math.floor((a % 3600) / 60), sec = a % 60;
    const ss = (sec < 10 ? '0' : '') + String(+sec.toFixed(sec % 1 ? 1 : 0));
    return sign + (h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`);
}
