// What the browser players share (hlsjs_play.mjs, webrtc_play.mjs): Debian's Chromium, headless, driven
// by playwright-core, with a page on the stream's own origin that reaches nothing but allowed origins;
// and the camera-clock reading that turns the picture's QR timestamp into glass-to-glass latency.
//
// The page: Chromium opens <stream origin>/__camgate_player__/ for real (the gateway answers 404) and
// the player is written into that document, so the player loads the stream same-origin, as a page on the
// gateway would, with the server's own IP address space. A page origin of its own (opts.pageOrigin) is
// fulfilled by interception, to see the gateway's CORS headers at work (Chromium's Private/Local Network
// Access rules then also apply). Only the stream's origin, the page's origin and opts.allowOrigins are
// reachable: every other request is aborted and listed in result.blocked_requests, and Chromium resolves
// no other host name. Chromium runs with a fresh profile and with background networking, component
// updates, sync, QUIC and default apps off.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
const PLAYER_PATH = '/__camgate_player__/';
export const JSQR = path.join(HERE, 'node_modules', 'jsqr', 'dist', 'jsQR.js');
export const CLOCK_JS = path.join(HERE, 'clock.js');
// The flags the project requires (playwright-core adds --headless and its own quiet defaults).
const CHROMIUM_FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-default-apps', '--no-proxy-server',
  '--autoplay-policy=no-user-gesture-required', '--disable-extensions', '--no-pings',
];

export const round = (value, digits = 3) => (value === null || value === undefined ? null : Number(value.toFixed(digits)));
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function usage(message) {
  const error = new Error(message);
  error.usage = true;
  return error;
}

// The argument after argv[i], which the option at argv[i] requires.
export function valueAfter(argv, i) {
  if (i + 1 >= argv.length) throw usage(`${argv[i]} needs a value`);
  return argv[i + 1];
}

// The options both players take: [--host-map name=address ...] [--ignore-https-errors]
// [--page-origin ORIGIN] [--allow-origin ORIGIN ...] [--chromium PATH] [--camera-clock MS].
// Returns how many arguments it consumed at argv[i] (0: not one of these).
export function parseCommonArg(argv, i, opts) {
  const need = () => valueAfter(argv, i);
  switch (argv[i]) {
    case '--host-map': {
      const value = need();
      const match = /^([^=\s,]+)=([^=\s,]+)$/.exec(value);
      if (!match) throw usage(`--host-map takes name=address, not ${value}`);
      opts.hostMap.push([match[1], match[2]]);
      return 2;
    }
    case '--ignore-https-errors': opts.ignoreHttpsErrors = true; return 1;
    case '--page-origin': opts.pageOrigin = new URL(need()).origin; return 2;
    case '--allow-origin': opts.allowOrigins.push(new URL(need()).origin); return 2;
    case '--chromium': opts.chromium = need(); return 2;
    case '--camera-clock': opts.cameraClock = positive(argv[i], need()); return 2;
    default: return 0;
  }
}

export function positive(flag, text) {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw usage(`${flag} must be a positive number, not ${text}`);
  return value;
}

export function commonDefaults() {
  return { hostMap: [], ignoreHttpsErrors: false, pageOrigin: null, allowOrigins: [], chromium: null, cameraClock: null };
}

function findChromium(explicit) {
  // Debian's /usr/bin/chromium is a shell wrapper that sources /etc/chromium.d (which turns on remote
  // extensions and exports API keys); the real binary beside it takes our flags as they are.
  const candidates = [explicit, process.env.CAMGATE_CHROMIUM, '/usr/lib/chromium/chromium', '/usr/bin/chromium']
    .filter(Boolean);
  for (const candidate of candidates) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch { /* next */ }
  }
  throw new Error(`no Chromium found (tried ${candidates.join(', ')}); apt-get install chromium`);
}

// Chromium resolves no name but the allowed origins' hosts: --host-map names go to their addresses, every
// other name fails without a DNS query (the browser's own requests, such as Google account and updater
// calls that no flag stops, are not page requests, so request interception never sees them).
function resolverRules(hostMap, allowedOrigins) {
  const mapped = new Set(hostMap.map(([name]) => name.toLowerCase()));
  const rules = hostMap.map(([name, address]) => `MAP ${name} ${address}`);
  rules.push('MAP * ~NOTFOUND');
  for (const origin of allowedOrigins) {
    const host = new URL(origin).hostname.toLowerCase();
    if (!mapped.has(host)) rules.push(`EXCLUDE ${host}`);
  }
  return rules.join(', ');
}

// Open the player page on `streamUrl`'s origin, write `html` into it, add `scripts` (file paths), then
// run `body(page)`; the browser and its profile are gone afterwards whatever happens. Request failures
// and console errors count from the moment the scripts are in (the page's own 404 is no failure).
export async function withPlayerPage(opts, streamUrl, result, html, scripts, body) {
  const streamOrigin = new URL(streamUrl).origin;
  const pageOrigin = opts.pageOrigin || streamOrigin;
  // Origins whose requests go to the network (a page on another origin is all fulfilled here).
  const allowed = new Set([streamOrigin, ...opts.allowOrigins]);
  const executablePath = findChromium(opts.chromium);
  const args = [...CHROMIUM_FLAGS, `--host-resolver-rules=${resolverRules(opts.hostMap, allowed)}`];
  result.chromium = { executable: executablePath, args: ['--headless', ...args], version: null };
  result.page_url = pageOrigin + PLAYER_PATH;
  result.allowed_origins = [...new Set([pageOrigin, ...allowed])];

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'camgate-chromium-'));
  let context = null;
  try {
    const launchStart = Date.now();
    context = await chromium.launchPersistentContext(profile, {
      executablePath, headless: true, args, ignoreHTTPSErrors: opts.ignoreHttpsErrors,
      viewport: { width: 1280, height: 720 }, timeout: 30000, serviceWorkers: 'block',
      acceptDownloads: false,
    });
    result.launch_s = round((Date.now() - launchStart) / 1000);
    result.chromium.version = context.browser() ? context.browser().version() : null;
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      let parsed;
      try { parsed = new URL(url); } catch { parsed = null; }
      if (parsed && parsed.origin === pageOrigin && !allowed.has(pageOrigin)) {
        return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>-</title>' });
      }
      if (parsed && allowed.has(parsed.origin)) return route.continue();
      if (result.blocked_requests.length < 50) result.blocked_requests.push(url);
      return route.abort('blockedbyclient');
    });
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (error) => {
      if (result.page_errors.length < 20) result.page_errors.push(String(error && error.message || error));
    });
    page.on('crash', () => { result.page_errors.push('renderer crashed'); });
    // Why a request failed (a certificate error, CORS, a blocked origin) is only said here and in the
    // console: the player sees just "status 0".
    let recording = false;
    page.on('requestfailed', (request) => {
      if (recording && result.failed_requests.length < 50) {
        result.failed_requests.push({ url: request.url(), error: request.failure() ? request.failure().errorText : null });
      }
    });
    page.on('console', (message) => {
      if (recording && message.type() === 'error' && result.console_errors.length < 50) result.console_errors.push(message.text());
    });
    // The page is a real response from the stream's server, so the document has that server's IP
    // address space, as a page served by the gateway would: a page fulfilled by interception has none
    // and counts as public, and then Chromium's Private/Local Network Access rules block plain-HTTP
    // requests to a private testbed address even from the same origin. The player is then written into
    // that document (no CSP on the gateway's 404), its scripts inline.
    let response;
    try {
      response = await page.goto(result.page_url, { waitUntil: 'load', timeout: 15000 });
    } catch (error) {
      result.problems.push(`the page at ${result.page_url} did not load: ${String(error.message).split('\n')[0]}`);
      return;
    }
    result.page_status = response ? response.status() : null;
    if (new URL(page.url()).origin !== pageOrigin) {
      result.problems.push(`the page at ${result.page_url} was redirected to ${page.url()}`);
      return;
    }
    await page.setContent(html, { waitUntil: 'load', timeout: 15000 });
    for (const script of scripts) await page.addScriptTag({ content: fs.readFileSync(script, 'utf8') });
    recording = true;
    await body(page);
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

// Glass-to-glass latency from the page's clock readings ([at_s, latency_s] pairs, see clock.js) taken
// at or after `settledFrom` seconds.
export function glassToGlass(clock, settledFrom, firstFrame, problems) {
  const values = clock.readings.filter(([at]) => at >= settledFrom).map(([, latency]) => latency).sort((a, b) => a - b);
  const pick = (q) => (values.length ? round(values[Math.min(values.length - 1, Math.floor(q * values.length))]) : null);
  if (firstFrame !== null && !clock.readings.length) {
    problems.push(`--camera-clock: no timestamp read from ${clock.unreadable} frames`);
  }
  return {
    readings: clock.readings.length, unreadable: clock.unreadable, settled: values.length,
    p50_s: pick(0.5), p90_s: pick(0.9), min_s: pick(0), max_s: values.length ? round(values[values.length - 1]) : null,
  };
}

// Run a player's main(play): parse arguments (printing the file's header comment as help), give the run
// a deadline of its own, print ONE JSON result. Exit status: 0 played well, 1 did not (see "problems"),
// 2 the harness itself failed ("harness_error").
export async function runPlayer(scriptUrl, result, parseArgs, deadlineOf, play) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (error) {
    const text = fs.readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n').slice(1, 20)
      .filter((line) => line.startsWith('//')).map((line) => line.replace(/^\/\/ ?/, '')).join('\n');
    if (error.message === 'help') { process.stdout.write(text + '\n'); process.exit(0); }
    result.harness_error = error.message;
    process.stdout.write(JSON.stringify(result) + '\n');
    process.stderr.write(`${error.message}\n\n${text}\n`);
    process.exit(2);
  }
  const deadline = deadlineOf(opts) * 1000;
  const timer = setTimeout(() => {
    result.harness_error = `${path.basename(fileURLToPath(scriptUrl))} gave up after ${deadline / 1000} s`;
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(2);
  }, deadline);
  let status;
  try {
    await play(opts, result);
    status = result.ok ? 0 : 1;
  } catch (error) {
    result.harness_error = String(error && error.stack || error);
    status = 2;
  }
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exitCode = status;
}
