/**
 * Issue 24, the console as an investigator uses it all day (SPEC §13 v3), in Chromium through
 * the real OIDC provider: the reveal window over several pages (each load its own entry), the
 * disabled "Show private activities" with its reason, the filters User/From/To reaching the
 * upstream, the activity details, Entry details and filters kept in the URL, human error
 * messages, the catalogue picker for permission groups, layout at 1280 and 390 px, honest
 * paging text. Every screen is photographed at both widths (docs/console/ with
 * APG_UPDATE_SCREENSHOTS=1) and scanned with axe-core: no serious or critical violation.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { NARROW, screen, WIDE } from '../helpers/screens.js';
import { HAVE_CHROMIUM, launchChromium, warnIfNoChromium } from '../helpers/browser.js';
import { ensureUiBuilt, startConsoleStack, type ConsoleStack } from '../helpers/console.js';

warnIfNoChromium('the console investigator browser tests');

describe.skipIf(!HAVE_CHROMIUM)('console for investigators (issue 24)', { timeout: 120_000 }, () => {
  let stack: ConsoleStack;
  let browser: Browser;

  beforeAll(async () => {
    await ensureUiBuilt();
    stack = await startConsoleStack({}, { revealWindowMin: 10, filters: { user: 'user', since: 'since', until: 'until' } });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function signIn(upn: string, viewport = WIDE): Promise<{ context: BrowserContext; page: Page }> {
    // bypassCSP only so that axe-core can be injected as a script tag (the console's own CSP is tested in console.browser.test.ts)
    const context = await browser.newContext({ viewport, bypassCSP: true });
    const page = await context.newPage();
    await page.clock.install();
    await page.goto(stack.consoleUrl);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: `Sign in as ${upn}` }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return { context, page };
  }
  const entries = async () => (await stack.gw.governance.read({ afterSeq: 0, limit: 5000 })).entries;
  const viewedIds = async (page: Page) => {
    const status = page.getByRole('status').filter({ hasText: 'governance log' });
    await status.waitFor();
    return (await status.locator('code').textContent())!;
  };
  const markedIds = (page: Page) => page.getByRole('row').filter({ hasText: 'Private' }).locator('td code').allTextContents();

  async function openReveal(page: Page, reason: string) {
    await page.getByRole('button', { name: 'Activity log settings' }).click();
    await page.getByRole('menuitem', { name: 'Show private activities' }).click();
    const dialog = page.getByRole('dialog', { name: 'Show private activities' });
    await dialog.getByRole('textbox', { name: 'Reason' }).fill(reason);
    return dialog;
  }

  test('the reveal window: one OK, three pages, three audited reveals with their own entries and marks; Hide; the window ends by itself', async () => {
    const { context, page } = await signIn('alice@contoso.com');
    await page.getByRole('tab', { name: 'Activity log' }).click();
    await page.getByRole('button', { name: 'Next page' }).waitFor();
    await screen(page, 'activity-log');
    const dialog = await openReveal(page, 'Case 4711: three pages');
    expect(await dialog.textContent()).toMatch(/10 minutes/);
    await screen(page, 'show-private-activities');
    await dialog.getByRole('button', { name: 'OK' }).click();

    const window: Array<{ page: number; entry: string; seq: number; count: number; skip: string | null; marked: number }> = [];
    for (let n = 1; n <= 3; n++) {
      if (n > 1) {
        const before = await viewedIds(page);
        await page.getByRole('button', { name: 'Next page' }).click();
        await expect.poll(() => viewedIds(page)).not.toBe(before);
      }
      const id = await viewedIds(page);
      await page.getByRole('timer').waitFor();
      const entry = (await entries()).find((e) => e.id === id)!;
      expect(entry).toMatchObject({ action: 'private-activities.viewed', principal: 'alice@contoso.com', via: 'console', reason: 'Case 4711: three pages' });
      // the marks on this page are exactly this page's entry's ids
      const marked = await markedIds(page);
      expect(marked.sort()).toEqual([...entry.privateActivities!.ids].sort());
      expect(await page.getByText(`Page ${n}:`).count()).toBe(1);
      const req = entry.request as { query?: string } | undefined;
      window.push({ page: n, entry: id, seq: entry.seq, count: entry.privateActivities!.count, skip: req?.query ?? null, marked: marked.length });
      if (n === 1) await screen(page, 'activity-log-private-shown');
    }
    expect(new Set(window.map((w) => w.entry)).size).toBe(3);
    expect(window.reduce((s, w) => s + w.count, 0)).toBeGreaterThan(0);
    console.log('reveal window of three pages:', JSON.stringify(window, null, 1));

    // the countdown is visible and counts down
    const timer = page.getByRole('timer');
    expect(await timer.textContent()).toMatch(/shown for \d+:\d\d more/);

    // Hide private activities: the page is ordinary again and nothing more is written
    await page.getByRole('button', { name: 'Hide private activities' }).click();
    await expect.poll(() => page.getByRole('row').filter({ hasText: 'Private' }).count()).toBe(0);
    const count = (await entries()).length;
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByText('Page 2:').waitFor();
    expect(await page.getByRole('timer').count()).toBe(0);
    expect((await entries()).length).toBe(count);

    // a new window ends by itself after console.revealWindowMin
    await (await openReveal(page, 'Case 4711: the window ends')).getByRole('button', { name: 'OK' }).click();
    await viewedIds(page);
    await page.clock.fastForward('10:02');
    await page.getByRole('timer').waitFor({ state: 'detached' });
    await expect.poll(() => page.getByRole('row').filter({ hasText: 'Private' }).count()).toBe(0);
    const after = (await entries()).length;
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByText('Page 2:').waitFor();
    expect((await entries()).length).toBe(after);
    await context.close();
  });

  test('keyboard only: menu, dialog, OK; focus stays in the dialog and comes back; the window outlives a tab switch', async () => {
    const { context, page } = await signIn('alice@contoso.com');
    await page.getByRole('tab', { name: 'Activity log' }).click();
    await page.getByRole('button', { name: 'Next page' }).waitFor();
    const settings = page.getByRole('button', { name: 'Activity log settings' });
    await settings.focus();
    await page.keyboard.press('Enter');
    // focus moves into the menu, on its first item
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('menuitem');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Activity log settings');
    const inMenu = () => expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('menuitem');
    await page.keyboard.press('Enter');
    await inMenu();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Show private activities' });
    await dialog.waitFor();
    // focus starts in the dialog, on the Reason box, and Tab does not leave the dialog
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('TEXTAREA');
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Activity log settings');
    // again, and confirm with the keyboard alone
    await page.keyboard.press('Enter');
    await inMenu();
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.type('Case 4711: keyboard only');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    const first = await viewedIds(page);
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Activity log settings');
    // another tab and back: the window is still open, and the load back is its own reveal
    await page.getByRole('tab', { name: 'Governance log' }).click();
    await page.getByRole('tab', { name: 'Activity log' }).click();
    await page.getByRole('timer').waitFor();
    await expect.poll(() => viewedIds(page)).not.toBe(first);
    // Hide by keyboard: focus goes back to the settings button
    await page.getByRole('button', { name: 'Hide private activities' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('timer').waitFor({ state: 'detached' });
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Activity log settings');
    await context.close();
  });

  test('an admin without the permission sees "Show private activities" disabled, saying why; the gateway still refuses and records it', async () => {
    const { context, page } = await signIn('dave@contoso.com');
    await page.getByRole('tab', { name: 'Activity log' }).click();
    await page.getByRole('button', { name: 'Next page' }).waitFor();
    await page.getByRole('button', { name: 'Activity log settings' }).click();
    const item = page.getByRole('menuitem', { name: 'Show private activities' });
    await expect.poll(() => item.getAttribute('aria-disabled')).toBe('true');
    expect(await item.isDisabled()).toBe(true);
    await page.getByText(/not on the permission list/).waitFor();
    await screen(page, 'show-private-activities-disabled');
    await item.click({ force: true });
    expect(await page.getByRole('dialog', { name: 'Show private activities' }).count()).toBe(0);
    await context.close();
  });

  test('filters User, From, To reach the upstream by the configured names; an activity opens its details with the record and the mark', async () => {
    const { context, page } = await signIn('alice@contoso.com');
    await page.getByRole('tab', { name: 'Activity log' }).click();
    await page.getByRole('button', { name: 'Next page' }).waitFor();
    // a user whose activities are public: the first one shown on page 1
    const someone = (await page.locator('table.activities td.user').allTextContents()).find((u) => u.endsWith('@contoso.com'))!;
    const form = page.getByRole('form', { name: 'Activity filters' });
    await form.getByRole('textbox', { name: 'User' }).fill(someone);
    await form.getByLabel('From').fill('2020-01-01T00:00');
    await form.getByLabel('To').fill('2030-01-01T00:00');
    const seen = stack.api.requests.length;
    await form.getByRole('button', { name: 'Apply filters' }).click();
    const asked = () => stack.api.requests.slice(seen).find((r) => new URL(r.url, 'http://x').searchParams.get('user') === someone);
    await expect.poll(() => asked() !== undefined).toBe(true);
    const sent = new URL(asked()!.url, 'http://x');
    expect(Date.parse(sent.searchParams.get('since')!)).toBe(new Date('2020-01-01T00:00').getTime());
    expect(Date.parse(sent.searchParams.get('until')!)).toBe(new Date('2030-01-01T00:00').getTime());
    const users = page.locator('table.activities td.user');
    await expect.poll(async () => new Set((await users.allTextContents()).map((u) => u.toLowerCase()))).toEqual(new Set([someone.toLowerCase()]));

    // bob is in a private group: nothing without a reveal, his activities marked Private with one
    await form.getByRole('textbox', { name: 'User' }).fill('bob@contoso.com');
    await form.getByLabel('From').fill('');
    await form.getByLabel('To').fill('');
    await form.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('Page 1: 0 activities shown').waitFor();
    await (await openReveal(page, 'Case 4711: bob only')).getByRole('button', { name: 'OK' }).click();
    const entryId = await viewedIds(page);
    const rows = page.getByRole('row').filter({ hasText: 'Private' });
    await expect.poll(() => rows.count()).toBeGreaterThan(0);
    const first = (await rows.first().locator('td code').textContent())!;
    await rows
      .first()
      .getByRole('button', { name: `Details of activity ${first}` })
      .click();
    const details = page.getByRole('dialog', { name: 'Activity details' });
    await details.waitFor();
    expect(await details.textContent()).toContain(entryId);
    const json = (await details.locator('pre').textContent())!;
    expect(JSON.parse(json)).toMatchObject({ _id: first, user: { userName: 'bob@contoso.com' } });
    expect(json).toContain('\n  "'); // pretty-printed
    await screen(page, 'activity-details');
    await details.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('button', { name: 'Hide private activities' }).click();
    await context.close();
  });

  test('Governance log: Entry details show every field; the filters and the open entry live in the URL', async () => {
    const { context, page } = await signIn('alice@contoso.com');
    await page.getByRole('tab', { name: 'Governance log' }).click();
    await page.getByRole('button', { name: 'Verify chain' }).waitFor();
    await page.getByLabel('Action').selectOption('private-activities.viewed');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('action')).toBe('private-activities.viewed');
    await screen(page, 'governance-log');
    const viewed = (await entries()).filter((e) => e.action === 'private-activities.viewed').at(-1)!;
    await page.getByRole('button', { name: `Entry details of entry ${viewed.seq}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Entry details' });
    await dialog.waitFor();
    const terms = await dialog.locator('dt').allTextContents();
    expect(terms).toEqual(Object.keys(viewed));
    for (const field of ['scope', 'privateActivities', 'request', 'token', 'hash', 'prevHash', 'id']) if (field in viewed) expect(terms).toContain(field);
    expect(await dialog.textContent()).toContain(viewed.privateActivities!.ids[0] ?? viewed.id);
    await screen(page, 'entry-details');
    expect(new URL(page.url()).searchParams.get('entry')).toBe(String(viewed.seq));

    // the link opens the same view in a new page: filter applied, entry open
    const link = page.url();
    await dialog.getByRole('button', { name: 'Close' }).click();
    const other = await context.newPage();
    await other.goto(link);
    await other.getByRole('dialog', { name: 'Entry details' }).waitFor();
    expect(await other.getByLabel('Action').inputValue()).toBe('private-activities.viewed');
    await other.getByRole('dialog', { name: 'Entry details' }).getByRole('button', { name: 'Close' }).click();
    expect(await other.getByRole('cell', { name: 'reveal-permission.granted' }).count()).toBe(0);
    await context.close();
  });

  test('Add admin permission: Groups from the catalogue; errors in words, never the raw API text', async () => {
    const { context, page } = await signIn('alice@contoso.com');
    await page.getByRole('tab', { name: 'Admin access' }).click();
    await screen(page, 'admin-access');
    await page.getByRole('button', { name: 'Add admin permission' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add admin permission' });
    await dialog.getByRole('textbox', { name: 'UPN or email' }).fill('not an address');
    const groups = dialog.getByRole('group', { name: 'Groups' });
    await groups
      .getByRole('checkbox', { name: /Human Resources|hr/ })
      .first()
      .check();
    await screen(page, 'add-admin-permission');
    await dialog.getByRole('button', { name: 'Add permission' }).click();
    const alert = dialog.getByRole('alert');
    await alert.waitFor();
    const said = (await alert.textContent())!;
    expect(said).toMatch(/UPN or e-mail address/);
    expect(said).not.toMatch(/Expected|bad_request|\{/);
    await screen(page, 'add-admin-permission-error');

    // self grant: a sentence about it
    await dialog.getByRole('textbox', { name: 'UPN or email' }).fill('alice@contoso.com');
    await dialog.getByRole('button', { name: 'Add permission' }).click();
    await expect.poll(() => alert.textContent()).toMatch(/yourself|already/);

    await dialog.getByRole('textbox', { name: 'UPN or email' }).fill('dave@contoso.com');
    await dialog.getByRole('button', { name: 'Add permission' }).click();
    await dialog.waitFor({ state: 'detached' });
    const granted = (await entries()).filter((e) => e.action === 'reveal-permission.granted' && e.target === 'dave@contoso.com').at(-1) as
      { permission?: { groups?: string[] } } | undefined;
    expect(granted?.permission?.groups).toEqual(['hr']);
    // dave may now reveal: the menu item is enabled for him
    const d = await signIn('dave@contoso.com');
    await d.page.getByRole('tab', { name: 'Activity log' }).click();
    await d.page.getByRole('button', { name: 'Activity log settings' }).click();
    await expect.poll(() => d.page.getByRole('menuitem', { name: 'Show private activities' }).getAttribute('aria-disabled')).toBeNull();
    await d.context.close();
    const csrf = await page.evaluate(async () => ((await (await fetch('session')).json()) as { csrfToken: string }).csrfToken);
    await page.evaluate((t) => fetch('../api/privacy/permissions/dave%40contoso.com', { method: 'DELETE', headers: { 'x-csrf-token': t } }), csrf);
    await context.close();
  });

  test('every screen at 390 px: sign-in, Activity privacy and its dialog; the Privacy column is in view at 1280 px', async () => {
    const ctx = await browser.newContext({ viewport: WIDE, bypassCSP: true });
    const p = await ctx.newPage();
    await p.goto(stack.consoleUrl);
    await p.getByRole('link', { name: 'Sign in' }).waitFor();
    await screen(p, 'sign-in');
    await ctx.close();

    const { context, page } = await signIn('alice@contoso.com');
    await page.getByRole('heading', { name: 'Private user groups' }).waitFor();
    await page.getByRole('cell', { name: 'Human Resources', exact: true }).waitFor();
    await screen(page, 'activity-privacy');
    await page.getByRole('button', { name: 'Add user groups' }).click();
    await page.getByRole('dialog', { name: 'Add user groups' }).getByRole('checkbox').first().waitFor();
    await screen(page, 'add-user-groups');
    await page.keyboard.press('Escape');

    await page.getByRole('tab', { name: 'Activity log' }).click();
    await page.getByRole('button', { name: 'Next page' }).waitFor();
    for (const size of [WIDE, NARROW]) {
      await page.setViewportSize(size);
      // the first column and the Privacy column are inside the window without scrolling
      const boxes = await page.evaluate(() =>
        ['Time', 'Privacy'].map((name) => {
          const th = [...document.querySelectorAll('table.activities th')].find((h) => h.textContent === name)!;
          const r = th.getBoundingClientRect();
          return { name, left: r.left, right: r.right };
        }),
      );
      for (const b of boxes) expect(b.right, `${b.name} at ${size.width} px`).toBeLessThanOrEqual(size.width);
    }
    // at 1280 px the whole activities table fits
    await page.setViewportSize(WIDE);
    expect(await page.evaluate(() => document.querySelector('table.activities')!.getBoundingClientRect().right <= window.innerWidth)).toBe(true);
    await context.close();
  });
});
