// The web page end to end in headless Chromium: page, worker, terminal,
// loader, errors, and (when the board can boot it) Linux.
//
// Run with tests/browser/run.sh (builds dist/ first), or after a build:
//   node --test tests/browser/
// Environment: VFSYNC_SERVER (path of vfsync-server; default: the built one
// under target/, else a small static server in this file), CHROMIUM
// (default /usr/bin/chromium), DIST (default dist).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, extname, normalize, sep } from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = resolve(ROOT, process.env.DIST ?? 'dist');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// Generous bounds on waiting; no assertion depends on how fast things are.
const BOOT_WAIT_MS = 600_000;
const WAIT_MS = 60_000;

let server; // { url, stop() }
let browser;
let profile;

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
};

function staticServer(dir) {
  return new Promise((ok) => {
    const srv = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      const file = normalize(join(dir, path.endsWith('/') ? path + 'index.html' : path));
      if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404).end('not found');
        return;
      }
      const body = readFileSync(file);
      res.writeHead(200, {
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'content-length': body.length,
      });
      res.end(body);
    });
    srv.listen(0, '127.0.0.1', () => ok({
      url: `http://127.0.0.1:${srv.address().port}/`,
      stop: () => new Promise((done) => srv.close(done)),
    }));
  });
}

function findServer() {
  if (process.env.VFSYNC_SERVER) return process.env.VFSYNC_SERVER;
  for (const p of ['target/release/vfsync-server', 'target/debug/vfsync-server']) {
    if (existsSync(join(ROOT, p))) return join(ROOT, p);
  }
  return null;
}

async function vfsyncServer(bin, dir) {
  const data = mkdtempSync(join(tmpdir(), 'vfsync-web-data-'));
  // Port 0 is not offered by the server's CLI: pick a free one first.
  const probe = await staticServer(dir);
  const port = new URL(probe.url).port;
  await probe.stop();
  const child = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--data', data, '--web', dir],
    // Warnings and errors only; RUST_LOG=info brings the request log back.
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } });
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) break;
    } catch { /* not listening yet */ }
    if (child.exitCode !== null) throw new Error(`${bin} exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(data, { recursive: true, force: true });
    },
  };
}

before(async () => {
  assert.ok(existsSync(join(DIST, 'index.html')), `${DIST}/index.html missing: run web/build.sh`);
  const bin = findServer();
  server = bin ? await vfsyncServer(bin, DIST) : await staticServer(DIST);
  console.log(`# serving ${DIST} at ${server.url} with ${bin ?? 'the test\'s static server'}`);
  profile = mkdtempSync(join(tmpdir(), 'vfsync-chromium-'));
  // A fresh profile directory (Playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1000, height: 700 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function open(query) {
  const page = await browser.newPage();
  await page.setViewportSize({ width: 1000, height: 700 });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  await page.goto(server.url + 'index.html' + query);
  await page.waitForFunction(() => globalThis.vfsync?.state !== undefined, null, { timeout: WAIT_MS });
  return { page, problems };
}

const transcript = (page) => page.evaluate(() => globalThis.vfsync.transcript());

async function waitForText(page, text, timeout = WAIT_MS) {
  await page.waitForFunction((t) => globalThis.vfsync.transcript().includes(t), text, { timeout, polling: 100 });
}

// Pastes through the browser's paste event on xterm.js's textarea, as a user would.
async function paste(page, text) {
  await page.evaluate((t) => {
    const dt = new DataTransfer();
    dt.setData('text/plain', t);
    const ta = document.querySelector('#terminal textarea');
    ta.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  }, text);
}

function pasteText(n) {
  // Lines of printable ASCII and some UTF-8 (a terminal line discipline
  // takes at most 4095 bytes per line). xterm.js sends LF as CR on paste.
  const parts = [];
  let x = 12345;
  let len = 0;
  while (len < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    const r = (x >>> 16) % 94;
    const c = parts.length % 64 === 63 ? '\n' : r === 0 ? 'é' : String.fromCharCode(33 + r);
    parts.push(c);
    len += Buffer.byteLength(c);
  }
  return parts.join('');
}

test('the terminal fills the window and follows its size', async () => {
  const { page, problems } = await open('?loopback=1');
  const size1 = await page.evaluate(() => [globalThis.vfsync.cols, globalThis.vfsync.rows]);
  assert.ok(size1[0] > 40 && size1[1] > 10, `terminal is ${size1}`);
  await page.setViewportSize({ width: 600, height: 400 });
  await page.waitForFunction((c) => globalThis.vfsync.cols < c, size1[0], { timeout: WAIT_MS });
  const size2 = await page.evaluate(() => [globalThis.vfsync.cols, globalThis.vfsync.rows]);
  assert.ok(size2[0] < size1[0] && size2[1] < size1[1], `${size1} -> ${size2}`);
  assert.deepEqual(problems, []);
  await page.close();
});

test('typing and a 10 KB paste reach the worker and come back intact', async () => {
  const { page, problems } = await open('?loopback=1');
  await page.click('#terminal');
  await page.keyboard.type('hello, λ world');
  await waitForText(page, 'hello, λ world');
  const text = pasteText(10 * 1024);
  await paste(page, text);
  const echoed = text.replaceAll('\n', '\r\n');
  await waitForText(page, echoed);
  const t = await transcript(page);
  assert.equal(t, 'hello, λ world' + echoed);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a bare-metal program prints UTF-8 through HTIF and exits', { skip: !existsSync(join(DIST, 'tests/hello.elf')) && 'dist/tests/hello.elf not built (riscv64-unknown-elf-gcc missing)' }, async () => {
  const { page, problems } = await open('?elf=tests/hello.elf&mem=16');
  await page.waitForFunction(() => globalThis.vfsync.exit !== undefined || globalThis.vfsync.error, null, { timeout: WAIT_MS });
  const { exit, error } = await page.evaluate(() => ({ exit: globalThis.vfsync.exit, error: globalThis.vfsync.error }));
  assert.equal(error, undefined);
  assert.equal(exit.code, 7);
  assert.ok(exit.insns > 100, `${exit.insns} instructions`);
  assert.equal(await transcript(page), 'hello from RISC-V λ→✓\r\n');
  assert.match(await page.textContent('#status'), /exited with code 7/);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a missing config is a clear error on the page', async () => {
  const { page } = await open('?config=vm-configs/no-such-config.json');
  await page.waitForSelector('#error:not([hidden])', { timeout: WAIT_MS });
  const msg = await page.textContent('#error');
  assert.match(msg, /no-such-config\.json/);
  assert.match(msg, /404/);
  await page.close();
});

test('bad parameters are a clear error on the page', async () => {
  const { page } = await open('?mem=lots');
  await page.waitForSelector('#error:not([hidden])', { timeout: WAIT_MS });
  assert.match(await page.textContent('#error'), /mem="lots"/);
  await page.close();
});

// Boots the config `query` selects (image: the kernel it needs under dist/)
// and checks a command, a 10 KB paste and a resize in its shell.
async function shellTest(t, query, image) {
  if (!existsSync(join(DIST, 'guest/images', image))) {
    t.skip(`dist/guest/images/${image} missing: build the guest (guest/build.sh) before web/build.sh`);
    return;
  }
  const { page } = await open(query);
  // The shell prompt, or an error (e.g. a board that cannot boot yet).
  await page.waitForFunction(() => globalThis.vfsync.error || /[#$] $/.test(globalThis.vfsync.transcript()),
    null, { timeout: BOOT_WAIT_MS, polling: 250 });
  const error = await page.evaluate(() => globalThis.vfsync.error);
  assert.equal(error, undefined);
  await page.click('#terminal');
  await page.keyboard.type('echo $((6*7))x\n');
  await waitForText(page, '42x');

  const text = pasteText(10 * 1024);
  await page.keyboard.type('cat > /tmp/p\n');
  await paste(page, text);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Control+D');
  await page.keyboard.type('md5sum /tmp/p\n');
  const md5 = createHash('md5').update(text + '\n').digest('hex');
  await waitForText(page, `${md5}  /tmp/p`);

  await page.setViewportSize({ width: 640, height: 480 });
  await page.waitForFunction(() => globalThis.vfsync.cols < 80, null, { timeout: WAIT_MS });
  const [cols, rows] = await page.evaluate(() => [globalThis.vfsync.cols, globalThis.vfsync.rows]);
  await page.keyboard.type('stty size\n');
  await waitForText(page, `${rows} ${cols}`);
  await page.close();
}

test('Linux boots to a shell; commands, paste and resize reach it', { timeout: BOOT_WAIT_MS + 4 * WAIT_MS },
  (t) => shellTest(t, '', 'Image'));

test('rv32 Linux (?config=vm-configs/linux-rv32.json): commands, paste and resize', { timeout: BOOT_WAIT_MS + 4 * WAIT_MS },
  (t) => shellTest(t, '?config=vm-configs/linux-rv32.json', 'Image-rv32'));

// vm-configs/linux-rv64-disk.json with its ext2 root given as a chunked
// image (web/build.sh writes both into dist/): the worker fetches chunks on
// demand and keeps the guest's writes in its copy-on-write overlay.
test('Linux boots from a chunked ext2 disk fetched on demand and writes to it', { timeout: BOOT_WAIT_MS + 4 * WAIT_MS }, async (t) => {
  const config = 'vm-configs/linux-rv64-disk-chunked.json';
  if (!existsSync(join(DIST, config))) {
    t.skip(`dist/${config} missing: web/build.sh writes it when guest/images/rootfs.ext2 exists`);
    return;
  }
  const { page, problems } = await open(`?config=${config}`);
  await page.waitForFunction(() => globalThis.vfsync.error || /[#$] $/.test(globalThis.vfsync.transcript()),
    null, { timeout: BOOT_WAIT_MS, polling: 250 });
  assert.equal(await page.evaluate(() => globalThis.vfsync.error), undefined);
  const booted = await page.evaluate(() => globalThis.vfsync.disks?.drive0);
  assert.ok(booted && booted.chunks > 0, `chunks fetched: ${JSON.stringify(booted)}`);
  // Lazily: booting reads only part of the disk.
  assert.ok(booted.bytes < booted.size, `fetched ${booted.bytes} of ${booted.size} bytes`);

  await page.click('#terminal');
  // The root is the virtio-blk disk, mounted read-write (by the ext4 driver).
  await page.keyboard.type("grep -c '^/dev/root / ext[24] rw' /proc/mounts | sed 's/^/mounts:/'\n");
  await waitForText(page, 'mounts:1');
  // 1 MiB of new data (touching chunks not read yet), synced to the device,
  // then read back from the device after the kernel dropped its caches.
  await page.keyboard.type('dd if=/dev/urandom of=/big bs=65536 count=16 2>/dev/null; md5sum /big > /big.md5; sync\n');
  await page.keyboard.type('echo 3 > /proc/sys/vm/drop_caches && md5sum -c /big.md5 | sed s/^/check:/\n');
  await waitForText(page, 'check:/big: OK');
  const after = await page.evaluate(() => globalThis.vfsync.disks.drive0);
  assert.ok(after.chunks >= booted.chunks, JSON.stringify(after));
  assert.deepEqual(problems, []);
  await page.close();
});
