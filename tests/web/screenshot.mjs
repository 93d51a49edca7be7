// Development helper: screenshots of a running server's dashboard, wide and phone-sized.
//   node tests/web/screenshot.mjs http://127.0.0.1:PORT/ OUT_PREFIX [hash]
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const [url, prefix = 'shot', hash = ''] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
for (const [name, viewport, mobile] of [['wide', { width: 1600, height: 900 }, false], ['phone', { width: 390, height: 844 }, true]]) {
    const page = await browser.newPage({ viewport, isMobile: mobile, deviceScaleFactor: mobile ? 2 : 1 });
    page.on('console', (m) => console.log(name, m.type(), m.text()));
    page.on('pageerror', (e) => console.log(name, 'pageerror', e.message));
    await page.goto(url + hash);
    await page.waitForFunction(() => window.__runwatch && window.__runwatch.openedMs !== null, null, { timeout: 60000 });
    await page.waitForTimeout(+(process.env.WAIT_MS || 2500));
    console.log(name, JSON.stringify({ ...(await page.evaluate(() => ({ ...window.__runwatch, seenSeqs: window.__runwatch.seenSeqs.length, runsSeqs: window.__runwatch.runsSeqs.length }))) }));
    await page.screenshot({ path: `${prefix}-${name}.png`, fullPage: mobile });
    await page.close();
}
await browser.close();
