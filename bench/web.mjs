// Measures the page in headless Chromium (see bench/web.sh): MIPS of
// dist/bench/cpu.elf and, if the guest images are in dist/, seconds from
// navigation to the shell prompt. Writes bench/WEB-RESULTS.md.
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve, extname, normalize, sep } from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');
const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };

const srv = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const file = normalize(join(DIST, path));
  if (!file.startsWith(DIST + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
  res.end(readFileSync(file));
});
await new Promise((r) => srv.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${srv.address().port}/index.html`;
const profile = mkdtempSync(join(tmpdir(), 'vfsync-bench-'));
// A fresh profile directory (Playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const rows = [];
const CHROMIUM_VERSION = (() => {
  try {
    return execFileSync(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8' })
      .trim().replace(/^Chromium\s*/, '').replace(/ built on .*/, '');
  } catch { return ''; }
})();
// The wasm-opt level web/index.html asks Trunk for ("0": none).
const WASM_OPT = (() => {
  const m = /data-bin="vf-worker"[^>]*data-wasm-opt="([^"]+)"/s.exec(readFileSync(join(ROOT, 'web/index.html'), 'utf8'));
  return !m ? '-O (Trunk default)' : m[1] === '0' ? 'off' : `-O${m[1]}`;
})();
const load0 = loadavg().map((x) => x.toFixed(2)).join(' ');
try {
  const page = await browser.newPage();
  await page.goto(`${base}?elf=bench/cpu.elf&mem=64`);
  await page.waitForFunction(() => globalThis.vfsync?.exit || globalThis.vfsync?.error, null,
    { timeout: 1_800_000, polling: 500 });
  const r = await page.evaluate(() => ({ exit: globalThis.vfsync.exit, error: globalThis.vfsync.error }));
  if (r.error) throw new Error(r.error);
  if (r.exit.code !== 0) throw new Error(`cpu.elf exited with ${r.exit.code}`);
  const mips = r.exit.insns / r.exit.seconds / 1e6;
  rows.push(`| cpu.c rv64 (ROUNDS=${process.env.ROUNDS}) | ${r.exit.insns} | ${r.exit.seconds.toFixed(2)} | ${mips.toFixed(1)} | ${process.env.NATIVE_MIPS || '-'} | ${process.env.NATIVE_MIPS ? (100 * mips / Number(process.env.NATIVE_MIPS)).toFixed(0) + ' %' : '-'} |`);
  console.log(`browser: ${mips.toFixed(1)} MIPS; native: ${process.env.NATIVE_MIPS || '-'} MIPS`);
  await page.close();
} catch (e) {
  rows.push(`| cpu.c rv64 | failed: ${String(e.message).split('\n')[0]} | | | | |`);
}

let boot = 'not measured: dist/guest/images/Image missing (build the guest, then web/build.sh)';
if (existsSync(join(DIST, 'guest/images/Image'))) {
  try {
    const page = await browser.newPage();
    const t0 = Date.now();
    await page.goto(base);
    await page.waitForFunction(() => globalThis.vfsync?.error || /[#$] $/.test(globalThis.vfsync?.transcript?.() ?? ''),
      null, { timeout: 1_800_000, polling: 100 });
    const err = await page.evaluate(() => globalThis.vfsync.error);
    boot = err ? `failed: ${err}` : `${((Date.now() - t0) / 1000).toFixed(1)} s from navigation to the shell prompt (vm-configs/linux-rv64.json)`;
    await page.close();
  } catch (e) {
    boot = `failed: ${String(e.message).split('\n')[0]}`;
  }
}
await browser.close();
srv.close();
rmSync(profile, { recursive: true, force: true });

const out = `# Web benchmark results

bench/web.sh — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; headless Chromium ${CHROMIUM_VERSION}, release page (web/build.sh: LTO, opt-level 3, wasm-opt ${WASM_OPT}). Load average at the start: ${load0}.

MIPS = guest instructions / wall-clock seconds of execution (download excluded). Native: \`vfvm --elf --stats --no-jit\` on the same ELF (the interpreter, as in the page).

| program | instructions | seconds (browser) | MIPS (browser) | MIPS (native) | browser / native |
|---|---|---|---|---|---|
${rows.join('\n')}

Boot: ${boot}
`;
writeFileSync(join(ROOT, 'bench/WEB-RESULTS.md'), out);
console.log(out);
