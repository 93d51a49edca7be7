// Following the server: the snapshot of the runs, then /ws/runs for the runs list and one /ws
// connection subscribed to "*" for the live events of every run (the event log, the overlaid runs).
import { RateMeter } from './timing.js';
import { dbg } from './debug.js';
import { api, enc, AuthError, Stream, stopStreams } from './connection.js';
import { showBanner, failed } from './dialogs.js';
import { runs, current, overlays, LIVE_KEEP, applyToSummary, addLiveEvent, skipLiveEventsBefore, metricEntries } from './store.js';
import { noteType, noteLate, scheduleLog } from './log.js';
import { renderHeader, liveRender } from './panel.js';
import { reloadOverlay, onOverlayEvent } from './overlay.js';
import { renderRuns } from './runs-table.js';
import { route, selectDefault, followRunsStream, onDeleted } from './runview.js';

const fetchingRuns = new Set();
function onLifecycle(e) {
    dbg.runsSeqs.push(e.seq);
    if (dbg.runsSeqs.length > 100000) dbg.runsSeqs.splice(0, 50000);
    let s = runs.get(e.run);
    if (!s) {
        s = { id: e.run, status: null, progress: null };
        runs.set(e.run, s);
        // A run born while we watch: its summary once (config, totals); the stream keeps it current.
        if (!fetchingRuns.has(e.run)) {
            fetchingRuns.add(e.run);
            api('/api/runs/' + enc(e.run)).then(({ data }) => {
                const cur = runs.get(e.run);
                if (cur && data && (cur.last_seq == null || data.last_seq >= cur.last_seq)) Object.assign(cur, data, { rate: cur.rate });
                renderRuns();
                if (current.view && current.view.id === e.run) renderHeader();
            }).catch(() => {}).finally(() => fetchingRuns.delete(e.run));
        }
    }
    // The open run's own stream applies the same events; apply each only once.
    if (!(current.view && current.view.id === e.run && current.view.summary === s && current.view.stream && current.view.stream.lastByRun.get(e.run) >= e.seq))
        applyToSummary(s, e);
    renderRuns();
    if (current.view && current.view.id === e.run) renderHeader();
    if (!current.view && !location.hash) selectDefault();
}


// The snapshot (GET /healthz for its seq, GET /api/runs), then the streams from that seq; again in 3 s
// while the server cannot be reached.
export async function start() {
    stopStreams();
    showBanner('');
    try {
        const health = await api('/healthz');
        const since = health.data.last_seq || 0;
        const { data } = await api('/api/runs');
        runs.clear();
        for (const s of data) runs.set(s.id, s);
        renderRuns();
        const runsStream = new Stream('/ws/runs', { event: onLifecycle, deleted: onDeleted });
        followRunsStream(runsStream);
        runsStream.start(since);
        startAllStream(since);
        route(true);
        if (!current.view) selectDefault();
    } catch (e) {
        failed(e, 'Could not load the runs');
        if (!(e instanceof AuthError)) setTimeout(start, 3000);
    }
}


// One /ws connection subscribed to "*": the live events of every run, for the event log and for the
// runs overlaid in the charts. It starts at the seq of the snapshot the page loaded (so it replays
// next to nothing) and resumes after a drop from the last seq it saw, like the other streams.
let allStream = null;
function startAllStream(since) {
    allStream = new Stream('/ws', {
        welcome: (ws, msg) => {
            const s = allStream && allStream.ws === ws ? allStream : null;
            if (!s) return;
            // After a long outage do not replay the whole server: the log keeps LIVE_KEEP events anyway.
            // Overlaid runs then reload their series from the REST API so their charts have no hole.
            if (typeof msg.last_seq === 'number' && msg.last_seq - s.since > LIVE_KEEP) {
                s.since = msg.last_seq - LIVE_KEEP;
                skipLiveEventsBefore(s.since);
                for (const o of overlays.values()) reloadOverlay(o);
            }
            ws.send(JSON.stringify({ op: 'subscribe', run: '*', since: s.since, id: 'all' }));
        },
        event: onAnyEvent,
        flush: () => { if (current.view) liveRender(); },
        deleted: onDeleted,
    });
    allStream.start(since);
}


const allRate = new RateMeter();
// Events per second of every run (null until there is a second to measure).
export function eventRate() { return allRate.rate(); }
function onAnyEvent(e) {
    allRate.note();
    dbg.allSeqs.push(e.seq);
    if (dbg.allSeqs.length > 200000) dbg.allSeqs.splice(0, 100000);
    if (!addLiveEvent(e)) return;
    noteLate(e, current.view && current.view.id === e.run ? current.view.log : null);
    noteType(e.type);
    scheduleLog();
    const s = runs.get(e.run);
    if (s) {
        if (!s.updated_at || e.ts > s.updated_at) s.updated_at = e.ts;
        if (e.type === 'metric' && e.data) {
            const m = s.metrics || (s.metrics = {});
            for (const [k, val] of metricEntries(e.data)) m[k] = val;
        }
        renderRuns();
    }
    const o = overlays.get(e.run);
    if (o) onOverlayEvent(o, e);
}

