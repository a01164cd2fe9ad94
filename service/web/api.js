// SPDX-License-Identifier: MIT
// The API client: JSON requests with errors a person can read, and a queue that sends data
// requests nearest-card-first, few at a time, so the first chart is not slowed by the rest.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

// GET (or opts.method) path and parse the JSON answer; throws ApiError with the server's
// message. opts.signal aborts.
export async function api(path, opts) {
  const o = Object.assign({ credentials: 'same-origin', headers: {} }, opts || {});
  o.headers = Object.assign({ Accept: 'application/json' }, o.headers);
  const res = await fetch(path, o);
  if (res.status === 204) return null;
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) throw new ApiError((body && body.error && body.error.message) || ('HTTP ' + res.status), res.status);
  return body;
}

export const enc = encodeURIComponent;

// A query string from pairs; arrays repeat the key (run=a&run=b).
export function query(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === false) continue;
    for (const x of Array.isArray(v) ? v : [v]) parts.push(`${enc(k)}=${enc(x)}`);
  }
  return parts.join('&');
}

// Runs jobs (functions returning promises) by priority, lowest number first, with at most
// `limit` running. The limit starts at one and opens up once answers are seen to arrive
// fast: on a slow link, parallel downloads only share the bandwidth and delay every chart.
export class RequestQueue {
  constructor() {
    this.waiting = [];
    this.running = 0;
    this.limit = 1;
    this.seq = 0;
  }

  run(job, priority, signal) {
    return new Promise((resolve, reject) => {
      const item = { job, priority: priority || 0, seq: this.seq++, resolve, reject, signal };
      if (signal) signal.addEventListener('abort', () => this.drop(item), { once: true });
      this.waiting.push(item);
      this.pump();
    });
  }

  drop(item) {
    const i = this.waiting.indexOf(item);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      item.reject(new DOMException('aborted', 'AbortError'));
    }
  }

  // Bytes and seconds of a finished download: fast links get more requests in flight.
  observe(bytes, seconds) {
    if (!(seconds > 0)) return;
    const rate = bytes / seconds;
    this.limit = rate > 20e6 ? 4 : rate > 5e6 ? 2 : 1;
  }

  pump() {
    while (this.running < this.limit && this.waiting.length) {
      this.waiting.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
      const item = this.waiting.shift();
      this.running++;
      Promise.resolve().then(item.job).then(item.resolve, item.reject).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }
}

export const dataQueue = new RequestQueue();

// A JSON GET through the queue; reports its transfer rate back to the queue.
export function queuedJson(path, priority, signal) {
  return dataQueue.run(async () => {
    const t0 = performance.now();
    const res = await fetch(path, { credentials: 'same-origin', headers: { Accept: 'application/json' }, signal });
    const text = await res.text();
    // the link's speed: the body's transfer time (Resource Timing), not the server's work
    const url = new URL(path, location.href).href;
    const rt = performance.getEntriesByName(url).pop();
    const wire = (rt && rt.encodedBodySize) || Number(res.headers.get('Content-Length')) || text.length;
    const secs = rt && rt.responseEnd > rt.responseStart ? (rt.responseEnd - rt.responseStart) / 1000 : (performance.now() - t0) / 1000;
    if (wire > 65536) dataQueue.observe(wire, secs); // small answers say little about bandwidth
    let body = null;
    try { body = JSON.parse(text); } catch (e) { body = null; }
    if (!res.ok) throw new ApiError((body && body.error && body.error.message) || ('HTTP ' + res.status), res.status);
    return body;
  }, priority, signal);
}
