// The synced home through the web page, end to end in headless Chromium
// (docs/vflogin.md, issue 6): vfsync-server serves the page and the API; a
// user registered with the host `vfsync` signs in with `vflogin` typed in the
// terminal, works in /home/USER and syncs; the host's `vfsync co` sees it;
// a reload and a second sign-in find the files; an edit made while the server
// is down survives a reload (IndexedDB) and syncs once the server is back.
//
// Run after web/build.sh and `cargo build -p vfsync-server -p vfsync-cli`:
//   node --test tests/browser/home.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BOOT_WAIT_MS, CLI_BIN, DIST, SERVER_BIN, WAIT_MS, boot, freePort, launch, run, transcript,
  staticServer, vflogin, vfsync, vfsyncServer, waitFor,
} from './home-lib.mjs';

const USER = 'alice';
const PASSWORD = 'correct horse λ battery';
const WRONG_PASSWORD = 'not the password';
const OTHER_PASSWORD = 'unknown-user-password';
const missing = !existsSync(join(DIST, 'index.html')) ? `${DIST}/index.html missing: run web/build.sh`
  : !existsSync(join(DIST, 'guest/images/Image')) ? 'the guest image is not in dist/ (guest/build.sh, then web/build.sh)'
    : !SERVER_BIN ? 'vfsync-server not built (cargo build -p vfsync-server)'
      : !CLI_BIN ? 'vfsync not built (cargo build -p vfsync-cli)' : false;

let server;
let browser;
let tmp;

before(async () => {
  if (missing) return;
  tmp = mkdtempSync(join(tmpdir(), 'vfsync-home-web-'));
  server = vfsyncServer(await freePort(), join(tmp, 'data'));
  await server.start();
  await vfsync(['-u', USER, 'register', server.url], PASSWORD);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// No password typed at vflogin's prompt is ever echoed (checked before every reload, which
// starts a new transcript).
async function assertNoEcho(page) {
  const t = await transcript(page);
  assert.ok(t.length > 0);
  for (const p of [PASSWORD, WRONG_PASSWORD, OTHER_PASSWORD]) assert.ok(!t.includes(p), `echoed: ${p}`);
}

const panel = (page) => page.evaluate(() => globalThis.vfsync.sync ?? null);

test('vflogin in the page: files sync both ways, survive a reload and a server outage',
  { skip: missing, timeout: 3 * BOOT_WAIT_MS + 20 * WAIT_MS }, async () => {
    const page = await browser.ctx.newPage();
    const problems = await boot(page, `${server.url}/index.html`);

    // Bad input first: a wrong password and an unknown user are one clear line each.
    assert.equal(await vflogin(page, USER, WRONG_PASSWORD), 'wrong password');
    assert.equal(await vflogin(page, 'nobody', OTHER_PASSWORD), 'unknown user nobody');

    assert.equal(await vflogin(page, USER, PASSWORD), `signed in as ${USER}; your home is /home/${USER}`);
    assert.match(await run(page, 'pwd'), new RegExp(`/home/${USER}\n`));
    // The page's panel, outside the terminal.
    await page.waitForFunction((u) => globalThis.vfsync.sync?.user === u, USER, { timeout: WAIT_MS });
    assert.match(await page.textContent('#sync-status'), new RegExp(`signed in as ${USER}`));

    await run(page, 'echo "hello from the browser" > note.txt; mkdir -p docs; printf "two\\n" > docs/b.txt');
    await run(page, 'echo gone > tmp.txt; mv tmp.txt docs/moved.txt; echo renamed-content > r.txt');
    const out = await run(page, 'vfsync');
    assert.match(out, /vfsync: version 1, \d+ uploaded/);
    assert.match(out, /up note\.txt/);
    assert.match(out, /up docs\/moved\.txt/);
    // Edit, delete and rename synced files.
    await run(page, 'printf "two, edited\\n" > docs/b.txt; rm docs/moved.txt; mv r.txt docs/r2.txt');
    const outEdit = await run(page, 'vfsync');
    assert.match(outEdit, /vfsync: version 2, /, outEdit);
    assert.match(outEdit, /deleted-on-server docs\/moved\.txt/, outEdit);
    assert.match(outEdit, /up docs\/r2\.txt/, outEdit);
    await page.waitForFunction(() => globalThis.vfsync.sync?.version === 2 && !globalThis.vfsync.sync.pending,
      null, { timeout: WAIT_MS });

    // The host sees exactly that.
    const co = join(tmp, 'co');
    await vfsync(['co', `${server.url}/u/${USER}/home`, co], PASSWORD);
    assert.equal(readFileSync(join(co, 'note.txt'), 'utf8'), 'hello from the browser\n');
    assert.equal(readFileSync(join(co, 'docs/b.txt'), 'utf8'), 'two, edited\n');
    assert.equal(readFileSync(join(co, 'docs/r2.txt'), 'utf8'), 'renamed-content\n');
    assert.deepEqual(readdirSync(co).filter((n) => n !== '.vfsync').sort(), ['docs', 'note.txt']);
    assert.deepEqual(readdirSync(join(co, 'docs')).sort(), ['b.txt', 'r2.txt']);

    // The server's storage holds no plaintext of a file, a name or the password.
    const stored = [];
    const walk = (d) => readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory()
      ? walk(join(d, e.name)) : stored.push(join(d, e.name))));
    walk(join(tmp, 'data'));
    assert.ok(stored.length > 0);
    for (const f of stored) {
      const bytes = readFileSync(f);
      for (const needle of ['hello from the browser', 'two, edited', 'renamed-content', 'note.txt',
        'r2.txt', 'moved.txt', PASSWORD]) {
        assert.ok(!f.includes(needle), `${f} names ${needle}`);
        assert.ok(!bytes.includes(needle), `${f} holds ${needle}`);
      }
    }

    // Reload: the guest reboots; a second sign-in finds the files. The page now
    // comes from another origin (a static server) and names the storage
    // server with ?sync=, so it stays reachable while the storage server is down.
    const other = await staticServer();
    const page2 = `${other.url}/index.html?sync=${encodeURIComponent(server.url)}`;
    try {
      await assertNoEcho(page);
      const p2 = await boot(page, page2);
      assert.equal(await vflogin(page, USER, PASSWORD), `signed in as ${USER}; your home is /home/${USER}`);
      assert.match(await run(page, 'cat note.txt docs/b.txt'), /hello from the browser\ntwo, edited\n/);
      assert.equal(await page.evaluate(() => globalThis.vfsync.sync.server), server.url);

      // The storage server goes away; an edit is kept in the home and, sealed, in IndexedDB.
      await server.stop();
      await run(page, 'echo "written offline" >> note.txt');
      assert.match(await run(page, 'vfsync'), /vfsync: server unreachable/);
      await page.waitForFunction(() => globalThis.vfsync.sync?.pending === true && globalThis.vfsync.sync.error,
        null, { timeout: WAIT_MS });
      // The home's save to IndexedDB (queued by the 1 s tick after a change) has run.
      await page.waitForFunction(() => globalThis.vfsync.sync?.pending === true && globalThis.vfsync.sync.saved,
        null, { timeout: WAIT_MS });
      // A reload while the server is still down: the worker and its memory are gone.
      await assertNoEcho(page);
      const p3 = await boot(page, page2);
      await server.start();
      // The next sign-in finds the unsynced edit and syncs it.
      assert.equal(await vflogin(page, USER, PASSWORD), `signed in as ${USER}; your home is /home/${USER}`);
      assert.match(await run(page, 'cat note.txt'), /hello from the browser\nwritten offline\n/);
      // The restored edit is pending; the automatic sync (3 s after sign-in) may have sent it.
      const out2 = await run(page, 'vfsync');
      assert.match(out2, /vfsync: version 3, [01] uploaded/, out2);
      await vfsync(['-C', co, 'sync'], PASSWORD);
      assert.equal(readFileSync(join(co, 'note.txt'), 'utf8'), 'hello from the browser\nwritten offline\n');
      problems.push(...p2, ...p3);
    } finally {
      await other.stop();
    }

    // A change made on the host reaches the guest at its next sync.
    writeFileSync(join(co, 'from-host.txt'), 'made on the host\n');
    await vfsync(['-C', co, 'sync'], PASSWORD);
    assert.match(await run(page, 'vfsync'), /down from-host\.txt/);
    assert.match(await run(page, 'cat from-host.txt'), /made on the host\n/);

    // Changed on both sides: the server's version keeps the name, the guest's becomes NAME.1.
    writeFileSync(join(co, 'from-host.txt'), 'host side\n');
    await vfsync(['-C', co, 'sync'], PASSWORD);
    await run(page, 'echo guest side > from-host.txt');
    assert.match(await run(page, 'vfsync'), /conflict from-host\.txt -> from-host\.txt\.1/);
    assert.match(await run(page, 'cat from-host.txt'), /\nhost side\n/);
    assert.match(await run(page, 'cat from-host.txt.1'), /\nguest side\n/);
    await vfsync(['-C', co, 'sync'], PASSWORD);
    assert.equal(readFileSync(join(co, 'from-host.txt.1'), 'utf8'), 'guest side\n');
    assert.match(await run(page, 'vflogout'), /vflogout: signed out alice/);
    await page.waitForFunction(() => globalThis.vfsync.sync && globalThis.vfsync.sync.user === null,
      null, { timeout: WAIT_MS });
    assert.deepEqual(problems, []);
    await assertNoEcho(page);
    await page.close();
  });
