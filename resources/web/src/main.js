// Runwatch web dashboard. Speaks docs/protocol.md: REST for a snapshot, then WebSocket for everything
// live (/ws/runs for the runs list, /ws/runs/{run}?since=N for the open run, and a /ws connection
// subscribed to "*" for the event log of every run and the runs overlaid in the charts). No polling.
// This module wires the others together and starts the page.
import { $ } from './dom.js';
import { fmtRate } from './format.js';
import { onAuthRequired, tickConnection } from './connection.js';
import { needAuth, onTokenEntered, showBanner } from './dialogs.js';
import { current } from './store.js';
import { renderSteps } from './steps.js';
import { chartLibraryLoaded } from './charts.js';
import { renderHeader } from './panel.js';
import { toggleOverlay } from './overlay.js';
import { renderRuns, onOverlayToggle } from './runs-table.js';
import { start, eventRate } from './live.js';

onAuthRequired(needAuth);
onTokenEntered(start);
onOverlayToggle(toggleOverlay);

// Elapsed time, ETA and the reconnect countdown tick locally; nothing is fetched.
setInterval(() => {
    if (current.view && current.view.summary) { renderHeader(); if (current.view.steps.size) renderSteps(); }
    tickConnection();
    renderRuns();   // ETA and "updated … ago" tick
    const r = eventRate();
    $('log-rate').textContent = r === null ? '' : fmtRate(r, 'events');
}, 1000);

if (chartLibraryLoaded()) start();
else showBanner('The chart library did not load; charts are unavailable.');
