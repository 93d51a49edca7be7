// Page helpers: elements by id, new elements, progress bars, downloads.
import { fmtPct } from './format.js';

export const $ = (id) => document.getElementById(id);

export function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
}

export function setBar(bar, fraction, status, early) {
    const f = fraction === null || fraction === undefined || !Number.isFinite(fraction) ? null : Math.max(0, Math.min(1, fraction));
    bar.querySelector('.fill').style.width = f === null ? '0' : (f * 100).toFixed(1) + '%';
    bar.querySelector('.label').textContent = f === null ? '' : fmtPct(f);
    bar.classList.toggle('completed', status === 'completed' && !early);
    bar.classList.toggle('stopped', status === 'completed' && !!early);
    bar.classList.toggle('failed', status === 'failed');
}
export function makeBar(fraction, status, early) {
    const bar = el('div', 'bar');
    bar.append(el('div', 'fill'), el('span', 'label'));
    setBar(bar, fraction, status, early);
    return bar;
}

export const fileName = (t) => t.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 100) || 'chart';
export function download(name, href) {
    const a = el('a');
    a.href = href;
    a.download = name;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    if (href.startsWith('blob:')) setTimeout(() => URL.revokeObjectURL(href), 10000);
}
