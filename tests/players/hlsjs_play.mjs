#!/usr/bin/env node
// Plays one HLS URL with hls.js in Debian's Chromium (headless, driven by playwright-core) and prints
// ONE JSON object on stdout saying what a viewer would have seen. tests/players/browser.py runs it.
//
//   node hlsjs_play.mjs --url URL [--seconds 20] [--startup-timeout 20] [--level N|auto]
//        [--host-map name=address ...] [--ignore-https-errors] [--page-origin ORIGIN]
//        [--allow-origin ORIGIN ...] [--chromium PATH] [--screenshot FILE.png] [--camera-clock MS]
//
// --camera-clock MS: the picture carries its timestamp as a QR code at its top left (the testbed's
// simulated cameras draw one: JSON, "TIMESTAMP" in ns of the camera's running time) and MS is the Unix
// time in milliseconds of that running time 0 (the camera's "CLOCK" line). A few times a second the
// page reads the code (jsQR) from the frame being presented and reports glass-to-glass latency: when
// the frame is displayed minus when the camera made it. The browser and the cameras share a clock.
//
// --seconds is wall time of playback counted from the first decoded frame; the first frame may take up
// to --startup-timeout seconds. A fatal hls.js error ends the run early.
// Exit status: 0 played well (ok), 1 did not play well (ok false: see "problems"), 2 the harness itself
// failed (bad arguments, browser would not start; see "harness_error").
//
// The page: Chromium opens <stream origin>/__camgate_player__/ for real (the gateway answers 404) and
// the player is written into that document, so hls.js loads the stream same-origin, as a page on the
// gateway would, with the server's own IP address space (see play()). --page-origin http://player.test
// puts the page on another origin, fulfilled by interception, to see the gateway's CORS headers at work
// (Chromium's Private/Local Network Access rules then also apply: an insecure public page cannot reach a
// private or loopback address). Only the stream's origin, the page's origin and --allow-origin are
// reachable: every other request is aborted and listed in "blocked_requests", and Chromium resolves no
// other host name. Chromium runs with a fresh profile and with background networking, component
// updates, sync, QUIC and default apps off.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PLAYER_PATH = '/__camgate_player__/';
const HLS_JS = path.join(HERE, 'node_modules', 'hls.js', 'dist', 'hls.min.js');
const JSQR = path.join(HERE, 'node_modules', 'jsqr', 'dist', 'jsQR.js');
// The flags the project requires (playwright-core adds --headless and its own quiet defaults).
const CHROMIUM_FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-default-apps', '--no-proxy-server',
  '--autoplay-policy=no-user-gesture-required', '--disable-extensions', '--no-pings',
];

function usage(message) {
  const error = new Error(message);
  error.usage = true;
  return error;
}

function parseArgs(argv) {
  const opts = {
    url: null, seconds: 20, startupTimeout: 20, level: 'auto', hostMap: [], ignoreHttpsErrors: false,
    pageOrigin: null, allowOrigins: [], chromium: null, screenshot: null, sampleInterval: 0.5, cameraClock: null,
  };
  const need = (i) => {
    if (i + 1 >= argv.length) throw usage(`${argv[i]} needs a value`);
    return argv[i + 1];
  };
  const number = (flag, text) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw usage(`${flag} must be a positive number, not ${text}`);
    return value;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--url': opts.url = need(i); i++; break;
      case '--seconds': opts.seconds = number(arg, need(i)); i++; break;
      case '--startup-timeout': opts.startupTimeout = number(arg, need(i)); i++; break;
      case '--sample-interval': opts.sampleInterval = number(arg, need(i)); i++; break;
      case '--level': {
        const value = need(i); i++;
        if (value === 'auto') opts.level = 'auto';
        else if (/^\d+$/.test(value)) opts.level = Number(value);
        else throw usage(`--level takes a variant index or "auto", not ${value}`);
        break;
      }
      case '--host-map': {
        const value = need(i); i++;
        const match = /^([^=\s,]+)=([^=\s,]+)$/.exec(value);
        if (!match) throw usage(`--host-map takes name=address, not ${value}`);
        opts.hostMap.push([match[1], match[2]]);
        break;
      }
      case '--ignore-https-errors': opts.ignoreHttpsErrors = true; break;
      case '--page-origin': opts.pageOrigin = new URL(need(i)).origin; i++; break;
      case '--allow-origin': opts.allowOrigins.push(new URL(need(i)).origin); i++; break;
      case '--chromium': opts.chromium = need(i); i++; break;
      case '--screenshot': opts.screenshot = need(i); i++; break;
      case '--camera-clock': opts.cameraClock = number(arg, need(i)); i++; break;
      case '-h': case '--help': throw usage('help');
      default: throw usage(`unknown argument ${arg}`);
    }
  }
  if (!opts.url) throw usage('--url is required');
  const url = new URL(opts.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`--url must be http(s), not ${url.protocol}`);
  return opts;
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

// The page: a muted autoplaying <video>, and a recorder the harness reads with page.evaluate.
function playerHtml() {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>camgate hls.js player</title>
<style>html,body{margin:0;background:#000}video{width:100%;height:auto;display:block}</style>
</head><body><video id="v" muted autoplay playsinline></video>
<script>
(() => {
  const video = document.getElementById('v');
  let t0 = performance.now();  // reset when the player starts: every time in the result counts from there
  const now = () => Math.round(performance.now() - t0) / 1000;
  const MAX_ERRORS = 100;
  const rec = window.__camgate = {
    started: false, fatal_errors: [], errors: [], errors_dropped: 0, levels: [], manifest_codecs: [],
    buffer_codecs: {}, level_switches: [], first_frame_s: null, first_frame_current_time: null,
    first_playing_s: null, frames_presented: 0, waiting_after_first_frame: 0, frag_loaded: 0, frag_bytes: 0,
    playlist_loads: 0, play_rejection: null, program_date_time: false, hls_version: null,
    clock: { readings: [], unreadable: 0 }, readClock: false, now, hls: null, video,
  };
  // --camera-clock: the frame's timestamp in its top-left QR code against the frame's display time.
  const CLOCK_EVERY_MS = 250;
  const clockCanvas = document.createElement('canvas');
  let lastClockRead = -Infinity;
  const readClock = (metadata) => {
    const at = performance.now();
    if (at - lastClockRead < CLOCK_EVERY_MS || !video.videoWidth) return;
    lastClockRead = at;
    const width = Math.ceil(video.videoWidth / 3), height = Math.ceil(video.videoHeight / 2);
    clockCanvas.width = width;
    clockCanvas.height = height;
    const context = clockCanvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(video, 0, 0, width, height, 0, 0, width, height);
    const code = jsQR(context.getImageData(0, 0, width, height).data, width, height, { inversionAttempts: 'dontInvert' });
    let stamp = null;
    try { stamp = code ? JSON.parse(code.data).TIMESTAMP : null; } catch { stamp = null; }
    if (typeof stamp !== 'number') {
      rec.clock.unreadable++;
      return;
    }
    const displayed = performance.timeOrigin + metadata.expectedDisplayTime;
    const captured = rec.cameraClock + stamp / 1e6;
    if (rec.clock.readings.length < 2000) rec.clock.readings.push([now(), (displayed - captured) / 1000]);
  };
  const pushError = (entry) => {
    const list = entry.fatal ? rec.fatal_errors : rec.errors;
    if (list.length < MAX_ERRORS) list.push(entry); else rec.errors_dropped++;
  };
  const firstFrame = (how) => {
    if (rec.first_frame_s !== null || video.videoWidth === 0) return;
    rec.first_frame_s = now();
    rec.first_frame_current_time = video.currentTime;
    rec.first_frame_how = how;
  };
  // Frames the compositor actually presented (the page is painted even when headless).
  const onFrame = (_now, metadata) => {
    rec.frames_presented = metadata.presentedFrames;
    firstFrame('requestVideoFrameCallback');
    if (rec.readClock) readClock(metadata);
    video.requestVideoFrameCallback(onFrame);
  };
  if ('requestVideoFrameCallback' in video) video.requestVideoFrameCallback(onFrame);
  video.addEventListener('playing', () => {
    if (rec.first_playing_s === null) rec.first_playing_s = now();
  });
  video.addEventListener('timeupdate', () => {
    // A frame is on screen once currentTime moves past where it started with a decoded picture.
    if (rec.first_frame_s === null && video.videoWidth > 0 && video.currentTime > 0 &&
        video.getVideoPlaybackQuality().totalVideoFrames > 0) firstFrame('timeupdate');
  });
  video.addEventListener('waiting', () => {
    if (rec.first_frame_s !== null) rec.waiting_after_first_frame++;
  });
  video.addEventListener('error', () => {
    const e = video.error;
    pushError({ type: 'mediaElementError', details: 'videoElementError', fatal: true,
                reason: e ? 'MediaError code ' + e.code + ': ' + (e.message || '') : 'unknown', at_s: now() });
  });

  rec.start = (url, level, cameraClock) => {
    rec.started = true;
    rec.cameraClock = cameraClock;
    rec.readClock = cameraClock !== null && typeof jsQR === 'function';
    t0 = performance.now();
    if (typeof Hls === 'undefined') {
      pushError({ type: 'harness', details: 'hlsJsMissing', fatal: true, reason: 'hls.min.js did not load', at_s: now() });
      return;
    }
    rec.hls_version = Hls.version;
    if (!Hls.isSupported()) {
      pushError({ type: 'harness', details: 'mseUnsupported', fatal: true, reason: 'Hls.isSupported() is false', at_s: now() });
      return;
    }
    const config = { debug: false, enableWorker: true, autoStartLoad: false };
    const hls = rec.hls = new Hls(config);
    const E = Hls.Events;
    hls.on(E.ERROR, (_event, data) => {
      pushError({
        type: data.type, details: data.details, fatal: !!data.fatal, reason: data.reason || null,
        message: data.error ? String(data.error.message || data.error) : null,
        url: (data.frag && data.frag.url) || (data.context && data.context.url) || data.url || null,
        response_code: data.response ? data.response.code : null, at_s: now(),
      });
    });
    // Variants are numbered in the multivariant playlist's order; hls.js sorts its own levels (by height,
    // then bitrate) and drops variants whose CODECS it cannot play, so its indices differ: map by URI.
    // hls.js emits MANIFEST_PARSED (sorted levels) from inside its own MANIFEST_LOADED handler, before
    // ours sees the manifest order, so loading waits (autoStartLoad false) until the level is chosen here.
    hls.on(E.MANIFEST_LOADED, (_event, data) => {
      const parsed = hls.levels || [];
      rec.levels = data.levels.map((l) => ({
        width: l.width || 0, height: l.height || 0, bitrate: l.bitrate || 0,
        codecs: (l.attrs && l.attrs.CODECS) || [l.videoCodec, l.audioCodec].filter(Boolean).join(',') || null,
        url: l.url, hls_index: parsed.findIndex((h) => h.uri === l.url),
      }));
      rec.manifest_codecs = data.levels.map((l) => (l.attrs && l.attrs.CODECS) || null);
      if (!parsed.length) return;  // hls.js has reported why (e.g. manifestIncompatibleCodecsError)
      if (level !== 'auto') {
        const wanted = rec.levels[level];
        if (!wanted || wanted.hls_index < 0) {
          pushError({ type: 'harness', details: 'levelUnavailable', fatal: true, at_s: now(),
                      reason: wanted ? 'variant ' + level + ' (' + wanted.codecs + ') was dropped by hls.js as unplayable'
                                     : 'variant ' + level + ' asked, ' + rec.levels.length + ' in the manifest' });
          return;
        }
        hls.startLevel = wanted.hls_index;
        hls.loadLevel = wanted.hls_index;  // a manual level: ABR never switches away from it
      }
      hls.startLoad(-1);
    });
    rec.manifestIndex = (hlsIndex) => rec.levels.findIndex((entry) => entry.hls_index === hlsIndex);
    hls.on(E.LEVEL_SWITCHED, (_event, data) => rec.level_switches.push([now(), rec.manifestIndex(data.level)]));
    hls.on(E.LEVEL_LOADED, (_event, data) => {
      rec.playlist_loads++;
      if (data.details && data.details.hasProgramDateTime) rec.program_date_time = true;
    });
    hls.on(E.BUFFER_CODECS, (_event, data) => {
      for (const [kind, track] of Object.entries(data)) {
        if (track && typeof track === 'object' && 'codec' in track) {
          rec.buffer_codecs[kind] = { container: track.container || null, codec: track.codec || null };
        }
      }
    });
    hls.on(E.FRAG_LOADED, (_event, data) => {
      if (data.frag && data.frag.type === 'main') {
        rec.frag_loaded++;
        const stats = data.frag.stats;
        if (stats && stats.loaded) rec.frag_bytes += stats.loaded;
      }
    });
    hls.on(E.MEDIA_ATTACHED, () => {
      video.play().catch((e) => { rec.play_rejection = String(e && e.message || e); });
    });
    hls.loadSource(url);
    hls.attachMedia(video);
  };

  rec.sample = () => {
    const hls = rec.hls;
    const quality = video.getVideoPlaybackQuality();
    let pdt = null;
    try { pdt = hls && hls.playingDate ? hls.playingDate.getTime() : null; } catch { pdt = null; }
    return {
      wall_s: now(), current_time: video.currentTime, paused: video.paused, ready_state: video.readyState,
      video_width: video.videoWidth, video_height: video.videoHeight,
      frames_decoded: quality.totalVideoFrames, frames_dropped: quality.droppedVideoFrames,
      // Chromium's own counters: audio that was really decoded (the element is muted, not silent).
      audio_decoded_bytes: video.webkitAudioDecodedByteCount ?? null,
      video_decoded_bytes: video.webkitVideoDecodedByteCount ?? null,
      level: hls ? rec.manifestIndex(hls.currentLevel) : -1,
      edge_latency_s: hls && hls.latency ? hls.latency : null,
      pdt_latency_s: pdt !== null ? (Date.now() - pdt) / 1000 : null,
      buffered_ahead_s: (() => {
        const b = video.buffered;
        for (let i = 0; i < b.length; i++) {
          if (b.start(i) <= video.currentTime + 0.1 && video.currentTime <= b.end(i)) return b.end(i) - video.currentTime;
        }
        return 0;
      })(),
      first_frame_s: rec.first_frame_s, fatal: rec.fatal_errors.length,
    };
  };
})();
</script></body></html>`;
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

function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const round = (value, digits = 3) => (value === null || value === undefined ? null : Number(value.toFixed(digits)));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function play(opts, result) {
  const streamOrigin = new URL(opts.url).origin;
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
    const hlsJs = fs.readFileSync(HLS_JS, 'utf8');
    const jsQr = opts.cameraClock !== null ? fs.readFileSync(JSQR, 'utf8') : null;
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
    // console: hls.js sees just "status 0".
    let recording = false;  // from the player's start: the page's own 404 is no failure
    page.on('requestfailed', (request) => {
      if (recording && result.failed_requests.length < 50) {
        result.failed_requests.push({ url: request.url(), error: request.failure() ? request.failure().errorText : null });
      }
    });
    page.on('console', (message) => {
      if (recording && message.type() === 'error' && result.console_errors.length < 50) result.console_errors.push(message.text());
    });
    // The page is a real response from the stream's server (the gateway answers 404 there), so the
    // document has that server's IP address space, as a page served by the gateway would: a page
    // fulfilled by interception has none and counts as public, and then Chromium's Private/Local Network
    // Access rules block plain-HTTP requests to a private testbed address even from the same origin.
    // The player is then written into that document (no CSP on the gateway's 404), hls.js inline.
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
    await page.setContent(playerHtml(), { waitUntil: 'load', timeout: 15000 });
    await page.addScriptTag({ content: hlsJs });
    if (jsQr) await page.addScriptTag({ content: jsQr });
    recording = true;
    await page.evaluate(([url, level, cameraClock]) => window.__camgate.start(url, level, cameraClock),
      [opts.url, opts.level, opts.cameraClock]);

    // Sample until: startup timeout without a first frame, --seconds after the first frame, or a fatal
    // error (plus a moment so the errors that follow it are recorded too).
    const samples = [];
    let fatalSince = null;
    for (;;) {
      const sample = await page.evaluate(() => window.__camgate.sample());
      samples.push(sample);
      if (sample.fatal && fatalSince === null) fatalSince = sample.wall_s;
      if (fatalSince !== null && sample.wall_s - fatalSince >= 1) break;
      if (sample.first_frame_s === null && sample.wall_s >= opts.startupTimeout) break;
      if (sample.first_frame_s !== null && sample.wall_s - sample.first_frame_s >= opts.seconds) break;
      await sleep(opts.sampleInterval * 1000);
    }
    const rec = await page.evaluate(() => {
      const { hls, video, now, start, sample, manifestIndex, ...plain } = window.__camgate;
      return JSON.parse(JSON.stringify(plain));
    });
    if (opts.screenshot) {
      await page.screenshot({ path: opts.screenshot, timeout: 10000 }).catch((e) => {
        result.page_errors.push(`screenshot failed: ${e.message}`);
      });
    }
    summarise(opts, result, rec, samples);
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

const fatalSeen = (rec) => rec.fatal_errors.length > 0;

function summarise(opts, result, rec, samples) {
  const last = samples[samples.length - 1];
  Object.assign(result, {
    hls_js_version: rec.hls_version,
    fatal_errors: rec.fatal_errors,
    errors: rec.errors,
    errors_dropped: rec.errors_dropped,
    levels: rec.levels,
    manifest_codecs: rec.manifest_codecs,
    buffer_codecs: rec.buffer_codecs,
    level_requested: opts.level,
    level_played: last.level,
    level_switches: rec.level_switches.map(([t, level]) => [round(t), level]),
    video_width: last.video_width,
    video_height: last.video_height,
    current_time_samples: samples.map((s) => [round(s.wall_s), round(s.current_time)]),
    first_frame_s: round(rec.first_frame_s),
    first_frame_how: rec.first_frame_how || null,
    first_playing_s: round(rec.first_playing_s),
    first_frame_current_time: round(rec.first_frame_current_time),
    frames_decoded: last.frames_decoded,
    frames_dropped: last.frames_dropped,
    frames_presented: rec.frames_presented,
    audio_decoded_bytes: last.audio_decoded_bytes,
    video_decoded_bytes: last.video_decoded_bytes,
    frag_loaded: rec.frag_loaded,
    frag_bytes: rec.frag_bytes,
    playlist_loads: rec.playlist_loads,
    program_date_time: rec.program_date_time,
    play_rejection: rec.play_rejection,
    wall_s: round(last.wall_s),
  });
  // Playback measured from the first frame on.
  let played = 0;
  let playWall = 0;
  let stallSeconds = 0;
  if (rec.first_frame_s !== null) {
    const after = samples.filter((s) => s.wall_s >= rec.first_frame_s);
    if (after.length) {
      played = after[after.length - 1].current_time - rec.first_frame_current_time;
      playWall = after[after.length - 1].wall_s - rec.first_frame_s;
    }
    for (let i = 1; i < after.length; i++) {
      const wall = after[i].wall_s - after[i - 1].wall_s;
      if (after[i].current_time - after[i - 1].current_time < 0.1 * wall) stallSeconds += wall;
    }
  }
  result.played_seconds = round(played);
  result.play_wall_seconds = round(playWall);
  result.stalls = rec.waiting_after_first_frame;
  result.stall_seconds = round(stallSeconds);
  // Latency over the second half of playback (after the player settles on its live sync point).
  const settled = samples.filter((s) => rec.first_frame_s !== null && s.wall_s >= rec.first_frame_s + playWall / 2);
  const pdt = median(settled.map((s) => s.pdt_latency_s).filter((v) => v !== null));
  const edge = median(settled.map((s) => s.edge_latency_s).filter((v) => v !== null));
  result.pdt_latency_s = round(pdt);
  result.edge_latency_s = round(edge);
  result.latency_s = pdt !== null ? round(pdt) : round(edge);
  result.latency_source = pdt !== null ? 'program-date-time' : edge !== null ? 'hls.js-latency' : null;
  result.latency_samples = samples.map((s) => [round(s.wall_s), round(s.edge_latency_s), round(s.pdt_latency_s)]);
  if (opts.cameraClock !== null) {
    // Over the same settled half as the other latencies.
    const settledFrom = rec.first_frame_s === null ? Infinity : rec.first_frame_s + playWall / 2;
    const values = rec.clock.readings.filter(([at]) => at >= settledFrom).map(([, latency]) => latency).sort((a, b) => a - b);
    const pick = (q) => (values.length ? round(values[Math.min(values.length - 1, Math.floor(q * values.length))]) : null);
    result.glass_to_glass = {
      readings: rec.clock.readings.length, unreadable: rec.clock.unreadable, settled: values.length,
      p50_s: pick(0.5), p90_s: pick(0.9), min_s: pick(0), max_s: values.length ? round(values[values.length - 1]) : null,
    };
    if (rec.first_frame_s !== null && !rec.clock.readings.length) {
      result.problems.push(`--camera-clock: no timestamp read from ${rec.clock.unreadable} frames`);
    }
  }

  const problems = result.problems;
  for (const e of rec.fatal_errors) problems.push(`fatal ${e.type}/${e.details}${e.reason ? ': ' + e.reason : ''}${e.message ? ': ' + e.message : ''}`);
  for (const e of result.page_errors) problems.push(`page error: ${e}`);
  if (rec.first_frame_s === null) {
    problems.push(fatalSeen(rec) ? `no video frame before the fatal error (${last.wall_s.toFixed(1)} s)`
                                 : `no video frame within ${opts.startupTimeout} s`);
  } else {
    if (!last.video_width || !last.video_height) problems.push(`video dimensions ${last.video_width}x${last.video_height}`);
    if (!last.frames_decoded) problems.push('no video frame decoded');
    if (playWall < Math.min(opts.seconds, 1) * 0.9) problems.push(`played only ${playWall.toFixed(1)} s of wall time`);
    else if (played < 0.5 * playWall) {
      problems.push(`currentTime advanced ${played.toFixed(2)} s in ${playWall.toFixed(2)} s of wall time`);
    }
  }
  result.ok = problems.length === 0;
}

async function main() {
  const result = {
    ok: false, url: null, problems: [], harness_error: null, fatal_errors: [], errors: [], levels: [],
    level_played: null, video_width: 0, video_height: 0, current_time_samples: [], played_seconds: 0,
    stalls: 0, first_frame_s: null, latency_s: null, latency_source: null, frag_loaded: 0,
    manifest_codecs: [], blocked_requests: [], failed_requests: [], console_errors: [], page_errors: [],
  };
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (error) {
    const text = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 15)
      .map((line) => line.replace(/^\/\/ ?/, '')).join('\n');
    if (error.message === 'help') { process.stdout.write(text + '\n'); process.exit(0); }
    result.harness_error = error.message;
    process.stdout.write(JSON.stringify(result) + '\n');
    process.stderr.write(`${error.message}\n\n${text}\n`);
    process.exit(2);
  }
  result.url = opts.url;
  // Our own deadline, so a hung browser still yields an answer (browser.py also kills us after its own).
  const deadline = (opts.startupTimeout + opts.seconds + 45) * 1000;
  const timer = setTimeout(() => {
    result.harness_error = `hlsjs_play.mjs gave up after ${deadline / 1000} s`;
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

await main();
