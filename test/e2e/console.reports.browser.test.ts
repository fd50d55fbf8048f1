/**
 * The console's Reports tab in Chromium (SPEC §15): the summary as an accessible SVG bar chart
 * with its table, and the subject report as a printable page with Download CSV. The log is
 * written through the gateway's own sink with the clock injected.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { GovernanceEntryInput } from '../../src/governance/types.js';
import { HAVE_CHROMIUM, launchChromium, screenshotDir, warnIfNoChromium } from '../helpers/browser.js';
import { ensureUiBuilt, PREFIX, startConsoleStack, type ConsoleStack } from '../helpers/console.js';

warnIfNoChromium('the Reports tab browser test');

const viewed = (viewer: string, reason: string, actors: [string, number][], scope?: { groups: string[]; actors: string[] }): GovernanceEntryInput => ({
  action: 'private-activities.viewed',
  principal: viewer,
  via: 'header',
  privateActivities: {
    count: actors.reduce((n, [, c]) => n + c, 0),
    ids: [],
    actors: actors.map(([principal, count]) => ({ principal, count })),
  },
  reason,
  ...(scope ? { scope } : {}),
});

describe.skipIf(!HAVE_CHROMIUM)('console: Reports tab', { timeout: 120_000 }, () => {
  let stack: ConsoleStack;
  let browser: Browser;
  const shots = screenshotDir();
  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    await ensureUiBuilt();
    stack = await startConsoleStack();
    browser = await launchChromium();
    const at = (iso: string) => (stack.clock.now = Date.parse(iso));
    at('2026-10-05T09:00:00Z');
    await stack.gw.governance.append(
      viewed('alice@contoso.com', 'Case 1 <b>bold</b>', [
        ['bob@contoso.com', 3],
        ['carol@contoso.com', 1],
      ]),
    );
    at('2026-11-10T09:00:00Z');
    await stack.gw.governance.append(viewed('alice@contoso.com', 'Case 2 scoped', [['bob@contoso.com', 2]], { groups: [], actors: ['bob@contoso.com'] }));
    at('2026-11-11T09:00:00Z');
    await stack.gw.governance.append(viewed('carl@contoso.com', '=SUM(A1) case 3', [['heidi@contoso.com', 5]]));
    at('2026-11-12T09:00:00Z');
    await stack.gw.governance.append({
      action: 'private-activities.denied',
      principal: 'eve@contoso.com',
      via: 'header',
      denial: { code: 'reveal_forbidden', message: 'no' },
    });
    stack.clock.now = Date.now();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  test('summary chart and table; subject report page, Download CSV, print only the report', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(stack.consoleUrl);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign in as alice@contoso.com' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.getByRole('tab', { name: 'Reports' }).click();

    // the chart: an image with a name and a description saying the numbers, one bar pair per month
    const chart = page.getByRole('img', { name: 'Reveals and activities shown per month' });
    await chart.waitFor();
    expect(await chart.evaluate((el) => el.tagName.toLowerCase())).toBe('svg');
    const desc = await page.locator('#summary-chart-desc').textContent();
    expect(desc).toContain('2026-10: 1 reveals, 4 activities shown');
    expect(desc).toContain('2026-11: 2 reveals, 7 activities shown');
    expect(await chart.locator('rect.reveals').evaluateAll((els) => els.map((e) => e.getAttribute('data-value')))).toEqual(['1', '2']);
    expect(await chart.locator('rect.shown').evaluateAll((els) => els.map((e) => e.getAttribute('data-value')))).toEqual(['4', '7']);
    expect(await page.locator('canvas').count()).toBe(0);
    // the table beside it holds the same numbers
    const nov = page.getByRole('row', { name: /^2026-11/ });
    expect(await nov.getByRole('cell').allTextContents()).toEqual(['2', '1', '7', '0', '0', '0', '0 / 0 / 0 / 0 / 0']);
    expect(
      await page
        .getByRole('row', { name: /^alice@contoso.com/ })
        .getByRole('cell')
        .allTextContents(),
    ).toEqual(['2', '6']);
    await shot(page, 'reports-01-summary');
    // by week: one bar pair per week with events
    await page.getByLabel('Period').selectOption('week');
    await page.getByRole('img', { name: 'Reveals and activities shown per week' }).waitFor();
    expect(await page.locator('rect.reveals').count()).toBe(2);

    // subject report
    const before = (await stack.gw.governance.read({ afterSeq: 0, limit: 1000 })).entries.length;
    await page.getByLabel('UPN').fill('Bob@Contoso.com');
    await page.getByLabel('Reason').fill('Art. 15 request, ticket 4711');
    await page.getByRole('button', { name: 'Create report' }).click();
    const report = page.getByRole('article', { name: 'Who saw the private activities of bob@contoso.com' });
    await report.waitFor();
    const rows = report.getByRole('row');
    expect(await rows.count()).toBe(3);
    expect(await rows.nth(1).getByRole('cell').nth(1).textContent()).toBe('Case 1 <b>bold</b>');
    expect(await rows.nth(1).getByRole('cell').nth(4).textContent()).toBe('3');
    expect(await rows.nth(2).getByRole('cell').nth(2).textContent()).toBe('actor:bob@contoso.com');
    expect(await report.getByRole('columnheader', { name: 'Viewer' }).count()).toBe(0);
    expect(await page.locator('.report-page b').count()).toBe(0);
    const after = (await stack.gw.governance.read({ afterSeq: 0, limit: 1000 })).entries;
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)).toMatchObject({
      action: 'report.created',
      principal: 'alice@contoso.com',
      via: 'console',
      target: 'bob@contoso.com',
      reason: 'Art. 15 request, ticket 4711',
    });

    const [download] = await Promise.all([page.waitForEvent('download'), report.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = await readFile(await download.path(), 'utf8');
    expect(csv.split('\r\n')).toEqual([
      'time,reason,scope,revealRequest,activities',
      '2026-10-05T09:00:00.000Z,Case 1 <b>bold</b>,,,3',
      '2026-11-10T09:00:00.000Z,Case 2 scoped,actor:bob@contoso.com,,2',
      '',
    ]);
    // Download CSV made no second report
    expect((await stack.gw.governance.read({ afterSeq: 0, limit: 1000 })).entries.length).toBe(before + 1);
    await shot(page, 'reports-02-subject');

    // print: only the report is visible, without its buttons
    await page.emulateMedia({ media: 'print' });
    expect(await page.getByRole('tab', { name: 'Reports' }).isVisible()).toBe(false);
    expect(await page.getByRole('img', { name: /Reveals and activities shown/ }).isVisible()).toBe(false);
    expect(await report.getByRole('heading', { name: /Who saw/ }).isVisible()).toBe(true);
    expect(await report.getByRole('button', { name: 'Download CSV' }).isVisible()).toBe(false);
    await page.pdf({ path: path.join(shots, 'reports-03-print.pdf') });
    await page.emulateMedia({ media: 'screen' });

    // viewers when asked; a missing reason is refused with the gateway's message
    await page.getByLabel('Include viewers').check();
    await page.getByRole('button', { name: 'Create report' }).click();
    await report.getByRole('columnheader', { name: 'Viewer' }).waitFor();
    await page.getByLabel('Reason').fill('   ');
    await page.getByLabel('Reason').evaluate((el) => el.removeAttribute('required'));
    await page.getByLabel('Reason').evaluate((el) => el.removeAttribute('minlength'));
    await page.getByRole('button', { name: 'Create report' }).click();
    await page.getByText(/Give a reason/).waitFor();
    await context.close();
  });

  test('the reports API needs an admin: no session, no token, 401', async () => {
    const r = await fetch(`${stack.gw.url}${PREFIX}/api/reports/summary`);
    expect(r.status).toBe(401);
  });
});
