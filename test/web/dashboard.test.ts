/**
 * The dashboard end to end, in Debian's Chromium against a real Glimpse in
 * keystone mode and the real Keystone: sign in, create and upload with the
 * progress bar observed, a refused upload explained, filter, edit properties
 * through the metadefs editor, share and accept as the other project,
 * deactivate, delete; an admin imports and edits a metadefs namespace.
 * Screenshots of each main page land in artifacts/dashboard/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchBrowser, openPage, rawDiskFile, screenshot, throttleUploads } from '../helpers/browser.js';
import { KEYSTONE_INI, issueToken, keystoneSkip, projectId } from '../helpers/keystone.js';
import { type TestServer, startTestServer } from '../helpers/server.js';

const skip = keystoneSkip() || chromiumSkip();
const MiB = 1024 * 1024;

describe('dashboard in a browser (keystone mode)', { skip }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let dir: string;
  let rawFile: string;
  const name = `dash-e2e-${Date.now()}`;
  let imageId = '';

  const api = async (method: string, p: string, user = 'alpha-member', project = 'alpha', password = 'pass') => {
    const { token } = await issueToken(user, password, project);
    return fetch(`${server.url}${p}`, { method, headers: { 'x-auth-token': token, accept: 'application/json' } });
  };
  /** Chromium reports every 4xx answer as a console error; a test names those it caused on purpose. */
  const unexpectedErrors = (...expected: number[]) =>
    errors.filter((e) => !expected.some((status) => e.includes(`status of ${status}`)));

  const signIn = async (user: string, password: string, project: string) => {
    await page.goto(`${server.url}/dashboard/`);
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByLabel('Project').fill(project);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`${user} · ${project}`).waitFor();
  };
  const signOut = async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Glimpse' }).waitFor();
  };

  before(async () => {
    server = await startTestServer({ auth: 'keystone', ini: KEYSTONE_INI() });
    dir = mkdtempSync(path.join(tmpdir(), 'glimpse-dash-'));
    rawFile = rawDiskFile(dir, 24 * MiB);
    browser = await launchBrowser();
    ({ page, errors } = await openPage(browser));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('asks for credentials, refuses wrong ones, and keeps only a token for the tab', async () => {
    await page.goto(`${server.url}/dashboard/`);
    await page.getByRole('heading', { name: 'Sign in to Glimpse' }).waitFor();
    await screenshot(page, '01-sign-in');
    await page.getByLabel('User name').fill('alpha-member');
    await page.getByLabel('Password').fill('wrong');
    await page.getByLabel('Project').fill('alpha');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'The username, password or project is not correct.' }).waitFor();

    await signIn('alpha-member', 'pass', 'alpha');
    const stored = await page.evaluate(() => sessionStorage.getItem('glimpse.session'));
    assert.ok(stored);
    assert.doesNotMatch(stored, /"pass"|password/);
    assert.match(JSON.parse(stored).token, /^gAAAAA/);
    assert.deepEqual(unexpectedErrors(401), []);
    errors.length = 0;
  });

  it('shows the format inspector verdict when an upload is refused', async () => {
    await page.getByRole('link', { name: 'Create image' }).click();
    await page.getByLabel('Name', { exact: true }).fill(`${name}-refused`);
    await page.getByLabel('Disk format').selectOption('qcow2');
    await page.getByLabel('File', { exact: true }).setInputFiles(rawFile);
    await page.getByRole('button', { name: 'Create image' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /The image data was refused: .*qcow2.* stays queued/s);
    await screenshot(page, '02-create-refused');
    const listed = (await (await api('GET', `/v2/images?name=${name}-refused`)).json()) as { images: { status: string }[] };
    assert.equal(listed.images[0].status, 'queued');
    assert.deepEqual(unexpectedErrors(415), []);
    errors.length = 0;
  });

  it('creates an image and uploads its file with a live progress bar', async () => {
    await page.goto(`${server.url}/dashboard/#/images`);
    await page.getByRole('link', { name: 'Create image' }).click();
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Disk format').selectOption('raw');
    await page.getByLabel('Tags (comma separated)').fill('e2e, dashboard');
    await page.getByLabel('File', { exact: true }).setInputFiles(rawFile);
    // Slow the upload down to ~8 MiB/s so that the progress can be watched.
    const unthrottle = await throttleUploads(page, 8 * MiB);
    await page.getByRole('button', { name: 'Create image' }).click();

    const figures = page.getByTestId('upload-figures');
    await figures.waitFor();
    await page.waitForFunction(() => {
      const bar = document.querySelector('progress');
      return bar !== null && bar.value > 0 && bar.value < bar.max;
    });
    assert.match(await figures.innerText(), / of 24 MiB · [\d.]+ [KM]iB\/s · \d+ s left/);
    await screenshot(page, '03-upload-progress');
    await page.getByRole('heading', { name, exact: true }).waitFor({ timeout: 30_000 });
    await unthrottle();

    imageId = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    const image = (await (await api('GET', `/v2/images/${imageId}`)).json()) as Record<string, unknown>;
    assert.equal(image.status, 'active');
    assert.equal(image.size, 24 * MiB);
    assert.deepEqual([...(image.tags as string[])].sort(), ['dashboard', 'e2e']);
    assert.deepEqual(unexpectedErrors(), []);
  });

  it('filters the table by name and by tag', async () => {
    await page.goto(`${server.url}/dashboard/#/images`);
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const rows = page.locator('table.images tbody tr');
    await page.waitForFunction(() => document.querySelectorAll('table.images tbody tr').length === 1);
    assert.equal(await rows.count(), 1);
    // Name, status, OS (none), tags, visibility, disk format, size.
    assert.match(await rows.first().innerText(), new RegExp(`^\\s*${name}\\s+active\\s+—\\s+(e2e\\s+dashboard|dashboard\\s+e2e)\\s+private\\s+raw\\s+24 MiB`));
    await screenshot(page, '04-images');

    await page.goto(`${server.url}/dashboard/#/images?tag=nothing-has-this`);
    await page.getByText('No images match.').waitFor();
    await page.goto(`${server.url}/dashboard/#/images?tag=dashboard`);
    await page.getByRole('link', { name, exact: true }).waitFor();
  });

  it('edits properties through the metadefs editor and free-form', async () => {
    await page.getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { name, exact: true }).waitFor();
    await page.getByLabel('Namespace').selectOption({ label: 'Common Image Properties' });
    const distro = page.locator('form.def').filter({ hasText: '(os_distro)' });
    await distro.getByRole('textbox').fill('ubuntu');
    await distro.getByRole('button', { name: 'Add' }).click();
    const arch = page.locator('form.def').filter({ hasText: '(architecture)' });
    await arch.getByRole('combobox').selectOption('x86_64');
    await arch.getByRole('button', { name: 'Add' }).click();
    await page.getByLabel('Key').fill('owner_team');
    await page.getByLabel('Value').fill('imaging');
    await page.getByRole('button', { name: 'Set property' }).click();
    await page.locator('table.properties').getByText('owner_team').waitFor();
    await page.locator('table.properties').getByText('x86_64').waitFor();
    await screenshot(page, '05-image');

    const image = (await (await api('GET', `/v2/images/${imageId}`)).json()) as Record<string, unknown>;
    assert.equal(image.os_distro, 'ubuntu');
    assert.equal(image.architecture, 'x86_64');
    assert.equal(image.owner_team, 'imaging');

    await page.getByRole('button', { name: 'Remove owner_team' }).click();
    await page.locator('table.properties').getByText('owner_team').waitFor({ state: 'detached' });
    const after = (await (await api('GET', `/v2/images/${imageId}`)).json()) as Record<string, unknown>;
    assert.equal(after.owner_team, undefined);
    assert.deepEqual(unexpectedErrors(), []);
  });

  it('shares the image with another project, which accepts it', async () => {
    const edit = page.getByRole('form', { name: 'Edit image' });
    await edit.getByLabel('Visibility').selectOption('shared');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const beta = projectId('beta');
    await page.getByLabel('Share with project (ID)').fill(beta);
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    await page.locator('.members td').filter({ hasText: beta }).waitFor();
    await page.locator('.members td', { hasText: 'pending' }).waitFor();

    await signOut();
    await signIn('beta-member', 'pass', 'beta');
    await page.goto(`${server.url}/dashboard/#/images?visibility=shared&member_status=pending`);
    await page.getByRole('link', { name, exact: true }).click();
    await page.getByRole('button', { name: 'Accept' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid=member-status]')?.textContent === 'accepted');
    await screenshot(page, '06-shared-accepted');

    const members = (await (await api('GET', `/v2/images/${imageId}/members`)).json()) as { members: { member_id: string; status: string }[] };
    assert.deepEqual(members.members.map((m) => [m.member_id, m.status]), [[beta, 'accepted']]);
    assert.deepEqual(unexpectedErrors(), []);
  });

  it('deactivates, then deletes after confirmation', async () => {
    await signOut();
    await signIn('alpha-member', 'pass', 'alpha');
    await page.goto(`${server.url}/dashboard/#/images/${imageId}`);
    await page.getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('button', { name: 'Reactivate' }).waitFor();
    assert.equal(((await (await api('GET', `/v2/images/${imageId}`)).json()) as { status: string }).status, 'deactivated');

    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await screenshot(page, '07-delete-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await api('GET', `/v2/images/${imageId}`)).status, 200);
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await dialog.getByRole('button', { name: 'Delete image' }).click();
    await page.getByRole('heading', { name: 'Images' }).waitFor();
    assert.equal((await api('GET', `/v2/images/${imageId}`)).status, 404);
    assert.deepEqual(unexpectedErrors(), []);
  });

  it('lets an admin import, edit, associate and delete a metadefs namespace', async () => {
    const namespace = `Glimpse::E2E::${Date.now()}`;
    const file = path.join(dir, 'namespace.json');
    writeFileSync(
      file,
      JSON.stringify({
        namespace,
        display_name: 'E2E namespace',
        description: 'Imported by the dashboard test.',
        visibility: 'public',
        protected: false,
        properties: { e2e_level: { title: 'Level', type: 'integer', minimum: 1, maximum: 5, description: 'How deep.' } },
      }),
    );
    await signOut();
    await signIn('admin', 'admin-pass', 'admin');
    await page.getByRole('link', { name: 'Metadata definitions' }).click();
    await page.getByRole('link', { name: 'OS::Glance::CommonImageProperties' }).waitFor();
    await screenshot(page, '08-metadefs');
    await page.getByLabel('Import a namespace (JSON file)').setInputFiles(file);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('heading', { name: 'E2E namespace' }).waitFor();
    await page.getByText('Level (e2e_level, integer)').waitFor();

    const settings = page.getByRole('form', { name: 'Namespace settings' });
    await settings.getByLabel('Visibility').selectOption('private');
    await settings.getByLabel('Protected').check();
    await settings.getByRole('button', { name: 'Save' }).click();
    const associate = page.getByRole('form', { name: 'Associate a resource type' });
    await associate.getByLabel('Resource type').selectOption('OS::Glance::Image');
    await associate.getByLabel('Prefix').fill('e2e_');
    await associate.getByRole('button', { name: 'Associate' }).click();
    await page.getByText('(prefix e2e_)').waitFor();
    await screenshot(page, '09-namespace');

    const nsPath = `/v2/metadefs/namespaces/${encodeURIComponent(namespace)}`;
    const ns = (await (await api('GET', nsPath, 'admin', 'admin', 'admin-pass')).json()) as Record<string, any>;
    assert.equal(ns.visibility, 'private');
    assert.equal(ns.protected, true);
    assert.deepEqual(ns.resource_type_associations.map((r: { name: string; prefix: string }) => [r.name, r.prefix]), [['OS::Glance::Image', 'e2e_']]);

    // Protected: the API refuses the delete, and the dashboard says why.
    await page.getByRole('button', { name: 'Delete namespace' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete namespace' }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /protected/i);
    await settings.getByLabel('Protected').uncheck();
    await settings.getByRole('button', { name: 'Save' }).click();
    await page.waitForFunction(() => !(document.querySelector('input[name=protected]') as HTMLInputElement | null)?.checked);
    await page.getByRole('button', { name: 'Delete namespace' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete namespace' }).click();
    await page.getByRole('heading', { name: 'Metadata definitions' }).waitFor();
    assert.equal((await api('GET', nsPath, 'admin', 'admin', 'admin-pass')).status, 404);
    assert.deepEqual(unexpectedErrors(403), []);
  });
});
