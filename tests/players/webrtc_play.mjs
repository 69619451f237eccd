#!/usr/bin/env node
// Watches one camera over WebRTC the way the app does, in Debian's Chromium (headless, driven by
// playwright-core), and prints ONE JSON object on stdout saying what a viewer would have seen.
// tests/players/browser.py runs it.
//
//   node webrtc_play.mjs --url https://GATEWAY/api/webrtc/CAMERA --user NAME (password in $CAMGATE_APP_PASSWORD)
//        [--ice-servers JSON] [--relay] [--seconds 10] [--startup-timeout 20] [--no-hangup] [--viewers N]
//        [--host-map name=address ...] [--ignore-https-errors] [--chromium PATH] [--camera-clock MS]
//        [--whep-token TOKEN] [--client own|whip-whep|eyevinn] [--vanish]
//
// The page (on the gateway's origin, see chromium.mjs) does docs/app.md's WHEP exchange: POST the
// browser's own offer (recvonly video and audio, at once: no wait for its ICE candidates) to the camera's webrtc URL
// with the app user's password -> 201 and the answer; play the tracks in a muted <video>; at the end
// DELETE the Location (unless --no-hangup). A server that cannot take the offer and answers 406 with
// its own (WHEP's counter-offer: the engines bench's Janus) gets the browser's answer, its candidates
// gathered (2 s at most), by a PATCH of the Location; all else is as after a 201. --ice-servers is the
// manifest's ice_servers (TURN credentials); --relay sets iceTransportPolicy "relay", so every packet
// goes through TURN. getStats() is sampled twice a second: video frames decoded, audio packets and
// samples, codecs, and the candidate pair in use.
//
// --seconds counts from the first decoded frame; the first frame may take up to --startup-timeout s.
// --viewers N (benchmarks): once the first viewer plays, N-1 more viewers of the same camera join from
// the same page, each its own exchange and PeerConnection, decoding into a hidden <video>; "viewers"
// reports how many connected and the frames each decoded. Only the first is measured otherwise.
// --camera-clock MS: glass-to-glass latency read from the picture, as hlsjs_play.mjs does (clock.js).
// --whep-token TOKEN: authenticate as a generic WHEP player does, Authorization: Bearer TOKEN (the
// manifest's webrtc_token) instead of the password. --client whip-whep: the page plays through the WHEP
// reference client (npm whip-whep's WHEPClient: its offer without candidates, trickle PATCHes, ICE
// servers from the answer's Link headers, DELETE on stop) instead of camgate's own exchange; it takes
// --whep-token. --client eyevinn: Eyevinn's player (npm @eyevinn/webrtc-player, type "whep": its own
// PeerConnection, ICE gathered for up to 2 s, then the full offer POSTed; unload() DELETEs), bundled for
// the page in memory by esbuild at each run; it takes --whep-token, gets --ice-servers as they are ([]
// unless given: its default is Google's STUN server, off this machine), and --relay by a page-wide
// RTCPeerConnection that forces iceTransportPolicy "relay". --vanish: once the first frame is shown,
// print "playing" on stderr and wait, never hanging up, until whoever runs this kills it (a phone that
// vanishes).

import fs from 'node:fs';
import path from 'node:path';

import {
  CLOCK_JS, HERE, JSQR, commonDefaults, glassToGlass, parseCommonArg, positive, round, runPlayer, sleep, usage, valueAfter, withPlayerPage,
} from './chromium.mjs';

function parseArgs(argv) {
  const opts = {
    url: null, user: null, whepToken: null, client: 'own', vanish: false, iceServers: [], relay: false, seconds: 10, startupTimeout: 20, hangup: true, viewers: 1,
    sampleInterval: 0.5, ...commonDefaults(),
  };
  const need = (i) => valueAfter(argv, i);
  for (let i = 0; i < argv.length; i++) {
    const used = parseCommonArg(argv, i, opts);
    if (used) { i += used - 1; continue; }
    const arg = argv[i];
    switch (arg) {
      case '--url': opts.url = need(i); i++; break;
      case '--user': opts.user = need(i); i++; break;
      case '--ice-servers': opts.iceServers = JSON.parse(need(i)); i++; break;
      case '--relay': opts.relay = true; break;
      case '--no-hangup': opts.hangup = false; break;
      case '--whep-token': opts.whepToken = need(i); i++; break;
      case '--vanish': opts.vanish = true; break;
      case '--client': opts.client = need(i); i++; break;
      case '--viewers': opts.viewers = Math.round(positive(arg, need(i))); i++; break;
      case '--seconds': opts.seconds = positive(arg, need(i)); i++; break;
      case '--startup-timeout': opts.startupTimeout = positive(arg, need(i)); i++; break;
      case '-h': case '--help': throw usage('help');
      default: throw usage(`unknown argument ${arg}`);
    }
  }
  if (!opts.url) throw usage('--url is required');
  if (!opts.user && !opts.whepToken) throw usage('--user (the password comes from $CAMGATE_APP_PASSWORD) or --whep-token is required');
  if (!['own', 'whip-whep', 'eyevinn'].includes(opts.client)) throw usage('--client is own, whip-whep or eyevinn');
  if (opts.client !== 'own' && !opts.whepToken) throw usage(`--client ${opts.client} takes --whep-token`);
  if (!Array.isArray(opts.iceServers)) throw usage('--ice-servers takes a JSON list, as the manifest gives it');
  return opts;
}

function pageHtml() {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>camgate WebRTC viewer</title>
<style>html,body{margin:0;background:#000}video{width:100%;height:auto;display:block}</style>
</head><body><video id="v" muted autoplay playsinline></video>
<script>
(() => {
  const video = document.getElementById('v');
  // The browser's own, kept before an outside player's page-wide one (--client eyevinn) replaces it.
  const PeerConnection = window.RTCPeerConnection;
  let t0 = performance.now();
  const now = () => Math.round(performance.now() - t0) / 1000;
  const rec = window.__camgate = {
    signalling: [], tracks: [], states: [], errors: [], first_frame_s: null, location: null,
    clock: { readings: [], unreadable: 0 }, now, video, pc: null,
  };
  const onFrame = (_now, metadata) => {
    if (rec.first_frame_s === null && video.videoWidth > 0) rec.first_frame_s = now();
    if (rec.clock.read) rec.clock.read(metadata);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);

  // WHEP (draft-ietf-wish-whep-04, docs/app.md): the browser's offer POSTed at once, with the app
  // user's password or a Bearer token, answered with 201, a Location and the gateway's candidates; the
  // browser's own candidates need not wait (its checks reach the gateway, which learns its address).
  // A server that cannot take the offer answers 406 with its own (WHEP's counter-offer): the browser
  // answers that, its candidates gathered (2 s at most), by a PATCH of the Location (done.ok: accepted).
  const exchange = async (pc, url, authorization) => {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    const post = await fetch(url, {
      method: 'POST', headers: { Authorization: authorization, 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
    });
    const answer = await post.text();
    const counterOffer = post.status === 406 && answer.startsWith('v=0') && post.headers.has('Location');
    const done = { post: post.status, post_at: now(), post_body: post.status === 201 || counterOffer ? null : answer.slice(0, 300),
                   location: null, counter_offer: counterOffer, ok: false };
    if (post.status !== 201 && !counterOffer) return done;
    done.location = new URL(post.headers.get('Location'), url).href;
    if (!counterOffer) {
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
      done.ok = true;
      return done;
    }
    await pc.setLocalDescription({ type: 'rollback' });
    await pc.setRemoteDescription({ type: 'offer', sdp: answer });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc, 2000);
    const patch = await fetch(done.location, {
      method: 'PATCH', headers: { Authorization: authorization, 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
    });
    Object.assign(done, { patch: patch.status, patch_at: now(), patch_body: patch.ok ? null : (await patch.text()).slice(0, 300), ok: patch.ok });
    return done;
  };

  // Until the PeerConnection's ICE gathering is complete, ms at most.
  const gathered = (pc, ms) => new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const timer = setTimeout(resolve, ms);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
    });
  });

  // An outside player's requests, each recorded by method and status (the answer's start when refused),
  // and the candidates in an SDP it sends.
  const recordRequests = () => {
    const original = window.fetch.bind(window);
    window.fetch = async (input, init = {}) => {
      const reply = await original(input, init);
      const step = { step: (init.method || 'GET').toUpperCase(), status: reply.status, at_s: now(), body: null };
      if (typeof init.body === 'string' && init.body.startsWith('v=0')) step.candidates = (init.body.match(/^a=candidate:/gm) || []).length;
      if (reply.status >= 300) step.body = (await reply.clone().text()).slice(0, 300);
      rec.signalling.push(step);
      return reply;
    };
  };

  // The WHEP reference client (npm whip-whep), when the page has it (--client whip-whep).
  const reference = async (pc, url, authorization) => {
    recordRequests();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const client = rec.client = new WHEPClient();  // eslint-disable-line no-undef
    await client.view(pc, url, authorization.replace(/^Bearer /, ''));
    rec.location = client.resourceURL.href;
  };

  // Eyevinn's player (npm @eyevinn/webrtc-player), when the page has it (--client eyevinn): it makes its
  // own PeerConnections (a new one for each retry) and attaches the tracks to the video itself. Each one
  // it makes is the one measured (rec.pc), and with --relay sends through TURN only.
  const eyevinn = async (url, authorization, iceServers, relay) => {
    recordRequests();
    window.RTCPeerConnection = class extends PeerConnection {
      constructor(config = {}) {
        super(relay ? { ...config, iceTransportPolicy: 'relay' } : config);
        rec.pc = this;
        rec.peers = (rec.peers || 0) + 1;
        this.addEventListener('connectionstatechange', () => rec.states.push([now(), this.connectionState]));
        this.addEventListener('track', (event) => rec.tracks.push({ kind: event.track.kind, at_s: now(), streams: event.streams.length }));
      }
    };
    const player = rec.player = new EyevinnWebRTCPlayer.WebRTCPlayer({ video, type: 'whep', iceServers });  // eslint-disable-line no-undef
    for (const message of ['initial-connection-failed', 'connect-error', 'peer-connection-failed', 'no-media']) {
      player.on(message, () => rec.errors.push('player: ' + message));
    }
    await player.load(new URL(url), authorization);
  };

  rec.start = async (url, authorization, iceServers, relay, cameraClock) => {
    t0 = performance.now();
    rec.t0_unix_ms = performance.timeOrigin + t0;
    if (cameraClock !== null && typeof camgateClock === 'function') rec.clock = camgateClock(video, cameraClock, now);
    if (typeof EyevinnWebRTCPlayer === 'object') return eyevinn(url, authorization, iceServers, relay);
    const pc = rec.pc = new PeerConnection({ iceServers, iceTransportPolicy: relay ? 'relay' : 'all' });
    const stream = new MediaStream();
    video.srcObject = stream;
    pc.ontrack = (event) => {
      rec.tracks.push({ kind: event.track.kind, at_s: now() });
      stream.addTrack(event.track);
      if (rec.tracks.length === 1) video.play().catch((e) => rec.errors.push('play(): ' + e.message));
    };
    pc.onconnectionstatechange = () => rec.states.push([now(), pc.connectionState]);
    if (typeof WHEPClient === 'function') return reference(pc, url, authorization);
    const done = await exchange(pc, url, authorization);
    rec.location = done.location;
    rec.signalling.push({ step: 'POST', status: done.post, at_s: done.post_at, body: done.post_body, ...(done.counter_offer ? { counter_offer: true } : {}) });
    if (done.patch !== undefined) rec.signalling.push({ step: 'PATCH', status: done.patch, at_s: done.patch_at, body: done.patch_body });
  };

  // More viewers of the same camera (see --viewers): each its own offer and POST, a hidden <video>.
  rec.extra = [];
  rec.addViewers = async (count, url, authorization, iceServers, relay) => {
    for (let n = 0; n < count; n++) {
      const viewer = { status: null, ok: false, location: null, pc: null };
      rec.extra.push(viewer);
      try {
        const pc = viewer.pc = new PeerConnection({ iceServers, iceTransportPolicy: relay ? 'relay' : 'all' });
        const sink = document.createElement('video');
        sink.muted = true;
        sink.style.display = 'none';
        document.body.appendChild(sink);
        const stream = new MediaStream();
        sink.srcObject = stream;
        pc.ontrack = (event) => { stream.addTrack(event.track); sink.play().catch(() => {}); };
        const done = await exchange(pc, url, authorization);
        viewer.location = done.location;
        viewer.status = done.patch !== undefined && !done.ok ? done.patch : done.post;
        viewer.ok = done.ok;
      } catch (e) {
        viewer.status = String(e && e.message || e);
      }
    }
  };
  rec.extraSample = async () => Promise.all(rec.extra.map(async (viewer) => {
    let frames = 0;
    if (viewer.pc) (await viewer.pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames = s.framesDecoded || 0; });
    return { status: viewer.status, ok: viewer.ok, state: viewer.pc ? viewer.pc.connectionState : null, frames };
  }));

  rec.hangup = async (authorization) => {
    if (rec.client) return rec.client.stop();
    if (rec.player) {
      rec.location = rec.player.adapter.resource || null;
      return rec.player.unload();
    }
    if (!rec.location) return null;
    const reply = await fetch(rec.location, { method: 'DELETE', headers: { Authorization: authorization } });
    rec.signalling.push({ step: 'DELETE', status: reply.status, at_s: now() });
    if (rec.pc) rec.pc.close();
    for (const viewer of rec.extra) {
      if (viewer.location) await fetch(viewer.location, { method: 'DELETE', headers: { Authorization: authorization } }).catch(() => {});
      if (viewer.pc) viewer.pc.close();
    }
    return reply.status;
  };

  rec.sample = async () => {
    const out = { wall_s: now(), state: rec.pc ? rec.pc.connectionState : 'new', video: null, audio: null, pair: null,
                  video_width: video.videoWidth, video_height: video.videoHeight, first_frame_s: rec.first_frame_s };
    if (!rec.pc) return out;
    const stats = await rec.pc.getStats();
    const codecs = {};
    stats.forEach((s) => { if (s.type === 'codec') codecs[s.id] = s.mimeType; });
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.video = { frames_decoded: s.framesDecoded || 0, frames_dropped: s.framesDropped || 0, bytes: s.bytesReceived || 0,
                      packets_lost: s.packetsLost || 0, codec: codecs[s.codecId] || null, fps: s.framesPerSecond || null };
      }
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.audio = { packets: s.packetsReceived || 0, bytes: s.bytesReceived || 0, samples: s.totalSamplesReceived || 0,
                      codec: codecs[s.codecId] || null };
      }
    });
    stats.forEach((s) => {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
        const local = stats.get(s.localCandidateId), remote = stats.get(s.remoteCandidateId);
        out.pair = { local: local ? local.candidateType : null, local_protocol: local ? local.relayProtocol || local.protocol : null,
                     remote: remote ? remote.candidateType : null, remote_address: remote ? remote.address : null };
      }
    });
    return out;
  };
})();
</script></body></html>`;
}

// Eyevinn's player for the page: its package is CommonJS for bundlers (it requires events and Eyevinn's
// ad and WHPP modules), so esbuild bundles it here, in memory, into a script that defines
// EyevinnWebRTCPlayer; nothing is written to disk.
async function eyevinnBundle() {
  const esbuild = await import('esbuild');
  const built = await esbuild.build({
    stdin: { contents: "export { WebRTCPlayer } from '@eyevinn/webrtc-player';", resolveDir: HERE, loader: 'js' },
    bundle: true, write: false, format: 'iife', globalName: 'EyevinnWebRTCPlayer', platform: 'browser', logLevel: 'silent',
  });
  return built.outputFiles[0].text;
}

async function play(opts, result) {
  const password = process.env.CAMGATE_APP_PASSWORD || '';
  const authorization = opts.whepToken ? `Bearer ${opts.whepToken}` : 'Basic ' + Buffer.from(`${opts.user}:${password}`).toString('base64');
  const scripts = opts.cameraClock !== null ? [JSQR, CLOCK_JS] : [];
  await withPlayerPage(opts, opts.url, result, pageHtml(), scripts, async (page) => {
    if (opts.client === 'whip-whep') {
      const module = fs.readFileSync(path.join(HERE, 'node_modules', 'whip-whep', 'whep.js'), 'utf8');
      await page.addScriptTag({ type: 'module', content: `${module}\nwindow.WHEPClient = WHEPClient;` });
      await page.waitForFunction(() => typeof window.WHEPClient === 'function', null, { timeout: 10000 });
    }
    if (opts.client === 'eyevinn') await page.addScriptTag({ content: await eyevinnBundle() });
    await page.evaluate(([url, auth, ice, relay, clock]) => window.__camgate.start(url, auth, ice, relay, clock).catch((e) => {
      window.__camgate.errors.push(String(e && e.message || e));
    }), [opts.url, authorization, opts.iceServers, opts.relay, opts.cameraClock]);
    const samples = [];
    let extraStarted = false;
    for (;;) {
      const sample = await page.evaluate(() => window.__camgate.sample());
      samples.push(sample);
      if (opts.vanish && sample.first_frame_s !== null) {
        process.stderr.write('playing\n');
        await sleep(3600 * 1000);  // until killed
      }
      if (!extraStarted && opts.viewers > 1 && sample.first_frame_s !== null) {
        extraStarted = true;
        await page.evaluate(([count, url, auth, ice, relay]) => { window.__camgate.addViewers(count, url, auth, ice, relay); },
          [opts.viewers - 1, opts.url, authorization, opts.iceServers, opts.relay]);
      }
      const failed = sample.state === 'failed' || sample.state === 'closed';
      const refused = await page.evaluate(() => window.__camgate.signalling.some((s) => s.status >= 300 && !s.counter_offer));
      if (failed || refused) break;
      if (sample.first_frame_s === null && sample.wall_s >= opts.startupTimeout) break;
      if (sample.first_frame_s !== null && sample.wall_s - sample.first_frame_s >= opts.seconds) break;
      await sleep(opts.sampleInterval * 1000);
    }
    if (opts.viewers > 1) {
      const extra = await page.evaluate(() => window.__camgate.extraSample());
      result.viewers = {
        requested: opts.viewers, connected: 1 + extra.filter((v) => v.state === 'connected').length,
        frames: [samples.length ? (samples[samples.length - 1].video || {}).frames_decoded || 0 : 0, ...extra.map((v) => v.frames)],
        refused: extra.filter((v) => !v.ok).map((v) => v.status),
      };
    }
    if (opts.hangup) await page.evaluate((auth) => window.__camgate.hangup(auth), authorization);
    const rec = await page.evaluate(() => {
      const { video, now, start, sample, hangup, pc, extra, addViewers, extraSample, client, player, ...plain } = window.__camgate;
      return JSON.parse(JSON.stringify(plain));
    });
    summarise(opts, result, rec, samples);
  });
}

function summarise(opts, result, rec, samples) {
  const last = samples[samples.length - 1] || { video: null, audio: null };
  const video = last.video || { frames_decoded: 0 };
  Object.assign(result, {
    t0_unix_ms: rec.t0_unix_ms, signalling: rec.signalling, tracks: rec.tracks, connection_states: rec.states, page_script_errors: rec.errors,
    first_frame_s: round(rec.first_frame_s), video_width: last.video_width || 0, video_height: last.video_height || 0,
    video: last.video, audio: last.audio, candidate_pair: last.pair || null, relay_requested: opts.relay,
    frames_samples: samples.map((s) => [round(s.wall_s), s.video ? s.video.frames_decoded : 0]),
    audio_samples: samples.map((s) => [round(s.wall_s), s.audio ? s.audio.packets : 0]),
  });
  if (rec.peers !== undefined) result.peer_connections = rec.peers;  // the outside player's, one per try
  const problems = result.problems;
  for (const step of rec.signalling) {
    if (step.status >= 300 && !step.counter_offer) problems.push(`${step.step} answered ${step.status}: ${step.body || ''}`);
  }
  for (const error of rec.errors) problems.push(`page: ${error}`);
  for (const error of result.page_errors) problems.push(`page error: ${error}`);
  if (rec.first_frame_s === null) {
    problems.push(`no video frame within ${opts.startupTimeout} s (connection ${last.state})`);
  } else {
    // Frames keep coming: decoded frames grow over the second half of the run.
    const after = samples.filter((s) => s.first_frame_s !== null && s.video);
    const mid = after[Math.floor(after.length / 2)];
    const lastFrames = after.length ? after[after.length - 1].video.frames_decoded : 0;
    result.frames_in_second_half = mid ? lastFrames - mid.video.frames_decoded : 0;
    result.played_wall_s = after.length ? round(after[after.length - 1].wall_s - rec.first_frame_s) : 0;
    if (!result.frames_in_second_half) problems.push(`decoded frames stopped at ${lastFrames}`);
    if (!last.video_width) problems.push('no picture size');
  }
  if (opts.relay && last.pair && last.pair.local !== 'relay') problems.push(`--relay, but the candidate pair in use is ${last.pair.local}`);
  if (opts.cameraClock !== null) {
    const settledFrom = rec.first_frame_s === null ? Infinity : rec.first_frame_s + 1;
    result.glass_to_glass = glassToGlass(rec.clock, settledFrom, rec.first_frame_s, problems);
  }
  result.ok = problems.length === 0;
}

const result = {
  ok: false, url: null, problems: [], harness_error: null, signalling: [], first_frame_s: null, video: null, audio: null,
  blocked_requests: [], failed_requests: [], console_errors: [], page_errors: [],
};
await runPlayer(import.meta.url, result, parseArgs, (opts) => opts.startupTimeout + opts.seconds + 45, (opts, res) => {
  res.url = opts.url;
  return play(opts, res);
});
