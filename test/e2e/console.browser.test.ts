/**
 * The admin console in a real browser (SPEC §13): Debian's chromium through playwright-core,
 * signing in through the real OIDC provider (oidc-provider) on a loopback port, one browser
 * and one gateway for the file. Elements are found by role and accessible name, as the SPEC
 * names them.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { HAVE_CHROMIUM, launchChromium, screenshotDir, warnIfNoChromium } from '../helpers/browser.js';
import { ensureUiBuilt, PREFIX, startConsoleStack, type ConsoleStack } from '../helpers/console.js';

warnIfNoChromium('6 admin console browser tests');

const XSS_NAME = '<img src=x onerror="window.__xss=1">Evil <b>group</b>';
const XSS_REASON = 'Ticket <script>window.__xss=2</script> & <b>bold</b> 42';

describe.skipIf(!HAVE_CHROMIUM)('admin console in a browser', { timeout: 90_000 }, () => {
  let stack: ConsoleStack;
  let browser: Browser;
  const shots = screenshotDir();
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });

  beforeAll(async () => {
    await ensureUiBuilt();
    stack = await startConsoleStack({
      directory: { groups: { hr: ['bob@contoso.com', 'carol@contoso.com'], legal: ['heidi@contoso.com'], xss: ['mallory@contoso.com'] } },
    });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function signIn(upn: string, viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(stack.consoleUrl);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: `Sign in as ${upn}` }).click();
    await page.waitForURL((u) => u.pathname.startsWith(`${PREFIX}/console/`) && !u.pathname.endsWith('/callback'));
    return { context, page };
  }

  const sessionCookie = async (context: BrowserContext) => (await context.cookies()).find((c) => c.name === 'apg_session');
  const api = async (context: BrowserContext, p: string, init: RequestInit = {}) => {
    const c = await sessionCookie(context);
    return fetch(`${stack.gw.url}${PREFIX}/api/${p}`, { ...init, headers: { ...(init.headers as Record<string, string>), cookie: `apg_session=${c?.value}` } });
  };
  const entries = async () => (await stack.gw.governance.read({ afterSeq: 0, limit: 1000 })).entries;
  /** form controls and buttons on the page without an accessible name (labelled controls: SPEC §13) */
  const unlabelled = (page: Page) =>
    page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, button')]
        .filter((el) => {
          const c = el as HTMLInputElement;
          return (
            !(c.labels && c.labels.length > 0) &&
            !el.getAttribute('aria-label') &&
            !el.getAttribute('aria-labelledby') &&
            !(el.tagName === 'BUTTON' && el.textContent?.trim())
          );
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );

  test('sign in through the provider; the session cookie is HttpOnly, SameSite=Strict, on the admin prefix; tabs work by keyboard; sign out', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const first = await page.goto(stack.consoleUrl);
    expect(first!.headers()['content-security-policy']).toContain("default-src 'self'");
    await shot(page, '01-sign-in');
    await page.getByRole('link', { name: 'Sign in' }).click();
    await expect.poll(() => page.url()).toContain(stack.idp.issuer);
    await shot(page, '02-identity-provider');
    await page.getByRole('button', { name: 'Sign in as alice@contoso.com' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await page.getByText('Signed in as alice@contoso.com').count()).toBe(1);

    const c = await sessionCookie(context);
    expect(c).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: PREFIX, secure: false });
    // no token in the browser's storage
    expect(await page.evaluate(() => localStorage.length + sessionStorage.length)).toBe(0);

    const privacyTab = page.getByRole('tab', { name: 'Activity privacy' });
    expect(await privacyTab.getAttribute('aria-selected')).toBe('true');
    await privacyTab.focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.getByRole('tab', { name: 'Admin access' }).getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('End');
    expect(await page.getByRole('tab', { name: 'Governance log' }).getAttribute('aria-selected')).toBe('true');
    // approval is off: no reveal-requests tab
    expect(await page.getByRole('tab', { name: 'Reveal requests' }).count()).toBe(0);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    expect(await sessionCookie(context)).toBeUndefined();
    // the old cookie no longer opens anything
    const old = await fetch(`${stack.gw.url}${PREFIX}/api/privacy/groups`, { headers: { cookie: `apg_session=${c!.value}` } });
    expect(old.status).toBe(401);
    await context.close();
  });

  test('Activity privacy: "Add user groups" makes a group private, "Remove" asks first; group names are text', async () => {
    const { context, page } = await signIn('alice@contoso.com');
    // a group whose display name is markup, added through the API with the console session
    const csrf = await page.evaluate(async () => ((await (await fetch('session')).json()) as { csrfToken: string }).csrfToken);
    const added = await api(context, 'privacy/groups', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ id: 'xss', name: XSS_NAME }),
    });
    expect(added.status).toBe(201);
    await page.reload();
    await page.getByRole('cell', { name: XSS_NAME, exact: true }).waitFor();
    expect(await page.locator('table img, table b').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();

    await shot(page, '03-activity-privacy');
    await page.getByRole('button', { name: 'Add user groups' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add user groups' });
    await dialog.waitFor();
    // the group catalogue (SPEC §9) when the gateway has it, else a free-text id
    const catalogue = (await api(context, 'directory/groups?search=legal')).status;
    if (catalogue === 404) {
      await dialog.getByRole('textbox', { name: 'Group id' }).fill('legal');
      await shot(page, '04-add-user-groups-free-text');
    } else {
      expect(catalogue).toBe(200);
      await dialog.getByRole('checkbox', { name: /Application/ }).waitFor();
      await dialog.getByRole('searchbox', { name: 'Search groups' }).fill('leg');
      // the list follows the search
      await dialog.getByRole('checkbox', { name: /Application/ }).waitFor({ state: 'detached' });
      await dialog.getByRole('checkbox', { name: /Legal/ }).check();
      await shot(page, '04-add-user-groups');
    }
    expect(await unlabelled(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Add', exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    const legalRow = page.getByRole('row').filter({ hasText: 'legal' }).filter({ hasText: 'Active' });
    await legalRow.waitFor();
    const addedEntry = (await entries()).filter((e) => e.action === 'privacy-group.added' && e.target === 'legal');
    expect(addedEntry).toHaveLength(1);
    expect(addedEntry[0].principal).toBe('alice@contoso.com');
    expect(addedEntry[0].via).toBe('console');

    await legalRow.getByRole('button', { name: 'Remove' }).click();
    const confirm = page.getByRole('dialog', { name: 'Remove group' });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect(await (await api(context, 'privacy/groups')).json()).toMatchObject({
      groups: expect.arrayContaining([expect.objectContaining({ id: 'legal', privateUntil: null })]),
    });
    await legalRow.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog', { name: 'Remove group' }).getByRole('button', { name: 'Remove' }).click();
    await expect.poll(async () => (await entries()).some((e) => e.action === 'privacy-group.removed' && e.target === 'legal')).toBe(true);
    await context.close();
  });

  test('Admin access: "Add admin permission" grants; the gateway\'s refusal is shown in the dialog', async () => {
    const { context, page } = await signIn('alice@contoso.com');
    await page.getByRole('tab', { name: 'Admin access' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add admin permission' });
    // keyboard: the dialog opens with focus inside it and Escape closes it, back on the button
    await page.getByRole('button', { name: 'Add admin permission' }).focus();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Add admin permission');
    await page.getByRole('button', { name: 'Add admin permission' }).click();
    await dialog.getByRole('textbox', { name: 'UPN or email' }).fill('dave@contoso.com');
    // Groups are picked from the catalogue (issue 24)
    await dialog.getByRole('group', { name: 'Groups' }).getByRole('checkbox').first().waitFor();
    expect(await dialog.getByLabel('Expires').count()).toBe(1);
    await shot(page, '06-add-admin-permission');
    expect(await unlabelled(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Add permission' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('cell', { name: 'dave@contoso.com', exact: true }).waitFor();
    const granted = (await entries()).find((e) => e.action === 'reveal-permission.granted' && e.target === 'dave@contoso.com');
    expect(granted).toMatchObject({ principal: 'alice@contoso.com', via: 'console' });
    await shot(page, '05-admin-access');

    // alice for herself: already permitted (409) or, with separation of duties, self_grant (403)
    await page.getByRole('button', { name: 'Add admin permission' }).click();
    await dialog.getByRole('textbox', { name: 'UPN or email' }).fill('alice@contoso.com');
    await dialog.getByRole('button', { name: 'Add permission' }).click();
    const alert = dialog.getByRole('alert');
    await alert.waitFor();
    // in words: already permitted (409) or, with separation of duties, a self grant (403)
    expect(await alert.textContent()).toMatch(/already been done|yourself/);
    expect(await dialog.isVisible()).toBe(true);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    // and not a valid principal at all: the 400 is shown too
    await page.getByRole('button', { name: 'Add admin permission' }).click();
    await dialog.getByRole('textbox', { name: 'UPN or email' }).fill('not an address');
    await dialog.getByRole('button', { name: 'Add permission' }).click();
    expect(await dialog.getByRole('alert').textContent()).toMatch(/UPN or e-mail address/);
    await context.close();
  });

  test('Activity log: "Show private activities" with a reason marks private rows, shows the entry id; the next load is ordinary; governance log verifies and downloads', async () => {
    const { context, page } = await signIn('alice@contoso.com');
    await page.getByRole('tab', { name: 'Activity log' }).click();
    await page.getByRole('button', { name: 'Next page' }).waitFor();
    expect(await page.getByRole('row').filter({ hasText: 'Private' }).count()).toBe(0);
    const before = (await entries()).length;

    await page.getByRole('button', { name: 'Activity log settings' }).click();
    await page.getByRole('menuitem', { name: 'Show private activities' }).click();
    const dialog = page.getByRole('dialog', { name: 'Show private activities' });
    expect(await dialog.textContent()).toMatch(/audited/);
    // Cancel reveals nothing
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await entries()).length).toBe(before);

    await page.getByRole('button', { name: 'Activity log settings' }).click();
    await page.getByRole('menuitem', { name: 'Show private activities' }).click();
    await dialog.getByRole('textbox', { name: 'Reason' }).fill(XSS_REASON);
    await shot(page, '07-show-private-activities');
    expect(await unlabelled(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'OK' }).click();
    const status = page.getByRole('status').filter({ hasText: 'governance log' });
    await status.waitFor();
    const entryId = (await status.locator('code').textContent())!;
    const privateRows = await page.getByRole('row').filter({ hasText: 'Private' }).count();
    expect(privateRows).toBeGreaterThan(0);
    await shot(page, '08-activity-log-private-shown');

    const entry = (await entries()).find((e) => e.id === entryId)!;
    expect(entry).toMatchObject({ action: 'private-activities.viewed', principal: 'alice@contoso.com', via: 'console' });
    expect(entry.privateActivities!.count).toBe(privateRows);
    expect(entry.request!.path).toBe('/api/v1/activities/');
    // the reason is recorded as typed (SPEC §10)
    expect(entry.reason).toBe(XSS_REASON);

    // inside the reveal window a load is another audited reveal with its own entry (issue 24)
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(async () => (await page.getByRole('status').filter({ hasText: 'governance log' }).locator('code').textContent()) !== entryId).toBe(true);
    // after "Hide private activities" the next load is ordinary again, and writes nothing
    await page.getByRole('button', { name: 'Hide private activities' }).click();
    await expect.poll(() => page.getByRole('row').filter({ hasText: 'Private' }).count()).toBe(0);
    const count = (await entries()).length;
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.getByRole('row').filter({ hasText: 'Private' }).count()).toBe(0);
    expect(await page.getByRole('status').filter({ hasText: 'governance log' }).count()).toBe(0);
    expect((await entries()).length).toBe(count);

    await page.getByRole('tab', { name: 'Governance log' }).click();
    await page.getByRole('cell', { name: entryId }).waitFor();
    // HTML in a reason is text, never markup
    await page.getByRole('cell', { name: XSS_REASON, exact: true }).first().waitFor();
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await page.getByRole('button', { name: 'Verify chain' }).click();
    const verified = await stack.gw.governance.verify();
    await page.getByText(`Chain verified: ${verified.count} entries`).waitFor();
    await shot(page, '09-governance-log');
    expect(await unlabelled(page)).toEqual([]);
    // filter by action
    await page.getByLabel('Action').selectOption('reveal-permission.granted');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => page.getByRole('cell', { name: 'private-activities.viewed' }).count()).toBe(0);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = await (await download.createReadStream()).toArray();
    const text = Buffer.concat(csv).toString('utf8');
    expect(text.split(/\r?\n/)[0]).toBe('seq,time,action,principal,via,target,count,reason,requestId,instance,hash');
    expect(text).toContain('reveal-permission.granted');
    expect(text).not.toContain('private-activities.viewed');
    await context.close();
  });

  test('a non-admin is refused with the reason; an admin without the permission finds the action disabled, and a reveal is refused on the record', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    await page.goto(stack.consoleUrl);
    await page.getByRole('link', { name: 'Sign in' }).click();
    const answer = page.waitForResponse((r) => r.url().includes('/console/callback'));
    await page.getByRole('button', { name: 'Sign in as erin@contoso.com' }).click();
    expect((await answer).status()).toBe(403);
    await page.getByRole('heading', { name: 'Not an admin' }).waitFor();
    expect(await page.textContent('body')).toContain('erin@contoso.com');
    expect(await sessionCookie(ctx)).toBeUndefined();
    await shot(page, '10-not-an-admin');
    await ctx.close();

    // dave: an admin (gets a session) without the permission (dave may have been granted by another test: revoke first)
    const { context, page: p2 } = await signIn('dave@contoso.com');
    const csrf = await p2.evaluate(async () => ((await (await fetch('session')).json()) as { csrfToken: string }).csrfToken);
    await api(context, 'privacy/permissions/dave%40contoso.com', { method: 'DELETE', headers: { 'x-csrf-token': csrf } }).catch(() => undefined);
    await p2.getByRole('tab', { name: 'Activity log' }).click();
    await p2.getByRole('button', { name: 'Activity log settings' }).click();
    await expect.poll(() => p2.getByRole('menuitem', { name: 'Show private activities' }).getAttribute('aria-disabled')).toBe('true');
    await p2.getByText(/not on the permission list/).waitFor();
    // the gateway refuses a reveal from the console all the same
    const refused = await p2.evaluate(
      async (t) => (await fetch('activities?limit=5', { headers: { 'x-show-private-activities': 'confirm', 'x-csrf-token': t } })).status,
      csrf,
    );
    expect(refused).toBe(403);
    expect(await p2.getByRole('row').filter({ hasText: 'Private' }).count()).toBe(0);
    // the refusal is on the record, as made from the console (SPEC §10)
    const denied = (await entries()).filter((e) => e.action === 'private-activities.denied' && e.principal === 'dave@contoso.com');
    expect(denied.at(-1)).toMatchObject({ via: 'console', denial: { code: 'reveal_forbidden' } });
    await context.close();
  });

  test('CSP: no inline script runs; a narrow window still shows the console; an expired session is told', async () => {
    const { context, page } = await signIn('alice@contoso.com', { width: 390, height: 844 });
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const ran = await page.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
      const el = document.createElement('div');
      el.innerHTML = '<img src="data:," onerror="window.__inline = 2">';
      document.body.append(el);
      await new Promise((r) => setTimeout(r, 100));
      return (window as unknown as { __inline?: number }).__inline ?? null;
    });
    expect(ran).toBeNull();
    await expect.poll(() => violations.length).toBeGreaterThan(0);
    await page.getByRole('tab', { name: 'Activity log' }).click();
    await page.getByRole('button', { name: 'Next page' }).waitFor();
    // nothing wider than the window but the tables' own scroll areas
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    await shot(page, '11-narrow-activity-log');

    // past sessionTtlMin the console is signed out and says why (this session ends here)
    stack.clock.now += 60 * 60_000 + 1;
    try {
      await page.reload();
      await page.getByRole('link', { name: 'Sign in' }).waitFor();
      expect(await page.getByRole('status').textContent()).toContain('expired');
    } finally {
      stack.clock.now -= 60 * 60_000 + 1;
    }
    await context.close();
  });
});
