// What the page exposes to tests and to debugging as window.__runwatch: counters and the seqs seen.

export const dbg = window.__runwatch = {
    seenSeqs: [], runsSeqs: [], duplicates: 0, overlapSkipped: 0, connects: 0, state: 'connecting', run: null, openedMs: null,
    charts: 0, points: 0, subscribed: 0, logRows: 0, xMode: 'step', overlay: [], overlayLoads: 0, chartBuilds: 0,
    // What the charts show: one entry per chart with its x range and legend labels (set by charts.js).
    chartInfo: () => [],
};
// Seqs the "*" stream delivered, in order (not enumerable, so state dumps stay short).
Object.defineProperty(dbg, 'allSeqs', { value: [], writable: true, enumerable: false });
