/** How the server serves the dashboard: files, headers, --no-dashboard, and the sign-in endpoint's errors. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { chromiumSkip, launchBrowser, screenshot, watchErrors } from '../helpers/browser.js';
import { KEYSTONE_INI, keystoneSkip } from '../helpers/keystone.js';
import { type TestServer, startTestServer } from '../helpers/server.js';

/** A GET whose path is sent byte for byte (fetch would resolve the dot segments first). */
function rawGet(url: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const rawPath = url.slice(url.indexOf('/', 'http://'.length));
  return new Promise((resolve, reject) => {
    http
      .get({ host: u.hostname, port: u.port, path: rawPath }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('dashboard files (noauth)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server?.close());

  it('serves the page with a strict content security policy, and redirects /dashboard', async () => {
    const redirect = await fetch(`${server.url}/dashboard`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), '/dashboard/');
    const res = await fetch(`${server.url}/dashboard/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/html/);
    assert.match(res.headers.get('content-security-policy')!, /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const html = await res.text();
    const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, html);
    assert.doesNotMatch(html, /<script>|<script type="module">[^<]/, 'no inline script');

    const asset = await fetch(`${server.url}${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type')!, /^text\/javascript/);
    assert.match(asset.headers.get('cache-control')!, /immutable/);
  });

  it('answers 404 for any other path, including traversal attempts sent as they are', async () => {
    for (const p of ['/dashboard/assets/nope.js', '/dashboard/assets/..%2F..%2Fpackage.json', '/dashboard/assets/../../package.json', '/dashboard/assets/%2e%2e/%2e%2e/src/server.ts', '/dashboard/assets/..\\..\\package.json']) {
      const res = await rawGet(`${server.url}${p}`);
      assert.equal(res.status, 404, p);
      assert.doesNotMatch(res.body, /"name": "glimpse"|import /, p);
    }
  });

  it('tells the page the auth mode, and has no sign-in without Keystone', async () => {
    assert.deepEqual(await (await fetch(`${server.url}/dashboard/config.json`)).json(), { auth: 'noauth', cache: null });
    const res = await fetch(`${server.url}/dashboard/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ username: 'a', password: 'b', project: 'c' }),
    });
    assert.equal(res.status, 404);
    assert.match(((await res.json()) as { message: string }).message, /no sign-in: this server runs with --auth noauth/);
  });

  it('is left out with --no-dashboard', async () => {
    const bare = await startTestServer({ dashboard: false });
    try {
      assert.equal((await fetch(`${bare.url}/dashboard/`)).status, 404);
      assert.equal((await fetch(`${bare.url}/dashboard/config.json`)).status, 404);
      assert.equal((await fetch(`${bare.url}/v2/images`)).status, 200);
    } finally {
      await bare.close();
    }
  });
});

describe('dashboard page in noauth mode', { skip: chromiumSkip() }, () => {
  it('opens on the images table without a sign-in, with no console error', async () => {
    const server = await startTestServer();
    const browser = await launchBrowser();
    try {
      await fetch(`${server.url}/v2/images`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'noauth-one' }) });
      const page = await browser.newPage();
      const errors = watchErrors(page);
      await page.goto(`${server.url}/dashboard/`);
      await page.getByRole('link', { name: 'noauth-one' }).waitFor();
      assert.ok(await page.getByText('noauth mode').isVisible());
      assert.ok(await page.getByRole('columnheader', { name: 'Owner' }).isVisible(), 'noauth is an admin: the owner column shows');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.close();
    }
  });

  it('works from the keyboard alone and fits a phone screen', async () => {
    const server = await startTestServer();
    const browser = await launchBrowser();
    try {
      for (const name of ['kbd-alpha', 'kbd-beta']) {
        await fetch(`${server.url}/v2/images`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
      }
      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      const errors = watchErrors(page);
      await page.goto(`${server.url}/dashboard/`);
      await page.getByRole('link', { name: 'kbd-beta' }).waitFor();

      // Tab through the page: every control is reachable, in reading order, and labelled.
      const reached: string[] = [];
      for (let i = 0; i < 16; i++) {
        await page.keyboard.press('Tab');
        reached.push(
          await page.evaluate(() => {
            const el = document.activeElement as HTMLElement;
            return el.closest('label')?.firstChild?.textContent?.trim() || el.textContent?.trim() || el.tagName;
          }),
        );
      }
      // On a phone the filters are folded away: their summary comes first, then the table's search.
      assert.deepEqual(reached.slice(0, 6), ['Glimpse', 'Images', 'Metadata definitions', 'Create image', 'Filters and order', 'Search names']);
      await page.reload();
      await page.getByRole('link', { name: 'kbd-beta' }).waitFor();
      for (let i = 0; i < 5; i++) await page.keyboard.press('Tab');
      await page.keyboard.press('Enter'); // unfolds the filters
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement).closest('label')?.firstChild?.textContent?.trim()), 'Name');
      await page.keyboard.type('kbd-alpha');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.querySelectorAll('table.images tbody tr').length === 1);
      assert.match(page.url(), /#\/images\?name=kbd-alpha/);
      assert.ok(await page.getByRole('link', { name: 'kbd-alpha' }).isVisible());

      // Nothing but the table itself scrolls sideways on a narrow screen.
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
      await screenshot(page, '10-images-phone');
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});

describe('dashboard sign-in endpoint (keystone mode)', { skip: keystoneSkip() }, () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ auth: 'keystone', ini: KEYSTONE_INI() });
  });
  after(() => server?.close());

  const post = (body: unknown) =>
    fetch(`${server.url}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });

  it('trades a password for a project-scoped token that the API accepts, and revokes it on sign-out', async () => {
    const res = await post({ username: 'alpha-member', password: 'pass', project: 'alpha' });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const session = (await res.json()) as { token: string; project: { name: string }; roles: string[]; user: { name: string } };
    assert.equal(session.project.name, 'alpha');
    assert.equal(session.user.name, 'alpha-member');
    assert.deepEqual([...session.roles].sort(), ['member', 'reader']);
    assert.doesNotMatch(JSON.stringify(session), /"pass"/);
    const h = { 'x-auth-token': session.token };
    assert.equal((await fetch(`${server.url}/v2/images`, { headers: h })).status, 200);

    assert.equal((await fetch(`${server.url}/dashboard/session`, { method: 'DELETE', headers: h })).status, 204);
    assert.equal((await fetch(`${server.url}/v2/images`, { headers: h })).status, 401);
  });

  it('answers 401 for wrong credentials and 400 for missing or over-long fields', async () => {
    assert.equal((await post({ username: 'alpha-member', password: 'nope', project: 'alpha' })).status, 401);
    assert.equal((await post({ username: 'alpha-member', password: 'pass', project: 'no-such-project' })).status, 401);
    for (const body of [{}, { username: 'a', password: 'b' }, { username: 'a', password: '', project: 'c' }, { username: 'a'.repeat(256), password: 'b', project: 'c' }]) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 60));
      assert.match(((await res.json()) as { message: string }).message, /'(username|password|project)' is (required|longer than 255)/);
    }
  });
});
