// `make bench`: the chat page's first load in Debian's Chromium, on loopback, cold cache.
// For each of ROUNDS fresh browser contexts (no cache, signed in with the master key through
// the API), opens /chat and reads:
//   - time to interactive: navigation start to the moment the app marks <body> hydrated;
//   - the bytes transferred for the page's scripts, wasm and style sheets (encoded sizes, with
//     headers), those that arrived before it was interactive and those after.
// Prints the median and the spread. Runs target/release/hearth (`make build`), or
// BENCH_HEARTH_BIN.
import { spawn } from 'node:child_process';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';

const ROUNDS = 10;
const KEY = 'bench-master-key-0123456789';
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const binary = process.env.BENCH_HEARTH_BIN ?? path.join(root, 'target', 'release', 'hearth');
const port = 18000 + Math.floor(Math.random() * 1000);
const base = `http://127.0.0.1:${port}`;

const data = mkdtempSync(path.join(tmpdir(), 'hearth-bench-'));
chmodSync(data, 0o700);
const hearth = spawn(binary, ['--port', String(port), '--data-dir', data, '--api-key', KEY, '--log', 'warn'], { stdio: 'inherit' });
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/healthz`)).ok) break;
  } catch {}
  if (i > 300) throw new Error('hearth did not start');
  await new Promise((r) => setTimeout(r, 100));
}

// The moment the app sets data-hydrated on <body>, on the page's own clock.
const marker = () => {
  new MutationObserver((_, observer) => {
    if (document.body?.dataset.hydrated === 'true') {
      window.__hydratedAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'] });
};

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
/** Opens /chat `rounds` times in fresh contexts, on `link` (Chromium's network emulation) or loopback. */
async function measure(rounds, link) {
  const times = [];
  let files = [];
  for (let round = 0; round < rounds; round++) {
    const context = await browser.newContext({ baseURL: base });
    const signedIn = await context.request.post('/auth/login', { data: { api_key: KEY }, headers: { origin: base } });
    if (!signedIn.ok()) throw new Error(`sign-in failed: ${signedIn.status()}`);
    const page = await context.newPage();
    await page.addInitScript(marker);
    if (link) {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, ...link });
    }
    await page.goto('/chat');
    await page.waitForFunction(() => window.__hydratedAt !== undefined, null, { timeout: 60_000 });
    // Chunks fetched as the page opens (the markdown renderer) finish after it is interactive.
    await page.waitForTimeout(link ? 3000 : 1000);
    const result = await page.evaluate(() => ({
      hydratedAt: window.__hydratedAt,
      files: performance
        .getEntriesByType('resource')
        .filter((e) => new URL(e.name).pathname.startsWith('/pkg/'))
        .map((e) => ({ url: new URL(e.name).pathname, bytes: e.transferSize, end: e.responseEnd })),
    }));
    times.push(result.hydratedAt);
    files = result.files.map((f) => ({ ...f, before: f.end <= result.hydratedAt }));
    await context.close();
  }
  times.sort((a, b) => a - b);
  return { times, files };
}

const loopback = await measure(ROUNDS);
// 10 Mbit/s down, 40 ms round trip: where the bytes show.
const slow = await measure(5, { latency: 40, downloadThroughput: 10e6 / 8, uploadThroughput: 5e6 / 8 });
await browser.close();
hearth.kill();

const line = ({ times }) =>
  `median ${times[Math.floor(times.length / 2)].toFixed(0)} ms   min ${times[0].toFixed(0)} ms   max ${times[times.length - 1].toFixed(0)} ms`;
console.log(`/chat first load in Chromium, cold cache:`);
console.log(`  time to interactive (navigation start to hydrated), loopback (${ROUNDS} rounds)   ${line(loopback)}`);
console.log(`  time to interactive, 10 Mbit/s and 40 ms round trip (5 rounds)     ${line(slow)}`);
const { files } = loopback;
for (const before of [true, false]) {
  const group = files.filter((f) => f.before === before).sort((a, b) => a.url.localeCompare(b.url));
  console.log(before ? '  fetched before the page was interactive:' : '  fetched after (chunks the page loads as it opens):');
  let total = 0;
  for (const { url, bytes } of group) {
    console.log(`    ${url.padEnd(60)} ${String(bytes).padStart(9)} B transferred`);
    total += bytes;
  }
  console.log(`    ${'total'.padEnd(60)} ${String(total).padStart(9)} B transferred${before ? '   (budget: 300 KB)' : ''}`);
}
