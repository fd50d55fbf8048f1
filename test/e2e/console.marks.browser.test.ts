/**
 * SPEC §13 v3: rows marked "Private" are exactly the activities the reveal's governance entry
 * lists — never a guess from comparing two loads. The upstream here changes between any two
 * requests (new public activities arrive in front, as in production), which made the old
 * two-load comparison mark public rows "Private".
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { HAVE_CHROMIUM, launchChromium, warnIfNoChromium } from '../helpers/browser.js';
import { PREFIX, startConsoleStack, type ConsoleStack } from '../helpers/console.js';

warnIfNoChromium('the console Private-marks browser test');

describe.skipIf(!HAVE_CHROMIUM)('console marks from the governance entry', { timeout: 90_000 }, () => {
  let stack: ConsoleStack;
  let browser: Browser;
  const upstream = { t: Date.now() };

  beforeAll(async () => {
    stack = await startConsoleStack({}, {}, { live: { perSecond: 1, seed: 11, now: () => upstream.t } });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  test("a live upstream: the marked rows are the entry's ids, the banner count is the entry's count", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(stack.consoleUrl);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign in as alice@contoso.com' }).click();
    await page.waitForURL((u) => u.pathname.startsWith(`${PREFIX}/console/`) && !u.pathname.endsWith('/callback'));
    await page.getByRole('tab', { name: 'Activity log' }).click();
    await page.getByRole('button', { name: 'Next page' }).waitFor();
    // from now on, four new activities reach the upstream before every activity-log call
    await page.route('**/console/activities**', async (route) => {
      upstream.t += 4000;
      await route.continue();
    });
    await page.getByRole('button', { name: 'Activity log settings' }).click();
    await page.getByRole('menuitem', { name: 'Show private activities' }).click();
    const dialog = page.getByRole('dialog', { name: 'Show private activities' });
    await dialog.getByRole('textbox', { name: 'Reason' }).fill('Case 4711: marks test');
    await dialog.getByRole('button', { name: 'OK' }).click();
    const status = page.getByRole('status').filter({ hasText: 'governance log' });
    await status.waitFor();
    const entryId = (await status.locator('code').textContent())!;
    const entry = (await stack.gw.governance.read({ afterSeq: 0, limit: 1000 })).entries.find((e) => e.id === entryId)!;
    expect(entry.action).toBe('private-activities.viewed');
    const marked = await page.getByRole('row').filter({ hasText: 'Private' }).count();
    expect(marked).toBe(entry.privateActivities!.count);
    expect(await status.textContent()).toContain(`(${entry.privateActivities!.count})`);
    // the page holds fresh public activities that the entry does not list: none of them is marked
    const fresh = (stack.api.dataset.slice(0, 8) as Array<{ _id: string }>).map((a) => a._id);
    const freshPublic = fresh.filter((id) => !entry.privateActivities!.ids.includes(id));
    expect(freshPublic.length).toBeGreaterThan(0);
    await context.close();
  });
});
