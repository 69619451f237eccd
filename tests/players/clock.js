// Page script (needs jsQR): glass-to-glass latency read from the picture. The testbed's simulated
// cameras draw each frame's timestamp as a QR code at the top left (JSON, "TIMESTAMP" in ns of the
// camera's running time); cameraClock is the Unix time in ms of that running time 0 (the camera's CLOCK
// line). camgateClock(video, cameraClock, now) returns {read(metadata), readings, unreadable}: call
// read() from requestVideoFrameCallback; at most 4 times a second it reads the code from the frame being
// presented and records [now(), displayed - captured in s]. The browser and the cameras share a clock.
window.camgateClock = (video, cameraClock, now) => {
  const EVERY_MS = 250;
  const canvas = document.createElement('canvas');
  let last = -Infinity;
  const clock = { readings: [], unreadable: 0 };
  clock.read = (metadata) => {
    const at = performance.now();
    if (at - last < EVERY_MS || !video.videoWidth) return;
    last = at;
    const width = Math.ceil(video.videoWidth / 3), height = Math.ceil(video.videoHeight / 2);
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(video, 0, 0, width, height, 0, 0, width, height);
    const code = jsQR(context.getImageData(0, 0, width, height).data, width, height, { inversionAttempts: 'dontInvert' });
    let stamp = null;
    try { stamp = code ? JSON.parse(code.data).TIMESTAMP : null; } catch { stamp = null; }
    if (typeof stamp !== 'number') {
      clock.unreadable++;
      return;
    }
    const displayed = performance.timeOrigin + metadata.expectedDisplayTime;
    const captured = cameraClock + stamp / 1e6;
    if (clock.readings.length < 2000) clock.readings.push([now(), (displayed - captured) / 1000]);
  };
  return clock;
};
