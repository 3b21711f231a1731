// Shared by the synced-home browser test (home.test.mjs) and benchmark
// (bench/web-home.mjs): start vfsync-server serving dist/ with registration
// open, run the host `vfsync` command, drive the page's terminal.
//
// Environment: VFSYNC_SERVER / VFSYNC_CLI (paths of the binaries; default: the
// built ones under $CARGO_TARGET_DIR, target/release or target/debug),
// CHROMIUM (default /usr/bin/chromium), DIST (default dist).

import { spawn, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DIST = resolve(ROOT, process.env.DIST ?? 'dist');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// Bounds on waiting (nothing asserts how fast anything is).
export const BOOT_WAIT_MS = 600_000;
export const WAIT_MS = 120_000;

function findBin(env, name) {
  if (process.env[env]) return process.env[env];
  const dirs = [process.env.CARGO_TARGET_DIR, join(ROOT, 'target')].filter(Boolean);
  for (const d of dirs) {
    for (const p of ['release', 'debug']) {
      const f = join(d, p, name);
      if (existsSync(f)) return f;
    }
  }
  return null;
}

export const SERVER_BIN = findBin('VFSYNC_SERVER', 'vfsync-server');
export const CLI_BIN = findBin('VFSYNC_CLI', 'vfsync');

export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

// vfsync-server on 127.0.0.1:port with its data in `data`, serving DIST.
// start() may be called again after stop() (same port, same data).
export function vfsyncServer(port, data) {
  let child = null;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    async start() {
      child = spawn(SERVER_BIN, ['--listen', `127.0.0.1:${port}`, '--data', data, '--web', DIST,
        '--allow-register'], {
        stdio: ['ignore', 'inherit', 'inherit'],
        // Warnings and errors only (a request log line each would bury the test's output);
        // RUST_LOG=info brings the request log back.
        env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
      });
      for (let i = 0; i < 300; i++) {
        try {
          if ((await fetch(`${url}/api/v1/health`)).ok) return;
        } catch { /* not listening yet */ }
        if (child.exitCode !== null) throw new Error(`vfsync-server exited with ${child.exitCode}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('vfsync-server did not answer within 30 s');
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const c = child;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
};

// A static server of DIST on 127.0.0.1 (another origin than vfsync-server's):
// the page stays reachable while the storage server is down.
export function staticServer() {
  return new Promise((ok) => {
    const srv = createHttpServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      const file = normalize(join(DIST, path.endsWith('/') ? path + 'index.html' : path));
      if (!file.startsWith(DIST + sep) || !existsSync(file) || !statSync(file).isFile()) {
        res.writeHead(404).end('not found');
        return;
      }
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    });
    srv.listen(0, '127.0.0.1', () => ok({
      url: `http://127.0.0.1:${srv.address().port}`,
      stop: () => new Promise((done) => { srv.closeAllConnections(); srv.close(done); }),
    }));
  });
}

// Runs the host `vfsync` command with the password in $VFSYNC_PASSWORD.
export function vfsync(args, password, cwd = ROOT) {
  return new Promise((ok, fail) => {
    execFile(CLI_BIN, args, { cwd, env: { ...process.env, VFSYNC_PASSWORD: password }, timeout: WAIT_MS },
      (err, stdout, stderr) => (err ? fail(new Error(`vfsync ${args.join(' ')}: ${err.message}\n${stderr}`)) : ok(stdout)));
  });
}

export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'vfsync-home-chromium-'));
  // A persistent context: IndexedDB survives page reloads within it.
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1000, height: 700 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    ctx,
    async close() {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const transcript = (page) => page.evaluate(() => globalThis.vfsync.transcript());

// Waits until the transcript, from character `from` on, matches `re`;
// returns the match. A page error ends the wait at once.
export async function waitFor(page, re, from = 0, timeout = WAIT_MS) {
  const h = await page.waitForFunction(([src, flags, at]) => {
    if (globalThis.vfsync?.error) return { error: globalThis.vfsync.error };
    const m = new RegExp(src, flags).exec(globalThis.vfsync.transcript().slice(at));
    return m ? { match: [...m] } : false;
  }, [re.source, re.flags, from], { timeout, polling: 100 });
  const v = await h.jsonValue();
  if (v.error) throw new Error(`the page reports: ${v.error}`);
  return v.match;
}

// Types a command line and waits for the shell's next prompt after it;
// returns the output between.
export async function run(page, line, timeout = WAIT_MS) {
  const from = (await transcript(page)).length;
  await page.keyboard.type(line + '\n');
  await waitFor(page, /\n[^\n]*[#$] $/, from, timeout);
  const out = (await transcript(page)).slice(from);
  return out.replaceAll('\r', '');
}

// Opens the page (fresh or reloaded) and waits for the shell prompt.
export async function boot(page, url) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => globalThis.vfsync?.error || /[#$] $/.test(globalThis.vfsync?.transcript?.() ?? ''),
    null, { timeout: BOOT_WAIT_MS, polling: 250 });
  const error = await page.evaluate(() => globalThis.vfsync.error);
  if (error) throw new Error(`the page reports: ${error}`);
  await page.click('#terminal');
  return problems;
}

// vflogin USER in the terminal, the password typed at its prompt.
export async function vflogin(page, user, password) {
  const from = (await transcript(page)).length;
  await page.keyboard.type(`vflogin ${user}\n`);
  await waitFor(page, new RegExp(`Password for ${user}: `), from);
  await page.keyboard.type(password + '\n');
  const m = await waitFor(page, /vflogin: ([^\r\n]*)\r?\n/, from);
  await waitFor(page, /\n[^\n]*[#$] $/, from);
  return m[1];
}
