// Figures of the synced home in the browser (issue 6), in headless Chromium:
//   1. vflogin to a usable home holding 1,000 files (the password's Enter to
//      the shell prompt after `vflogin: signed in`), then a walk of the tree
//      (`find . -type f | wc -l`: metadata only, nothing is fetched);
//   2. the first open of a 10 MB file (`cat big.bin > /dev/null`; content
//      fetched and decrypted in the worker), and a second open (cached);
//   3. a sync of 100 changed files (`vfsync` after 100 files were appended to).
// Appends the figures, with the machine's load average, to
// bench/WEB-HOME-RESULTS.md. Wall-clock times on a shared machine are noisy:
// compare runs on an idle machine only.
//
//   node bench/web-home.mjs        (after web/build.sh and
//                                   cargo build --release -p vfsync-server -p vfsync-cli)

import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CLI_BIN, DIST, ROOT, SERVER_BIN, boot, freePort, launch, run, transcript, vfsync, vfsyncServer,
  waitFor,
} from '../tests/browser/home-lib.mjs';

const USER = 'bench';
const PASSWORD = 'bench password';
const BUILD = process.env.BUILD ?? 'the page as built in DIST';
const FILES = 1000;

if (!existsSync(join(DIST, 'index.html')) || !SERVER_BIN || !CLI_BIN) {
  console.error('build first: web/build.sh and cargo build --release -p vfsync-server -p vfsync-cli');
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'vfsync-web-home-bench-'));
const server = vfsyncServer(await freePort(), join(tmp, 'data'));
let browser;
const ms = (t0) => Math.round(performance.now() - t0);
try {
  await server.start();
  await vfsync(['-u', USER, 'register', server.url], PASSWORD);
  // The home: 1,000 small files in 10 directories, and one 10 MB file.
  const co = join(tmp, 'co');
  await vfsync(['co', `${server.url}/u/${USER}/home`, co], PASSWORD);
  for (let d = 0; d < 10; d++) {
    mkdirSync(join(co, `d${d}`));
    for (let i = 0; i < FILES / 10; i++) {
      writeFileSync(join(co, `d${d}`, `f${i}.txt`), `file ${d}/${i}\n`.repeat(1 + (i % 7)));
    }
  }
  writeFileSync(join(co, 'big.bin'), randomBytes(10 << 20));
  await vfsync(['-C', co, 'sync'], PASSWORD);

  browser = await launch();
  const page = await browser.ctx.newPage();
  await boot(page, `${server.url}/index.html`);

  // 1. vflogin → usable home.
  let from = (await transcript(page)).length;
  await page.keyboard.type(`vflogin ${USER}\n`);
  await waitFor(page, /Password for [^:]*: /, from);
  let t0 = performance.now();
  await page.keyboard.type(PASSWORD + '\n');
  await waitFor(page, /vflogin: signed in[^\n]*\n[^\n]*[#$] $/, from);
  const loginMs = ms(t0);
  t0 = performance.now();
  const count = await run(page, 'find . -type f | wc -l');
  const listMs = ms(t0);
  if (!/\n1001\n/.test(count)) console.warn(`# find said: ${JSON.stringify(count)}`);

  // 2. First and second open of the 10 MB file.
  t0 = performance.now();
  await run(page, 'cat big.bin > /dev/null');
  const firstOpenMs = ms(t0);
  t0 = performance.now();
  await run(page, 'cat big.bin > /dev/null');
  const secondOpenMs = ms(t0);

  // 3. Sync of 100 changed files.
  await run(page, 'i=0; while [ $i -lt 100 ]; do echo changed >> d0/f$i.txt; i=$((i+1)); done');
  t0 = performance.now();
  const out = await run(page, 'vfsync');
  const syncMs = ms(t0);
  if (!/100 uploaded/.test(out)) console.warn(`# vfsync said: ${JSON.stringify(out.slice(0, 200))}`);
  await page.close();

  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  const rows = [
    ['vflogin (Enter after the password) to the prompt, 1,000 files + 10 MB', loginMs],
    ['walk of the new home: find . -type f, piped to wc -l (metadata only)', listMs],
    ['first open of the 10 MB file (`cat > /dev/null`: fetch + decrypt)', firstOpenMs],
    ['second open of the 10 MB file (cached)', secondOpenMs],
    ['`vfsync` of 100 changed files', syncMs],
  ];
  const text = [
    `\n## ${new Date().toISOString()} (load average ${load}, ${cpus().length} CPUs; ${BUILD})\n`,
    '| what | ms |', '|---|---:|',
    ...rows.map(([w, v]) => `| ${w} | ${v} |`), '',
  ].join('\n');
  const file = join(ROOT, 'bench/WEB-HOME-RESULTS.md');
  if (!existsSync(file)) {
    appendFileSync(file, '# The synced home in the browser: figures\n\n'
      + 'Written by `node bench/web-home.mjs` (headless Chromium, vfsync-server on loopback, the\n'
      + 'page\'s default Linux config). Wall-clock milliseconds, with the load average at the end of\n'
      + 'the run: on a loaded machine they are noise; compare idle-machine runs only.\n');
  }
  appendFileSync(file, text);
  console.log(text);
} finally {
  await browser?.close();
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
}
