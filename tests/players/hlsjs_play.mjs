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
// The page and the browser: see chromium.mjs.

import path from 'node:path';

import {
  CLOCK_JS, HERE, JSQR, commonDefaults, glassToGlass, median, parseCommonArg, positive, round, runPlayer, sleep, usage, valueAfter,
  withPlayerPage,
} from './chromium.mjs';

const HLS_JS = path.join(HERE, 'node_modules', 'hls.js', 'dist', 'hls.min.js');

function parseArgs(argv) {
  const opts = { url: null, seconds: 20, startupTimeout: 20, level: 'auto', screenshot: null, sampleInterval: 0.5, ...commonDefaults() };
  const need = (i) => valueAfter(argv, i);
  for (let i = 0; i < argv.length; i++) {
    const used = parseCommonArg(argv, i, opts);
    if (used) { i += used - 1; continue; }
    const arg = argv[i];
    switch (arg) {
      case '--url': opts.url = need(i); i++; break;
      case '--seconds': opts.seconds = positive(arg, need(i)); i++; break;
      case '--startup-timeout': opts.startupTimeout = positive(arg, need(i)); i++; break;
      case '--sample-interval': opts.sampleInterval = positive(arg, need(i)); i++; break;
      case '--level': {
        const value = need(i); i++;
        if (value === 'auto') opts.level = 'auto';
        else if (/^\d+$/.test(value)) opts.level = Number(value);
        else throw usage(`--level takes a variant index or "auto", not ${value}`);
        break;
      }
      case '--screenshot': opts.screenshot = need(i); i++; break;
      case '-h': case '--help': throw usage('help');
      default: throw usage(`unknown argument ${arg}`);
    }
  }
  if (!opts.url) throw usage('--url is required');
  const url = new URL(opts.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`--url must be http(s), not ${url.protocol}`);
  return opts;
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
    clock: { readings: [], unreadable: 0 }, now, hls: null, video,
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
    if (rec.clock.read) rec.clock.read(metadata);
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
    // --camera-clock: the frame's timestamp in its top-left QR code against the frame's display time.
    if (cameraClock !== null && typeof camgateClock === 'function') rec.clock = camgateClock(video, cameraClock, now);
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

async function play(opts, result) {
  const scripts = [HLS_JS, ...(opts.cameraClock !== null ? [JSQR, CLOCK_JS] : [])];
  await withPlayerPage(opts, opts.url, result, playerHtml(), scripts, async (page) => {
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
  });
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
    result.glass_to_glass = glassToGlass(rec.clock, settledFrom, rec.first_frame_s, result.problems);
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

const result = {
  ok: false, url: null, problems: [], harness_error: null, fatal_errors: [], errors: [], levels: [],
  level_played: null, video_width: 0, video_height: 0, current_time_samples: [], played_seconds: 0,
  stalls: 0, first_frame_s: null, latency_s: null, latency_source: null, frag_loaded: 0,
  manifest_codecs: [], blocked_requests: [], failed_requests: [], console_errors: [], page_errors: [],
};
// Our own deadline, so a hung browser still yields an answer (browser.py also kills us after its own).
await runPlayer(import.meta.url, result, parseArgs, (opts) => opts.startupTimeout + opts.seconds + 45, (opts, res) => {
  res.url = opts.url;
  return play(opts, res);
});
