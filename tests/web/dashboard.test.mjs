// Browser test of the web dashboard: the real runwatch binary, Debian's chromium driven by playwright-core.
//
//   RUNWATCH_BINARY=.../runwatch node tests/web/dashboard.test.mjs
// Environment:
//   RUNWATCH_BINARY              the runwatch executable (required)
//   RUNWATCH_WEB_SCREENSHOT      where to write the PNG (default: ./web-dashboard.png)
//   RUNWATCH_WEB_NODE_MODULES    a node_modules folder holding playwright-core (default: next to this file)
//   CHROMIUM                     the browser (default /usr/bin/chromium)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import assert from 'node:assert/strict';

const modules = process.env.RUNWATCH_WEB_NODE_MODULES;
const require = createRequire(modules ? join(resolve(modules), '..', 'noop.js') : import.meta.url);
const { chromium } = require('playwright-core');

const binary = process.env.RUNWATCH_BINARY;
if (!binary || !existsSync(binary)) { console.error('set RUNWATCH_BINARY to the runwatch executable'); process.exit(2); }
const screenshot = resolve(process.env.RUNWATCH_WEB_SCREENSHOT || 'web-dashboard.png');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const RUN = 'web-test';
const OTHER = 'web-other';
const EARLY = 'web-early';

const log = (...a) => console.log(`[${(performance.now() / 1000).toFixed(2)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startServer(dataDir, port, extra = []) {
    return new Promise((resolveStart, reject) => {
        const child = spawn(binary, ['--headless', '--port', String(port), '--data-dir', dataDir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '', err = '';
        const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no listening line in 15 s\nstdout: ${out}\nstderr: ${err}`)); }, 15000);
        child.stderr.on('data', (d) => { err += d; });
        child.stdout.on('data', (d) => {
            out += d;
            const m = /runwatch listening on (http:\/\/\S+)/.exec(out);
            if (m) { clearTimeout(timer); resolveStart({ child, url: m[1], port: +new URL(m[1]).port, stderr: () => err }); }
        });
        child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`runwatch exited with ${code}\nstdout: ${out}\nstderr: ${err}`)); });
    });
}
function stopServer(server) {
    return new Promise((res) => {
        if (server.child.exitCode !== null || server.child.signalCode !== null) { res({ code: server.child.exitCode }); return; }
        server.child.removeAllListeners('exit');
        const killer = setTimeout(() => server.child.kill('SIGKILL'), 10000);
        server.child.on('exit', (code, signal) => { clearTimeout(killer); res({ code, signal }); });
        server.child.kill('SIGTERM');
    });
}
async function publish(base, events) {
    const r = await fetch(base + '/api/events', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(events) });
    const body = await r.json();
    assert.equal(r.status, 200, JSON.stringify(body));
    return body.seq;
}
async function waitFor(page, fn, arg, what, timeout = 10000) {
    try {
        await page.waitForFunction(fn, arg, { timeout, polling: 20 });
    } catch (e) {
        const state = await page.evaluate(() => JSON.stringify({ ...window.__runwatch, seenSeqs: window.__runwatch.seenSeqs.slice(-20), runsSeqs: undefined }));
        throw new Error(`timed out waiting for ${what}; page state: ${state}`);
    }
}

const dataDir = mkdtempSync(join(tmpdir(), 'runwatch-web-test-'));
let server, browser;
const failures = [];
try {
    server = await startServer(dataDir, 0);
    const base = server.url.replace(/\/$/, '');
    log('server at', base);

    // A run with a config, steps, metrics (a NaN among them), logs and token output.
    const events = [{ run: RUN, type: 'run_started', data: { name: 'web test run', kind: 'training', total_steps: 400, total_epochs: 4, config: { lr: 0.0003, batch: 64 } } }];
    for (let i = 0; i < 200; i++) {
        const m = { step: i, loss: 2.5 * Math.exp(-i / 80) + 0.05 * Math.sin(i), eval_loss: 2.6 * Math.exp(-i / 90), lr: 3e-4 * (1 - i / 400) };
        if (i === 120) m.loss = 'NaN';
        events.push({ run: RUN, type: 'metric', data: m });
        if (i % 20 === 0) events.push({ run: RUN, type: 'progress', data: { completed: i, total: 400, epoch: 1 + Math.floor(i / 100), total_epochs: 4, eta_s: 400 - i } });
    }
    events.push({ run: RUN, type: 'step_started', step: 'prep', data: { name: 'prepare data' } });
    events.push({ run: RUN, type: 'step_completed', step: 'prep', data: { name: 'prepare data', message: 'ok' } });
    events.push({ run: RUN, type: 'step_progress', step: 'train', data: { name: 'train', progress: 0.5 } });
    events.push({ run: RUN, type: 'log', data: { level: 'info', message: 'hello from the test' } });
    events.push({ run: RUN, type: 'token', data: { text: 'The quick brown fox ' } });
    await publish(base, events);

    browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const consoleErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
    const t0 = performance.now();
    await page.goto(base + '/', { waitUntil: 'load' });

    // A run appears in the list, the page opens it, a chart draws.
    await waitFor(page, (run) => !!document.querySelector(`#runs-table tr[data-run="${run}"]`), RUN, 'the run in the runs list');
    log('run listed after', Math.round(performance.now() - t0), 'ms');
    await page.click(`#runs-table tr[data-run="${RUN}"]`);
    await waitFor(page, () => window.__runwatch.openedMs !== null && window.__runwatch.charts >= 2 && window.__runwatch.state === 'live', null, 'charts and a live connection');
    const groups = await page.$$eval('.chart', (cs) => cs.map((c) => c.dataset.metrics));
    log('chart groups', groups);
    assert.ok(groups.includes('eval_loss,loss'), 'every *loss metric shares one chart');
    assert.ok(groups.includes('lr'), 'other metrics have their own chart');
    const inked = await page.evaluate(() => {
        const canvas = document.querySelector('.chart canvas');
        const ctx = canvas.getContext('2d');
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && (px[i] < 200 || px[i + 1] < 200 || px[i + 2] < 200)) n++;
        return n;
    });
    log('non-blank chart pixels', inked);
    assert.ok(inked > 500, `the chart canvas has ink (${inked} pixels)`);
    assert.match(await page.textContent('.chart.wide h3'), /NaN/, 'the NaN is flagged on the loss chart');

    // A live update shows within a second.
    const tLive = performance.now();
    const [liveSeq] = await publish(base, [{ run: RUN, type: 'log', data: { level: 'warning', message: 'live marker 1' } }]);
    await waitFor(page, () => document.getElementById('log').textContent.includes('live marker 1'), null, 'the live log line', 1000);
    const liveMs = Math.round(performance.now() - tLive);
    log(`live event seq ${liveSeq} shown after ${liveMs} ms`);
    assert.ok(liveMs < 1000);
    const tMetric = performance.now();
    await publish(base, [{ run: RUN, type: 'metric', data: { step: 200, loss: 0.1, eval_loss: 0.2, lr: 1e-4 } }]);
    await waitFor(page, () => window.__runwatch.points > 0 && document.querySelector('.chart[data-metrics=lr] .u-legend') !== null
        && window.__runwatch.seenSeqs.length >= 2, null, 'the live metric', 1000);
    log('live metric applied after', Math.round(performance.now() - tMetric), 'ms');
    assert.deepEqual(consoleErrors, [], 'no console errors while loading and running');

    // Progress stays true after the end: 320,000 of 1,000,000 done, then completed, reads 32 % and
    // "stopped early", never 100 %; once from the REST summary, once from live events.
    const earlyRun = async (run, name) => publish(base, [
        { run, type: 'run_started', data: { name, kind: 'training', total_steps: 1000000 } },
        { run, type: 'progress', data: { completed: 320000, total: 1000000 } },
        { run, type: 'run_completed', data: {} }]);
    const rowProgress = (run) => page.evaluate((r) => {
        const tr = document.querySelector(`#runs-table tr[data-run="${r}"]`);
        return tr && { label: tr.querySelector('.bar .label').textContent, status: tr.querySelector('.badge').textContent, text: tr.textContent };
    }, run);
    await earlyRun(EARLY, 'stopped at 32');   // published while the page is open: live path
    await waitFor(page, (r) => { const tr = document.querySelector(`#runs-table tr[data-run="${r}"]`); return tr && tr.querySelector('.badge').textContent !== 'running'; },
        EARLY, 'the live run to end');
    let early = await rowProgress(EARLY);
    assert.equal(early.label, '32 %', `live: the runs table shows 32 % (${early.text})`);
    assert.equal(early.status, 'stopped early');
    assert.ok(!early.text.includes('100 %'), 'never 100 %');
    await page.reload({ waitUntil: 'load' });   // the same run from the REST summary
    await waitFor(page, (r) => !!document.querySelector(`#runs-table tr[data-run="${r}"]`), EARLY, 'the runs after a reload');
    early = await rowProgress(EARLY);
    assert.deepEqual([early.label, early.status], ['32 %', 'stopped early'], 'from the summary: 32 %, stopped early');
    await page.click(`#runs-table tr[data-run="${EARLY}"] td:nth-child(3)`);
    await waitFor(page, (r) => window.__runwatch.run === r && window.__runwatch.openedMs !== null, EARLY, 'the stopped run opened');
    assert.equal(await page.textContent('#run-progress .label'), '32 %', 'the run view shows 32 %');
    assert.equal(await page.textContent('#run-status'), 'completed');
    assert.ok(await page.isVisible('#run-early'), 'the run view says "stopped early"');
    log('stopped early ok:', JSON.stringify(early));
    await page.click(`#runs-table tr[data-run="${RUN}"] td:nth-child(3)`);
    await waitFor(page, (r) => window.__runwatch.run === r && window.__runwatch.openedMs !== null && window.__runwatch.state === 'live', RUN, 'the test run again');

    // Rates carry units: the run's throughput in steps/s, events per second.
    await publish(base, [{ run: RUN, type: 'metric', data: { step: 200, samples_per_second: 512 } }]);
    await waitFor(page, () => /\d steps\/s/.test(document.getElementById('run-facts').textContent) && /\d events\/s/.test(document.getElementById('run-facts').textContent)
        && /^\d[\d.,]* events\/s$/.test(document.getElementById('log-rate').textContent)
        && !!document.querySelector('.chart[data-metrics=samples_per_second] h3 .unit'), null, 'rates with units', 5000);
    assert.equal(await page.textContent('.chart[data-metrics=samples_per_second] h3 .unit'), 'samples/s');
    assert.doesNotMatch(await page.textContent('#run-facts'), /\d\/s/, 'no rate without a unit');
    log('rates:', await page.textContent('#run-facts'), '|', await page.textContent('#log-rate'));

    // Export CSV of one run: the server's wide table, a row per step, a column per metric, and the time.
    const csvOf = async (click) => {
        const [d] = await Promise.all([page.waitForEvent('download'), page.click(click)]);
        return { name: d.suggestedFilename(), lines: readFileSync(await d.path(), 'utf8').split('\r\n').filter((l) => l !== '') };
    };
    const serverCsv = async (run, names) => (await (await fetch(`${base}/api/runs/${run}/metrics?format=csv${names ? '&names=' + names : ''}`)).text()).split('\n').filter((l) => l !== '');
    const one = await csvOf('#export-csv');
    assert.match(one.name, /\.csv$/);
    assert.equal(one.lines[0], 'step,time,eval_loss,loss,lr,samples_per_second');
    assert.deepEqual(one.lines, await serverCsv(RUN), 'the export is the server\'s table of every step');
    assert.equal(one.lines.length, 1 + 201, 'one row per step 0..200');
    assert.equal(new Set(one.lines.map((l) => l.split(',')[0])).size, one.lines.length, 'each step once');
    log('one-run CSV ok:', one.lines[1]);

    // Restart the server on the same port and data dir: the page must resume without gaps or duplicates.
    const before = await publish(base, Array.from({ length: 50 }, (_, i) => ({ run: RUN, type: 'metric', data: { step: 201 + i, loss: 0.1 } })));
    await waitFor(page, (s) => window.__runwatch.seenSeqs.includes(s), before[before.length - 1], 'the events before the restart');
    const connectsBefore = await page.evaluate(() => window.__runwatch.connects);
    const exit = await stopServer(server);
    log('server stopped', exit);
    await waitFor(page, () => window.__runwatch.state !== 'live', null, 'the page to notice the drop', 5000);
    log('page state while down:', await page.textContent('#conn'));
    server = await startServer(dataDir, server.port);
    log('server restarted at', server.url);
    // Events published while the page is still waiting to reconnect, and after.
    const during = await publish(base, Array.from({ length: 30 }, (_, i) => ({ run: RUN, type: 'metric', data: { step: 251 + i, loss: 0.09 } })));
    await waitFor(page, (n) => window.__runwatch.connects > n && window.__runwatch.state === 'live', connectsBefore, 'the reconnect', 20000);
    const after = await publish(base, [{ run: RUN, type: 'log', data: { message: 'live marker 2' } },
        ...Array.from({ length: 20 }, (_, i) => ({ run: RUN, type: 'metric', data: { step: 281 + i, loss: 0.08 } }))]);
    const lastSeq = after[after.length - 1];
    await waitFor(page, (s) => window.__runwatch.seenSeqs.includes(s), lastSeq, 'the events after the restart');
    const { seen, since, duplicates } = await page.evaluate(() => ({ seen: window.__runwatch.seenSeqs, since: window.__runwatch.since, duplicates: window.__runwatch.duplicates }));
    const r = await fetch(`${base}/api/runs/${RUN}/events?since=${since}&limit=100000`);
    const expected = (await r.json()).map((e) => e.seq);
    assert.deepEqual(seen, expected, 'the page saw every event after its start seq exactly once, in order');
    assert.ok(during.every((s) => seen.includes(s)), 'events published during the outage arrived');
    log(`resume ok: ${seen.length} events seen, ${duplicates} duplicates dropped by seq`);
    await waitFor(page, () => document.getElementById('log').textContent.includes('live marker 2'), null, 'the log after the restart', 2000);
    // The "*" subscription behind the event log resumed too: every event of the open run after its
    // start seq arrived on it exactly once.
    const allSeqs = await page.evaluate(() => window.__runwatch.allSeqs);
    assert.equal(new Set(allSeqs).size, allSeqs.length, 'no duplicates on the all-runs stream');
    assert.ok(expected.every((s) => allSeqs.includes(s)), 'the all-runs stream saw every event of the run, across the restart');
    assert.ok(await page.evaluate(() => window.__runwatch.subscribed >= 2), 'the all-runs stream subscribed again after the restart');

    // Another run while web-test is open: its events show in the event log.
    const T0 = Date.parse('2026-01-02T03:04:05.000Z');
    const otherEvents = [{ run: OTHER, type: 'run_started', ts: new Date(T0).toISOString(), data: { name: 'other run', kind: 'training' } }];
    for (let i = 0; i < 10; i++)
        otherEvents.push({ run: OTHER, type: 'metric', ts: new Date(T0 + 1000 + 2000 * i).toISOString(), data: { step: i, loss: 3 - i * 0.25, lr: (10 - i) / 8 } });
    otherEvents.push({ run: OTHER, type: 'log', data: { level: 'info', message: 'other run marker' } });
    await publish(base, otherEvents);
    await waitFor(page, () => [...document.querySelectorAll('#log > div')].some((r) => r.dataset.run === 'web-other' && r.textContent.includes('other run marker')),
        null, 'the event of another run in the log', 2000);
    assert.equal(await page.evaluate(() => window.__runwatch.run), RUN, 'the open run did not change');
    assert.equal(await page.textContent(`#log > div[data-run="${OTHER}"] .run >> nth=-1`), 'other run', 'the log names the run');
    log('an event of another run is in the log');

    // The run filter: one run's events only, then the other's, then all again.
    await waitFor(page, (r) => !!document.querySelector(`#log-run option[value="${r}"]`), OTHER, 'the run in the run filter');
    const logRuns = () => page.$$eval('#log > div', (rows) => rows.map((r) => r.dataset.run));
    await page.selectOption('#log-run', OTHER);
    let shown = await logRuns();
    assert.ok(shown.length > 0 && shown.every((r) => r === OTHER), `only ${OTHER} rows: ${[...new Set(shown)]}`);
    await page.selectOption('#log-run', RUN);
    shown = await logRuns();
    assert.ok(shown.length > 0 && shown.every((r) => r === RUN), `only ${RUN} rows: ${[...new Set(shown)]}`);
    assert.ok((await page.textContent('#log')).includes('hello from the test'), 'the open run\'s history is in its filtered log');
    await page.selectOption('#log-run', '');
    shown = await logRuns();
    assert.ok(shown.includes(RUN) && shown.includes(OTHER), 'all runs again');
    log('run filter ok');

    // x: time — seconds since the run started, from the event timestamps.
    await page.click(`#runs-table tr[data-run="${OTHER}"] td:nth-child(3)`);
    await waitFor(page, (r) => window.__runwatch.run === r && window.__runwatch.openedMs !== null
        && window.__runwatch.chartInfo().some((c) => c.title === 'lr' && c.xMax === 9), OTHER, 'the other run\'s charts');
    assert.ok((await page.textContent('#log')).includes('hello from the test'), 'the log keeps what it showed of the run opened before');
    const lrChart = () => page.evaluate(() => window.__runwatch.chartInfo().find((c) => c.title === 'lr'));
    let lr = await lrChart();
    assert.deepEqual([lr.xLabel, lr.xMin, lr.xMax], ['step', 0, 9]);
    const builds = await page.evaluate(() => window.__runwatch.chartBuilds);
    await page.selectOption('#x-mode', 'time');
    await waitFor(page, () => window.__runwatch.chartInfo().some((c) => c.title === 'lr' && c.xLabel === 'time'), null, 'the charts redrawn by time');
    lr = await lrChart();
    assert.deepEqual([lr.xMin, lr.xMax], [1, 19], 'x is seconds since run_started');
    assert.ok(await page.evaluate((n) => window.__runwatch.chartBuilds > n, builds), 'the charts were rebuilt');
    log('x by time ok', JSON.stringify(lr));
    await page.selectOption('#x-mode', 'step');

    // Overlay: the checkbox of web-test draws its metrics into the other run's charts, one series per run.
    await page.click(`#runs-table tr[data-run="${RUN}"] td.cmp input`);
    await waitFor(page, () => window.__runwatch.overlayLoads >= 1 && window.__runwatch.chartInfo().some((c) => c.title === 'lr' && c.runs.length === 2),
        null, 'the overlaid run in the charts');
    lr = await lrChart();
    assert.deepEqual(lr.runs, [OTHER, RUN]);
    assert.deepEqual(lr.legend.filter((l) => !l.endsWith('(raw)')), ['other run', 'web test run'], 'one legend entry per run, named');
    const legendShown = await page.$$eval('.chart[data-metrics=lr] .u-legend .u-series', (rows) => rows.slice(1)
        .filter((r) => getComputedStyle(r).display !== 'none').map((r) => r.querySelector('.u-label').textContent));
    assert.deepEqual(legendShown, ['other run', 'web test run'], 'the legend shows both runs');
    assert.equal(await page.isChecked(`#runs-table tr[data-run="${RUN}"] td.cmp input`), true);
    // ctrl-click toggles too.
    await page.click(`#runs-table tr[data-run="${RUN}"] td:nth-child(3)`, { modifiers: ['Control'] });
    await waitFor(page, () => window.__runwatch.overlay.length === 0 && window.__runwatch.chartInfo().every((c) => c.runs.length === 1), null, 'the overlay removed');
    await page.click(`#runs-table tr[data-run="${RUN}"] td:nth-child(3)`, { modifiers: ['Control'] });
    await waitFor(page, () => window.__runwatch.chartInfo().some((c) => c.title === 'lr' && c.runs.length === 2), null, 'the overlay again');
    log('overlay ok', JSON.stringify(await lrChart()));

    // Export of an overlay: one row per step of either run, step,<run>:time,<run>:<metric>.
    const both = await csvOf('.chart[data-metrics=lr] button.csv');
    assert.match(both.name, /\.csv$/);
    assert.equal(both.lines[0], `step,${OTHER}:time,${OTHER}:lr,${RUN}:time,${RUN}:lr`);
    const table = (lines) => new Map(lines.slice(1).map((l) => { const f = l.split(','); return [+f[0], f.slice(1)]; }));
    const otherLr = table(await serverCsv(OTHER, 'lr')), runLr = table(await serverCsv(RUN, 'lr'));
    const steps = [...new Set([...otherLr.keys(), ...runLr.keys()])].sort((x, y) => x - y);
    const expectedCsv = [both.lines[0], ...steps.map((st) => [st, ...(otherLr.get(st) || ['', '']), ...(runLr.get(st) || ['', ''])].join(','))];
    assert.deepEqual(both.lines, expectedCsv, 'the runs side by side, a row per step');
    assert.equal(both.lines[4], `3,${new Date(T0 + 7000).toISOString()},${7 / 8},${runLr.get(3).join(',')}`);
    const all = await csvOf('#export-csv');
    assert.equal(all.lines[0], `step,${OTHER}:time,${OTHER}:loss,${OTHER}:lr,${RUN}:time,${RUN}:eval_loss,${RUN}:loss,${RUN}:lr,${RUN}:samples_per_second`);
    assert.equal(all.lines.length, 1 + 301, 'every step of either run (web-test logged 0..300)');
    const [pngDownload] = await Promise.all([page.waitForEvent('download'), page.click('.chart[data-metrics=lr] button.png')]);
    assert.match(pngDownload.suggestedFilename(), /\.png$/);
    const png = readFileSync(await pngDownload.path());
    assert.ok(png.length > 1000 && png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG file');
    log(`export ok: ${both.lines.length - 1} CSV rows, PNG ${png.length} bytes`);

    await page.click('.tabs button[data-tab=charts]');
    await sleep(300);
    await page.screenshot({ path: screenshot });
    log('screenshot', screenshot);
    // Sections: "train/loss" and "train/acc" (nested metrics, flattened to slash names) under a
    // collapsible "train"; names without a prefix as before; live nested metrics find their chart.
    const GROUPS = 'web-groups';
    await publish(base, [{ run: GROUPS, type: 'run_started', data: { name: 'grouped', kind: 'training' } },
        ...Array.from({ length: 30 }, (_, i) => ({ run: GROUPS, type: 'metric',
            data: { step: i, loss: 1 / (i + 1), train: { loss: 2 / (i + 1), acc: i / 30 }, 'eval/acc': i / 40 } }))]);
    await page.click(`#runs-table tr[data-run="${RUN}"] td.cmp input`);   // no overlay
    await waitFor(page, () => window.__runwatch.overlay.length === 0, null, 'the overlay removed');
    await page.click(`#runs-table tr[data-run="${GROUPS}"] td:nth-child(3)`);
    await waitFor(page, (r) => window.__runwatch.run === r && window.__runwatch.openedMs !== null && window.__runwatch.charts >= 4, GROUPS, 'the grouped run\'s charts');
    const layout = () => page.evaluate(() => ({
        top: [...document.querySelectorAll('#charts > .chart')].map((c) => c.dataset.metrics),
        sections: [...document.querySelectorAll('#charts > details.chart-section')].map((d) => ({
            name: d.dataset.section, open: d.open, charts: [...d.querySelectorAll('.chart')].map((c) => [c.dataset.metrics, c.querySelector('h3').firstChild.textContent]) })),
    }));
    let groupsShown = await layout();
    assert.deepEqual(groupsShown, { top: ['loss'], sections: [
        { name: 'eval', open: true, charts: [['eval/acc', 'acc']] },
        { name: 'train', open: true, charts: [['train/loss', 'loss'], ['train/acc', 'acc']] }] }, JSON.stringify(groupsShown));
    await page.click('#charts details[data-section=train] > summary');
    assert.equal(await page.isVisible('.chart[data-metrics="train/acc"]'), false, 'a closed section hides its charts');
    await publish(base, [{ run: GROUPS, type: 'metric', data: { step: 30, train: { acc: 1, grad: { norm: 0.5 } } } }]);
    await waitFor(page, () => !!document.querySelector('details[data-section=train] .chart[data-metrics="train/grad/norm"]'), null, 'the live nested metric in its section');
    await page.click('#charts details[data-section=train] > summary');
    await waitFor(page, () => window.__runwatch.chartInfo().some((c) => c.metrics[0] === 'train/acc' && c.xMax === 30), null, 'the opened section drawn up to date');
    assert.ok(await page.isVisible('.chart[data-metrics="train/acc"] canvas'), 'an opened section shows its charts');
    assert.equal(await page.textContent('.chart[data-metrics="train/grad/norm"] h3'), 'grad/norm');
    log('sections ok', JSON.stringify(await layout()));

    // A run with more steps than its summary lists (1,000): the steps table pages through the
    // server's steps endpoint, says so, and follows live step events.
    const STEPS = 'web-steps';
    const stepId = (i) => 's' + String(i).padStart(4, '0');
    await publish(base, [{ run: STEPS, type: 'run_started', data: { name: 'many steps', kind: 'workflow' } }]);
    for (let k = 0; k < 3; k++)
        await publish(base, Array.from({ length: 500 }, (_, j) => ({ run: STEPS, type: 'step_completed', step: stepId(500 * k + j), data: { name: `step ${500 * k + j}` } })));
    const stepRequests = [];
    page.on('request', (req) => { if (req.url().includes(`/api/runs/${STEPS}/steps`)) stepRequests.push(new URL(req.url()).searchParams); });
    await page.click(`#runs-table tr[data-run="${STEPS}"] td:nth-child(3)`);
    await waitFor(page, (r) => window.__runwatch.run === r && window.__runwatch.openedMs !== null, STEPS, 'the run with many steps');
    await page.click('.tabs button[data-tab=steps]');
    const stepsShown = () => page.evaluate(() => ({
        count: document.getElementById('steps-count').textContent,
        rows: document.querySelectorAll('#steps-table tbody tr').length,
        first: (document.querySelector('#steps-table tbody tr td') || {}).textContent,
        range: document.getElementById('steps-range').textContent,
        note: document.getElementById('steps-note').hidden ? '' : document.getElementById('steps-note').textContent,
    }));
    await waitFor(page, () => document.querySelectorAll('#steps-table tbody tr').length === 250, null, 'the first page of steps');
    let paged = await stepsShown();
    assert.equal(paged.count, '(1,500)', JSON.stringify(paged));
    assert.deepEqual([paged.rows, paged.first, paged.range], [250, 'step 0', '1–250 of 1,500']);
    assert.match(paged.note, /1,500 steps.*summary lists only the first 1,000/, 'the page says the summary was truncated');
    assert.ok(stepRequests.length > 0 && stepRequests.every((q) => +q.get('limit') <= 10000), 'paged requests');
    await page.click('#steps-pager button[data-page=next]');
    await waitFor(page, () => document.getElementById('steps-range').textContent.startsWith('251'), null, 'the second page');
    paged = await stepsShown();
    assert.deepEqual([paged.rows, paged.first, paged.range], [250, 'step 250', '251–500 of 1,500']);
    await page.click('#steps-pager button[data-page=last]');
    await waitFor(page, () => document.getElementById('steps-range').textContent.startsWith('1,251'), null, 'the last page');
    await publish(base, [{ run: STEPS, type: 'step_failed', step: stepId(1499), data: { message: 'boom' } },
        { run: STEPS, type: 'step_started', step: 'extra', data: { name: 'one more' } }]);
    await waitFor(page, () => document.getElementById('steps-count').textContent === '(1,501)'
        && [...document.querySelectorAll('#steps-table tbody tr')].some((tr) => tr.textContent.includes('boom') && tr.querySelector('.badge.failed')),
    null, 'live step events on the paged table');
    assert.ok(stepRequests.every((q) => +q.get('limit') <= 250), 'never more than a page at once');
    log('paged steps ok', JSON.stringify(await stepsShown()), stepRequests.length, 'page requests');
    await page.click('.tabs button[data-tab=charts]');

    // The runs table at 1600×900: every column shown, the key ones not cut off; narrower, the optional
    // columns give way and "All columns" brings them back.
    await page.setViewportSize({ width: 1600, height: 900 });
    const columns = () => page.evaluate(() => {
        const t = document.getElementById('runs-table');
        const heads = [...t.tHead.rows[0].cells].map((c) => c.textContent);
        const shown = [...t.tHead.rows[0].cells].filter((c) => c.offsetWidth > 0).map((c) => c.textContent);
        const key = ['status', 'name', 'progress', 'metric', 'updated'];
        const cut = [...t.tBodies[0].querySelectorAll('td')].filter((c) => key.some((k) => c.classList.contains(k)) && c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent);
        return { heads, shown, cut, fits: t.scrollWidth <= t.parentElement.clientWidth + 1, toggle: !document.getElementById('runs-columns').hidden };
    });
    await waitFor(page, () => [...document.querySelectorAll('#runs-table td.metric')].some((c) => c.textContent === 'loss 0.08'), null, 'the latest loss in the runs table');
    let cols = await columns();
    assert.deepEqual(cols.heads, ['Compare', 'Status', 'Name', 'Kind', 'Progress', 'Epoch', 'Step', 'Last metric', 'Updated', 'ETA']);
    assert.deepEqual(cols.shown, cols.heads, `at 1600 px every column shows: ${JSON.stringify(cols)}`);
    assert.ok(cols.fits, 'and fits without scrolling sideways');
    assert.deepEqual(cols.cut, [], 'no key cell is cut off');
    assert.equal(cols.toggle, false, 'no "All columns" needed');
    const updatedText = await page.textContent(`#runs-table tr[data-run="${RUN}"] td.updated`);
    assert.match(updatedText, /ago|just now/, 'when the run last changed');
    await page.setViewportSize({ width: 1000, height: 800 });
    await waitFor(page, () => !document.getElementById('runs-columns').hidden, null, 'the "All columns" toggle at 1000 px');
    cols = await columns();
    assert.ok(['Status', 'Name', 'Progress', 'Last metric', 'Updated'].every((h) => cols.shown.includes(h)) && !cols.shown.includes('Kind'), JSON.stringify(cols));
    await page.click('#runs-columns');
    cols = await columns();
    assert.deepEqual(cols.shown, cols.heads, 'All columns shows them all');
    await page.click('#runs-columns');
    await page.setViewportSize({ width: 1500, height: 950 });
    log('runs table columns ok at 1600 px; at 1000 px:', JSON.stringify(cols.shown));

    // Auth: a server with a token; the page asks for it, says when it is wrong, accepts ?token=.
    const authDir = mkdtempSync(join(tmpdir(), 'runwatch-web-auth-'));
    const authServer = await startServer(authDir, 0, ['--token', 'right-token']);
    try {
        const authPage = await browser.newPage();
        await authPage.goto(authServer.url);
        await authPage.waitForSelector('#auth-dialog[open]', { timeout: 5000 });
        await authPage.fill('#auth-token', 'wrong-token');
        await authPage.click('#auth-form button[type=submit]');
        await waitFor(authPage, () => document.getElementById('auth-message').classList.contains('wrong')
            && document.getElementById('auth-dialog').open, null, 'the wrong-token message', 5000);
        log('auth, wrong token:', await authPage.textContent('#auth-message'));
        await authPage.goto(authServer.url + '?token=right-token');
        await waitFor(authPage, () => window.__runwatch.state === 'live' && !location.search.includes('token')
            && sessionStorage.getItem('runwatch.token') === 'right-token', null, 'the page with ?token=', 5000);
        log('auth, ?token= accepted and kept in sessionStorage');
        await authPage.close();
    } finally {
        await stopServer(authServer);
        rmSync(authDir, { recursive: true, force: true });
    }

    const unexpected = consoleErrors.filter((t) => !/WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|Failed to load resource/.test(t));
    assert.deepEqual(unexpected, [], 'no console errors other than the refused connections of the restart');
} catch (e) {
    failures.push(e);
    console.error(e);
    if (server) console.error('server stderr:', server.stderr());
} finally {
    if (browser) await browser.close();
    if (server) await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
}
if (failures.length) process.exit(1);
log('PASS');
