// SPDX-License-Identifier: MIT
// Shared helpers for the tbdev browser tests and the viewer benchmark (Node's standard library
// plus playwright-core from the project's node_modules):
// - a real `tbdev-server serve` on 127.0.0.1:0 over HTTPS (throwaway `openssl` certificate) with
//   a temporary SQLite database, stopped with SIGTERM at exit;
// - `tbdev-server user add` for a token, and the real `tbdev` client (auth login --with-token,
//   upload --one_shot) with a private XDG_CONFIG_HOME;
// - an HTTPS JSON client for the read API;
// - a TFRecord + protobuf event writer (masked CRC32C) for TensorBoard Event messages;
// - headless Chromium from /usr/bin/chromium with a fresh profile;
// - a TAP-like reporter: "ok - NAME" / "not ok - NAME: WHY"; exit 0, 1, or 77 to skip.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const https = require('https');
const http = require('http');
const { spawn, spawnSync } = require('child_process');

const SKIP = 77;
const SRC_ROOT = path.resolve(__dirname, '..', '..');

// ---------------------------------------------------------------------------
// Reporter.

class Reporter {
  constructor(name) {
    this.name = name;
    this.passed = 0;
    this.failed = 0;
    this.skipped = 0;
    this.failures = [];
  }

  ok(name) {
    this.passed++;
    console.log(`ok - ${name}`);
  }

  notOk(name, why) {
    this.failed++;
    this.failures.push(name);
    console.log(`not ok - ${name}${why ? ': ' + oneLine(why) : ''}`);
  }

  check(cond, name, why) {
    if (cond) this.ok(name);
    else this.notOk(name, typeof why === 'function' ? why() : why);
    return !!cond;
  }

  skip(name, why) {
    this.skipped++;
    console.log(`ok - ${name} # SKIP ${why || ''}`);
  }

  note(msg) {
    for (const l of String(msg).split('\n')) console.log(`# ${l}`);
  }

  // Runs fn; an exception becomes a failed check named `name`.
  async step(name, fn) {
    try {
      return await fn();
    } catch (e) {
      this.notOk(name, 'threw ' + (e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : String(e)));
      return undefined;
    }
  }

  summary() {
    console.log(`${this.name}: ${this.passed} passed, ${this.failed} failed` + (this.skipped ? `, ${this.skipped} skipped` : ''));
    return this.failed ? 1 : 0;
  }
}

function oneLine(s) {
  s = String(s).replace(/\s+/g, ' ');
  return s.length > 600 ? s.slice(0, 600) + '…' : s;
}

// ---------------------------------------------------------------------------
// Arguments, temp dirs, artifacts, data.

function parseArgs(argv) {
  const a = argv.slice(2);
  const [tbdev, server, exampleLogs] = a;
  if (!tbdev || !server) {
    console.error('usage: node TEST.js TBDEV TBDEV_SERVER [TBDEV_EXAMPLE_LOGS]');
    process.exit(2);
  }
  return { tbdev: path.resolve(tbdev), server: path.resolve(server), exampleLogs: exampleLogs ? path.resolve(exampleLogs) : null };
}

function tmpdir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix || 'tbdev-browser-'));
}

function artifactsDir(sub) {
  const d = path.join(process.env.TBDEV_ARTIFACTS || '/tmp/tbdev-artifacts', sub || '');
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function realDataDir() {
  const d = process.env.TBDEV_REAL_DATA || path.join(SRC_ROOT, '..', 'shared', 'testdata', 'real');
  return fs.existsSync(d) ? d : null;
}

function playwright() {
  const p = path.join(SRC_ROOT, 'node_modules', 'playwright-core');
  if (!fs.existsSync(p)) return null;
  return require(p);
}

const CHROMIUM = process.env.TBDEV_CHROMIUM || '/usr/bin/chromium';

// The SPKI hash (base64 SHA-256 of the public key) of a PEM certificate, for Chromium's
// --ignore-certificate-errors-spki-list.
function spkiHash(certPath) {
  const crypto = require('crypto');
  const der = new crypto.X509Certificate(fs.readFileSync(certPath)).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

// opts.trustCert: a certificate to trust as if it were valid (so that the HTTP cache works as
// it does for a real certificate: Chromium caches nothing from a page with a certificate
// error); without it, certificate errors are ignored. opts.webgl: WebGL through SwiftShader
// (software) instead of no GPU at all, for the Mesh tab's three.js views.
async function launchBrowser(opts) {
  const pw = playwright();
  if (!pw) throw new Error('playwright-core is not installed in node_modules');
  const userDataDir = tmpdir('tbdev-chromium-');
  cleanup.push(() => fs.rmSync(userDataDir, { recursive: true, force: true }));
  const trust = opts && opts.trustCert;
  // A persistent context is the only way to give a fresh user-data dir explicitly.
  const ctx = await pw.chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: !trust,
    viewport: { width: 1300, height: 900 },
    args: ['--no-sandbox', ...(opts && opts.webgl ? ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'] : ['--disable-gpu']), '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', trust ? '--ignore-certificate-errors-spki-list=' + spkiHash(trust) : '--ignore-certificate-errors'],
  });
  cleanup.push(() => ctx.close().catch(() => {}));
  return ctx;
}

// ---------------------------------------------------------------------------
// Cleanup at exit.

const cleanup = [];
let cleaned = false;
async function runCleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const f of cleanup.reverse()) {
    try { await f(); } catch (e) { /* best effort */ }
  }
}
process.on('SIGINT', () => { runCleanup().then(() => process.exit(130)); });
process.on('SIGTERM', () => { runCleanup().then(() => process.exit(143)); });
process.on('exit', () => {
  // synchronous last resort: kill servers still running
  for (const p of liveProcs) { try { p.kill('SIGKILL'); } catch (e) { /* gone */ } }
});
const liveProcs = new Set();

async function finish(rep) {
  await runCleanup();
  process.exit(rep.summary());
}

// ---------------------------------------------------------------------------
// Server and client processes.

function makeCert(dir) {
  const cert = path.join(dir, 'cert.pem'), key = path.join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', key, '-out', cert], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error('openssl failed: ' + (r.stderr || r.error));
  return { cert, key };
}

function haveOpenssl() {
  return spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
}

function cleanEnv(extra) {
  const e = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TBDEV_')) e[k] = v;
  return Object.assign(e, extra || {});
}

class Server {
  constructor(exe, opts) {
    this.exe = exe;
    this.opts = Object.assign({ tls: process.env.TBDEV_BROWSER_HTTP ? false : true, quiet: true, threads: 4 }, opts || {});
    this.dir = this.opts.dir || tmpdir('tbdev-server-');
    this.db = path.join(this.dir, 'tbdev.db');
    this.url = null;
    this.proc = null;
  }

  async start() {
    const args = ['serve', '--db', this.db, '--listen', '127.0.0.1:0', '--threads', String(this.opts.threads)];
    if (this.opts.tls) {
      const { cert, key } = makeCert(this.dir);
      this.cacert = cert;
      args.push('--tls_cert', cert, '--tls_key', key);
    }
    if (this.opts.quiet) args.push('--quiet');
    if (this.opts.extraArgs) args.push(...this.opts.extraArgs);
    this.logPath = path.join(this.dir, 'server.log');
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(this.exe, args, { stdio: ['ignore', 'pipe', log], env: cleanEnv() });
    liveProcs.add(this.proc);
    this.proc.on('exit', () => liveProcs.delete(this.proc));
    // cleanups run last-in first-out: stop the server, then remove its directory
    if (!this.opts.keep && !process.env.TBDEV_BROWSER_KEEP && !this.opts.dir) cleanup.push(() => fs.rmSync(this.dir, { recursive: true, force: true }));
    cleanup.push(() => this.stop());
    let out = '';
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no "listening on" line within 30 s: ' + out)), 30000);
      this.proc.stdout.on('data', (d) => {
        out += d;
        const m = out.match(/tbdev-server listening on (\S+)/);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      this.proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`tbdev-server exited ${code} before listening: ` + readTail(this.logPath))); });
    });
    this.proc.stdout.resume();
    return this;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const p = this.proc;
    const done = new Promise((r) => p.on('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 15000);
    await done;
    clearTimeout(t);
  }

  addUser(name) {
    if (!fs.existsSync(this.db)) // only serve and migrate create a database
      spawnSync(this.exe, ['migrate', '--db', this.db], { encoding: 'utf8', env: cleanEnv() });
    const r = spawnSync(this.exe, ['user', 'add', name, '--db', this.db], { encoding: 'utf8', env: cleanEnv() });
    if (r.status !== 0) throw new Error('user add failed: ' + r.stderr);
    return r.stdout.trim().split('\n').pop().trim();
  }

  setPassword(name, password) {
    const r = spawnSync(this.exe, ['user', 'passwd', name, '--db', this.db], { encoding: 'utf8', input: password + '\n', env: cleanEnv() });
    if (r.status !== 0) throw new Error('user passwd failed: ' + r.stderr);
  }

  // GET a read-API path; returns { status, headers, body (Buffer), json() }.
  get(p, opts) {
    return request(this.url + p, Object.assign({ ca: this.cacert }, opts || {}));
  }

  async json(p, opts) {
    const r = await this.get(p, Object.assign({ headers: { Accept: 'application/json' } }, opts || {}));
    if (r.status !== 200) throw new Error(`GET ${p}: HTTP ${r.status}: ${r.body.toString().slice(0, 300)}`);
    return JSON.parse(r.body.toString('utf8'));
  }
}

function readTail(p, n) {
  try { const s = fs.readFileSync(p, 'utf8'); return s.slice(-(n || 2000)); } catch (e) { return ''; }
}

function request(url, opts) {
  opts = opts || {};
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, { method: opts.method || 'GET', headers: opts.headers || {}, ca: opts.ca ? fs.readFileSync(opts.ca) : undefined, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
    req.on('error', reject);
    req.setTimeout(opts.timeout || 120000, () => req.destroy(new Error('timeout')));
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

// The real tbdev client with a private config dir.
class Client {
  constructor(exe, server, token) {
    this.exe = exe;
    this.server = server;
    this.home = tmpdir('tbdev-client-');
    cleanup.push(() => fs.rmSync(this.home, { recursive: true, force: true }));
    this.env = cleanEnv({ XDG_CONFIG_HOME: path.join(this.home, 'cfg'), HOME: this.home });
    fs.mkdirSync(this.env.XDG_CONFIG_HOME, { recursive: true });
    this.token = token;
  }

  run(args, opts) {
    opts = opts || {};
    return new Promise((resolve) => {
      const p = spawn(this.exe, args, { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
      liveProcs.add(p);
      let out = '', err = '';
      p.stdout.on('data', (d) => { out += d; });
      p.stderr.on('data', (d) => { err += d; });
      const t = setTimeout(() => p.kill('SIGKILL'), opts.timeout || 600000);
      p.on('exit', (code, sig) => { clearTimeout(t); liveProcs.delete(p); resolve({ code: code === null ? sig : code, out, err }); });
      if (opts.stdin) p.stdin.write(opts.stdin);
      p.stdin.end();
    });
  }

  async login() {
    const args = ['auth', 'login', '--server', this.server.url, '--with-token'];
    if (this.server.cacert) args.push('--cacert', this.server.cacert);
    const r = await this.run(args, { stdin: this.token + '\n', timeout: 60000 });
    if (r.code !== 0) throw new Error(`tbdev auth login exited ${r.code}: ${r.err}`);
    return r;
  }

  // Uploads a logdir once; returns { id, out, err, seconds }.
  async upload(logdir, opts) {
    opts = opts || {};
    const args = ['upload', '--logdir', logdir, '--one_shot'];
    if (opts.name !== undefined) args.push('--name', opts.name);
    if (opts.description !== undefined) args.push('--description', opts.description);
    if (opts.experimentId) args.push('--experiment_id', opts.experimentId);
    if (opts.visibility) args.push('--visibility', opts.visibility);
    if (opts.plugins) args.push('--plugins', opts.plugins);
    const t0 = Date.now();
    const r = await this.run(args, { timeout: opts.timeout || 1800000 });
    const seconds = (Date.now() - t0) / 1000;
    if (r.code !== 0) throw new Error(`tbdev upload exited ${r.code}: ${r.err.slice(-1500)}`);
    const m = (r.out + r.err).match(/Experiment ID: ([A-Za-z0-9_-]+)/);
    if (!m && !opts.experimentId) throw new Error('no "Experiment ID:" in the output: ' + r.out + r.err);
    return { id: m ? m[1] : opts.experimentId, out: r.out, err: r.err, seconds };
  }
}

// Server + user + logged-in client in one call.
async function setup(args, opts) {
  const server = await new Server(args.server, opts).start();
  const token = server.addUser('alice');
  const client = new Client(args.tbdev, server, token);
  await client.login();
  return { server, token, client };
}

// `tbdev serve` (local mode): the real tbdev, which execs the tbdev-server given (put first on
// PATH), on a logdir, with a private cache folder; plain HTTP on 127.0.0.1. start() resolves
// once it prints its link; `startedAt` is when it was spawned (performance.now()).
class LocalServe {
  constructor(tbdev, server, logdir, opts) {
    this.tbdev = tbdev;
    this.server = server;
    this.logdir = logdir;
    this.opts = opts || {};
    this.dir = this.opts.dir || tmpdir('tbdev-serve-');
    this.cache = this.opts.cache || path.join(this.dir, 'cache');
    this.proc = null;
    this.out = '';
    this.err = '';
  }

  async start() {
    const args = ['serve', '--logdir', this.logdir, '--port', String(this.opts.port || 0)].concat(this.opts.args || []);
    const env = cleanEnv(Object.assign({ XDG_CACHE_HOME: this.cache, HOME: this.dir, PATH: path.dirname(this.server) + ':' + (process.env.PATH || '/usr/bin:/bin') }, this.opts.env || {}));
    this.startedAt = performance.now();
    this.proc = spawn(this.tbdev, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    liveProcs.add(this.proc);
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => { liveProcs.delete(this.proc); r(code === null ? sig : code); }));
    if (!this.opts.keep && !this.opts.dir && !process.env.TBDEV_BROWSER_KEEP) cleanup.push(() => fs.rmSync(this.dir, { recursive: true, force: true }));
    cleanup.push(() => this.stop());
    this.proc.stderr.on('data', (d) => { this.err += d; });
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no page link within 60 s: ' + this.err.slice(-800))), 60000);
      this.proc.stdout.on('data', (d) => {
        this.out += d;
        const m = this.out.match(/TensorBoard-style page at (http:\/\/\S+?)\/?\s/);
        if (m) { clearTimeout(timer); this.linkAt = performance.now(); resolve(m[1]); }
      });
      this.exited.then((code) => { clearTimeout(timer); reject(new Error(`tbdev serve exited ${code} before its link: ` + this.err.slice(-800))); });
    });
    this.port = +this.url.split(':').pop();
    this.api = `http://127.0.0.1:${this.port}`; // what Node connects to ("localhost" may be ::1)
    return this;
  }

  async json(p) {
    const r = await request(this.api + p, { headers: { Accept: 'application/json' } });
    if (r.status !== 200) throw new Error(`GET ${p}: HTTP ${r.status}: ${r.body.toString().slice(0, 300)}`);
    return JSON.parse(r.body.toString('utf8'));
  }

  local() { return this.json('/api/v1/local'); }

  // Polls /api/v1/local until pred(state) holds; resolves with that state.
  async waitLocal(pred, timeoutMs, everyMs) {
    const t0 = Date.now();
    for (;;) {
      const s = await this.local();
      if (pred(s)) return s;
      if (Date.now() - t0 > (timeoutMs || 60000)) throw new Error('local state not reached: ' + JSON.stringify(s));
      await sleep(everyMs || 100);
    }
  }

  // SIGINT (Ctrl-C) and the exit status.
  async stop(sig) {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode) return this.proc ? this.proc.exitCode : null;
    this.proc.kill(sig || 'SIGINT');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 30000);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

// ---------------------------------------------------------------------------
// Protobuf encoding and TFRecord framing (schema/tensorboard/*.proto).

function varint(n) {
  // non-negative integers up to 2^53, or BigInt; negatives as 64-bit two's complement
  let v = typeof n === 'bigint' ? n : BigInt(Math.trunc(n));
  if (v < 0n) v += 1n << 64n;
  if (v < 128n) return Buffer.from([Number(v)]);
  const out = [];
  while (v >= 128n) { out.push(Number(v & 127n) | 128); v >>= 7n; }
  out.push(Number(v));
  return Buffer.from(out);
}

const key = (field, wire) => varint(field * 8 + wire);
const fVarint = (f, v) => Buffer.concat([key(f, 0), varint(v)]);
function fBytes(f, b) {
  if (typeof b === 'string') b = Buffer.from(b, 'utf8');
  return Buffer.concat([key(f, 2), varint(b.length), b]);
}
function fDouble(f, v) { const b = Buffer.alloc(8); b.writeDoubleLE(v); return Buffer.concat([key(f, 1), b]); }
function fFloat(f, v) { const b = Buffer.alloc(4); b.writeFloatLE(v); return Buffer.concat([key(f, 5), b]); }
function fPackedFloats(f, vs) { const b = Buffer.alloc(4 * vs.length); vs.forEach((v, i) => b.writeFloatLE(v, 4 * i)); return fBytes(f, b); }
function fPackedDoubles(f, vs) { const b = Buffer.alloc(8 * vs.length); vs.forEach((v, i) => b.writeDoubleLE(v, 8 * i)); return fBytes(f, b); }

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82F63B78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

function crc32c(buf) {
  let crc = 0xFFFFFFFF;
  for (let i = 0; i < buf.length; i++) crc = CRC_TABLE[(crc ^ buf[i]) & 0xFF] ^ (crc >>> 8);
  return (crc ^ 0xFFFFFFFF) >>> 0;
}
if (crc32c(Buffer.from('123456789')) !== 0xE3069283) throw new Error('crc32c self-test failed');

function maskedCrc(buf) {
  const c = crc32c(buf);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xA282EAD8) >>> 0;
}

function frame(payload) {
  const out = Buffer.alloc(16 + payload.length);
  out.writeBigUInt64LE(BigInt(payload.length), 0);
  out.writeUInt32LE(maskedCrc(out.subarray(0, 8)), 8);
  payload.copy(out, 12);
  out.writeUInt32LE(maskedCrc(payload), 12 + payload.length);
  return out;
}

const DT_FLOAT = 1, DT_DOUBLE = 2, DT_STRING = 7;
const DC_SCALAR = 1, DC_TENSOR = 2, DC_BLOB_SEQUENCE = 3;
const WALL0 = 1.7e9;

function metadataPb({ plugin, content, displayName, description, dataClass } = {}) {
  const parts = [];
  if (plugin !== undefined) {
    const pd = [fBytes(1, plugin)];
    if (content && content.length) pd.push(fBytes(2, content));
    parts.push(fBytes(1, Buffer.concat(pd)));
  }
  if (displayName !== undefined) parts.push(fBytes(2, displayName));
  if (description !== undefined) parts.push(fBytes(3, description));
  if (dataClass !== undefined) parts.push(fVarint(4, dataClass));
  return Buffer.concat(parts);
}

function tensorPb(dtype, dims, { floatVal, doubleVal, stringVal } = {}) {
  const shape = Buffer.concat((dims || []).map((d) => fBytes(2, fVarint(1, d))));
  const parts = [fVarint(1, dtype), fBytes(2, shape)];
  if (floatVal) parts.push(fPackedFloats(5, floatVal));
  if (doubleVal) parts.push(fPackedDoubles(6, doubleVal));
  if (stringVal) for (const s of stringVal) parts.push(fBytes(8, s));
  return Buffer.concat(parts);
}

function valuePb(tag, { metadata, simple, tensor, image, histo, audio } = {}) {
  const parts = [fBytes(1, tag)];
  if (metadata) parts.push(fBytes(9, metadata));
  if (simple !== undefined) parts.push(fFloat(2, simple));
  if (image) parts.push(fBytes(4, image));
  if (histo) parts.push(fBytes(5, histo));
  if (audio) parts.push(fBytes(6, audio));
  if (tensor) parts.push(fBytes(8, tensor));
  return Buffer.concat(parts);
}

function eventPb(wall, step, { fileVersion, values } = {}) {
  const parts = [fDouble(1, wall)];
  if (step) parts.push(fVarint(2, step));
  if (fileVersion) parts.push(fBytes(3, fileVersion));
  if (values) parts.push(fBytes(5, Buffer.concat(values.map((v) => fBytes(1, v)))));
  return Buffer.concat(parts);
}

const ev = {
  fileVersion: (wall) => eventPb(wall || WALL0, 0, { fileVersion: 'brain.Event:2' }),
  scalarTf1: (tag, step, v, wall) => eventPb(wall || WALL0 + step, step, { values: [valuePb(tag, { simple: v })] }),
  scalarTf2: (tag, step, v, wall) => eventPb(wall || WALL0 + step, step, {
    values: [valuePb(tag, { metadata: metadataPb({ plugin: 'scalars', dataClass: DC_SCALAR }), tensor: tensorPb(DT_FLOAT, [], { floatVal: [v] }) })],
  }),
  text: (tag, step, text, wall) => eventPb(wall || WALL0 + step, step, {
    values: [valuePb(tag, { metadata: metadataPb({ plugin: 'text', dataClass: DC_TENSOR }), tensor: tensorPb(DT_STRING, [], { stringVal: [text] }) })],
  }),
  histoTf1: (tag, step, limits, counts, wall) => {
    const h = Buffer.concat([fDouble(1, limits[0] - 1), fDouble(2, limits[limits.length - 1]), fDouble(3, counts.reduce((a, b) => a + b, 0)),
      fDouble(4, 0), fDouble(5, 0), fPackedDoubles(6, limits), fPackedDoubles(7, counts)]);
    return eventPb(wall || WALL0 + step, step, { values: [valuePb(tag, { histo: h })] });
  },
  imageTf1: (tag, step, png, h, w, wall) => eventPb(wall || WALL0 + step, step, {
    values: [valuePb(tag, { image: Buffer.concat([fVarint(1, h), fVarint(2, w), fVarint(3, 3), fBytes(4, png)]) })],
  }),
  audioTf1: (tag, step, wavBytes, rate, wall) => eventPb(wall || WALL0 + step, step, {
    values: [valuePb(tag, { audio: Buffer.concat([fFloat(1, rate), fVarint(2, 1), fVarint(3, (wavBytes.length - 44) / 2), fBytes(4, wavBytes), fBytes(5, 'audio/wav')]) })],
  }),
  // text as a string tensor of any shape (dims [] for one markdown string)
  textTensor: (tag, step, strings, dims, wall) => eventPb(wall || WALL0 + step, step, {
    values: [valuePb(tag, { metadata: metadataPb({ plugin: 'text', dataClass: DC_TENSOR }), tensor: tensorPb(DT_STRING, dims, { stringVal: strings }) })],
  }),
  // rows: 6 arrays of T floats (TP, FP, TN, FN, precision, recall)
  prCurve: (tag, step, rows, wall) => {
    const T = rows[0].length;
    const md = metadataPb({ plugin: 'pr_curves', content: Buffer.concat([fVarint(1, 0), fVarint(2, T)]), dataClass: DC_TENSOR });
    return eventPb(wall || WALL0 + step, step, { values: [valuePb(tag, { metadata: md, tensor: tensorPb(DT_FLOAT, [6, T], { floatVal: rows.flat() }) })] });
  },
  // hparams plugin summaries (content: a serialized HParamsPluginData)
  hparams: (tag, content, step, wall) => eventPb(wall || WALL0 + (step || 0), step || 0, {
    values: [valuePb(tag, { metadata: metadataPb({ plugin: 'hparams', content }), tensor: tensorPb(DT_STRING, [], { stringVal: [''] }) })],
  }),
  // custom scalars layout: categories [{ title, closed, charts: [{ title, tags: [regex] } or
  // { title, margin: [{ value, lower, upper }] }] }] (layout.proto: Category 2, Chart 2,
  // MultilineChartContent 2, MarginChartContent 3 with Series 1)
  customScalars: (categories, wall) => {
    const chartPb = (ch) => Buffer.concat([fBytes(1, ch.title), ch.margin
      ? fBytes(3, Buffer.concat(ch.margin.map((m) => fBytes(1, Buffer.concat([fBytes(1, m.value), fBytes(2, m.lower), fBytes(3, m.upper)])))))
      : fBytes(2, Buffer.concat(ch.tags.map((t) => fBytes(1, t))))]);
    const layout = Buffer.concat(categories.map((c) => fBytes(2, Buffer.concat([fBytes(1, c.title),
      ...c.charts.map((ch) => fBytes(2, chartPb(ch))), ...(c.closed ? [fVarint(3, 1)] : [])]))));
    return eventPb(wall || WALL0, 0, { values: [valuePb('custom_scalars__config__', { metadata: metadataPb({ plugin: 'custom_scalars', dataClass: DC_TENSOR }), tensor: tensorPb(DT_STRING, [], { stringVal: [layout] }) })] });
  },
  // a tensor summary of some other plugin
  otherTensor: (plugin, tag, step, values, wall) => eventPb(wall || WALL0 + step, step, {
    values: [valuePb(tag, { metadata: metadataPb({ plugin, dataClass: DC_TENSOR }), tensor: tensorPb(DT_FLOAT, [values.length], { floatVal: values }) })],
  }),
  graphDef: (bytes, wall) => Buffer.concat([fDouble(1, wall || WALL0), fBytes(4, bytes)]),
  // a TF2 scalar with a display name and a description in its metadata
  scalarNamed: (tag, step, v, displayName, description, wall) => eventPb(wall || WALL0 + step, step, {
    values: [valuePb(tag, { metadata: metadataPb({ plugin: 'scalars', dataClass: DC_SCALAR, displayName, description }), tensor: tensorPb(DT_FLOAT, [], { floatVal: [v] }) })],
  }),
  // TF2 images: a DT_STRING [2 + k] tensor of width, height and k encoded images (samples)
  imagesTf2: (tag, step, pngs, w, h, wall) => eventPb(wall || WALL0 + step, step, {
    values: [valuePb(tag, { metadata: metadataPb({ plugin: 'images', dataClass: DC_TENSOR }), tensor: tensorPb(DT_STRING, [2 + pngs.length], { stringVal: [String(w), String(h), ...pngs] }) })],
  }),
};

const hp = {
  value: (v) => (typeof v === 'boolean' ? fVarint(4, v ? 1 : 0) : typeof v === 'number' ? fDouble(2, v) : fBytes(3, v)),
  sessionStart: (hparams, startTime) => Buffer.concat([fVarint(1, 0), fBytes(3, Buffer.concat([
    ...Object.entries(hparams).map(([k, v]) => fBytes(1, Buffer.concat([fBytes(1, k), fBytes(2, hp.value(v))]))),
    fDouble(5, startTime || WALL0)]))]),
  sessionEnd: (status, endTime) => Buffer.concat([fVarint(1, 0), fBytes(4, Buffer.concat([fVarint(1, status), fDouble(2, endTime || WALL0 + 100)]))]),
  // infos: [{ name, type: 1 string | 2 bool | 3 float64 }]; metrics: [tag]
  experiment: (infos, metrics) => Buffer.concat([fVarint(1, 0), fBytes(2, Buffer.concat([
    ...infos.map((i) => fBytes(4, Buffer.concat([fBytes(1, i.name), fVarint(4, i.type || 1)]))),
    ...metrics.map((m) => fBytes(5, fBytes(1, Buffer.concat([fBytes(1, ''), fBytes(2, m)]))))]))]),
};

// A mono 16-bit PCM WAV: `seconds` of a sine at `hz`.
function wav(seconds, hz, rate) {
  rate = rate || 8000;
  const n = Math.round(seconds * rate);
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0); b.writeUInt32LE(36 + 2 * n, 4); b.write('WAVE', 8); b.write('fmt ', 12);
  b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write('data', 36); b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(12000 * Math.sin(2 * Math.PI * hz * i / rate)), 44 + 2 * i);
  return b;
}

// Writes an event file: DIR/events.out.tfevents.<time>.<host>.<pid>.<n>
let fileCounter = 0;
function writeEventFile(dir, events, suffix) {
  fs.mkdirSync(dir, { recursive: true });
  const name = path.join(dir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.browsertest.${process.pid}.${fileCounter++}${suffix || ''}`);
  const recs = [frame(ev.fileVersion()), ...events.map((e) => frame(e))];
  fs.writeFileSync(name, Buffer.concat(recs));
  return name;
}

// A tiny valid PNG (w x h, RGB) with a colour gradient; zlib from Node. seed changes the blue.
function png(w, h, seed) {
  const zlib = require('zlib');
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = (x * 255 / w) | 0; raw[o + 1] = (y * 255 / h) | 0; raw[o + 2] = seed === undefined ? 128 : (seed * 67) & 255;
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// plain CRC-32 (zlib's, for PNG chunks)
const CRC32_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) { let c = i; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xEDB88320 : c >>> 1; t[i] = c >>> 0; }
  return t;
})();
function crc32(buf) {
  let c = 0xFFFFFFFF;
  for (let i = 0; i < buf.length; i++) c = CRC32_TABLE[(c ^ buf[i]) & 0xFF] ^ (c >>> 8);
  return (c ^ 0xFFFFFFFF) >>> 0;
}

// ---------------------------------------------------------------------------
// Page helpers (run in the browser).

// Installed with page.addInitScript: records CSP violations and errors in window.__tbdevTest.
const INIT_SCRIPT = `(() => {
  window.__tbdevTest = { csp: [], errors: [] };
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__tbdevTest.csp.push({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile, line: e.lineNumber });
  });
  window.addEventListener('error', (e) => { window.__tbdevTest.errors.push(String(e.message)); });
})();`;

// Counts non-white, non-transparent pixels of every canvas in `sel` (in the page).
async function canvasInk(page, sel) {
  return page.evaluate((s) => [...document.querySelectorAll(s)].map((card) => {
    let ink = 0, total = 0;
    for (const c of card.querySelectorAll('canvas')) {
      const ctx = c.getContext('2d');
      if (!ctx || !c.width || !c.height) continue;
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      total += c.width * c.height;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245)) ink++;
    }
    return { ink, total };
  }), sel);
}

// What a card shows, from the viewer's own objects (window.tbdevViewer.cardFor(el).debug()).
async function cardDebug(page, sel) {
  return page.evaluate((s) => {
    const el = document.querySelector(s);
    const c = el && window.tbdevViewer && window.tbdevViewer.cardFor(el);
    return c && c.debug ? c.debug() : null;
  }, sel);
}

// Waits until the card matching sel has finished loading (data-state drawn, empty or error).
async function cardReady(page, sel, timeout) {
  await page.waitForFunction((s) => {
    const el = document.querySelector(s);
    if (!el) return false;
    el.scrollIntoView({ block: 'center' });
    return ['drawn', 'empty', 'error'].includes(el.dataset.state);
  }, sel, { timeout: timeout || 15000, polling: 100 });
}

function median(xs) {
  const s = xs.slice().sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = {
  SKIP, SRC_ROOT, Reporter, parseArgs, tmpdir, artifactsDir, realDataDir, playwright, launchBrowser,
  cleanup, finish, runCleanup, Server, Client, LocalServe, setup, request, haveOpenssl, readTail,
  varint, fVarint, fBytes, fDouble, fFloat, fPackedFloats, fPackedDoubles, crc32c, maskedCrc, frame,
  metadataPb, tensorPb, valuePb, eventPb, ev, hp, wav, writeEventFile, png, DT_FLOAT, DT_DOUBLE, DT_STRING,
  DC_SCALAR, DC_TENSOR, DC_BLOB_SEQUENCE, WALL0, INIT_SCRIPT, canvasInk, median, sleep, cardDebug, cardReady,
};
