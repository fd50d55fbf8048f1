/**
 * Four-eyes approval in the console (SPEC §11, §13 "Reveal requests"): a permitted admin asks,
 * an approver approves in their own browser session, and the asker's "Show private
 * activities" dialog picks the approved request.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import path from 'node:path';
import { HAVE_CHROMIUM, launchChromium, screenshotDir, warnIfNoChromium } from '../helpers/browser.js';
import { startConsoleStack, type ConsoleStack } from '../helpers/console.js';
import { screen } from '../helpers/screens.js';

const APPROVAL = { approvers: ['dave@contoso.com'], maxDurationMin: 240 };
warnIfNoChromium('the console approval browser test');

describe.skipIf(!HAVE_CHROMIUM)('console: reveal requests (four-eyes approval)', { timeout: 90_000 }, () => {
  let stack: ConsoleStack;
  let browser: Browser;
  beforeAll(async () => {
    stack = await startConsoleStack({ reveal: { approval: APPROVAL } });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function signIn(upn: string): Promise<{ context: BrowserContext; page: Page }> {
    // bypassCSP: axe-core is injected as a script tag for the accessibility scan
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    const page = await context.newPage();
    await page.goto(stack.consoleUrl);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: `Sign in as ${upn}` }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return { context, page };
  }

  test('alice asks, dave approves, alice reveals inside the approved request (via: console, revealRequest recorded)', async () => {
    const alice = await signIn('alice@contoso.com');
    await alice.page.getByRole('tab', { name: 'Reveal requests' }).click();
    await alice.page.getByRole('textbox', { name: 'Reason' }).fill('Case 4711: HR complaint review');
    await alice.page.getByRole('spinbutton', { name: 'Duration (minutes)' }).fill('30');
    await alice.page.getByRole('button', { name: 'Create request' }).click();
    await alice.page.getByRole('cell', { name: 'Case 4711: HR complaint review' }).waitFor();
    // the asker cannot approve their own request: no button for it
    expect(await alice.page.getByRole('button', { name: 'Approve' }).count()).toBe(0);

    const dave = await signIn('dave@contoso.com');
    await dave.page.getByRole('tab', { name: 'Reveal requests' }).click();
    const row = dave.page.getByRole('row').filter({ hasText: 'Case 4711' });
    await row.getByRole('button', { name: 'Approve' }).waitFor();
    await dave.page.screenshot({ path: path.join(screenshotDir(), '12-reveal-requests.png') });
    await row.getByRole('button', { name: 'Approve' }).click();
    // a comment goes with the decision (issue 24)
    const decide = dave.page.getByRole('dialog', { name: 'Approve request' });
    await decide.getByRole('textbox', { name: 'Comment' }).fill('Checked with legal, ok for 30 minutes');
    await screen(dave.page, 'approve-request');
    const sent = dave.page.waitForRequest((r) => r.url().endsWith('/approve'));
    await decide.getByRole('button', { name: 'Approve' }).click();
    expect((await sent).postDataJSON()).toEqual({ comment: 'Checked with legal, ok for 30 minutes' });
    await row.filter({ hasText: 'approved' }).waitFor();
    await screen(dave.page, 'reveal-requests');

    await alice.page.getByRole('tab', { name: 'Activity log' }).click();
    await alice.page.getByRole('button', { name: 'Activity log settings' }).click();
    await alice.page.getByRole('menuitem', { name: 'Show private activities' }).click();
    const dialog = alice.page.getByRole('dialog', { name: 'Show private activities' });
    await dialog.getByRole('combobox', { name: 'Approved request' }).waitFor();
    await alice.page.screenshot({ path: path.join(screenshotDir(), '13-show-private-activities-approved-request.png') });
    await screen(alice.page, 'show-private-activities-approved-request');
    await dialog.getByRole('button', { name: 'OK' }).click();
    const status = alice.page.getByRole('status').filter({ hasText: 'governance log' });
    await status.waitFor();
    // the window is the approved request's: the countdown runs to its end (30 minutes, not revealWindowMin)
    expect(await alice.page.getByRole('timer').textContent()).toMatch(/for (29|30):\d\d more/);
    const entryId = (await status.locator('code').textContent())!;
    const entry = (await stack.gw.governance.read({ afterSeq: 0, limit: 1000 })).entries.find((e) => e.id === entryId) as Record<string, unknown> | undefined;
    expect(entry).toMatchObject({ action: 'private-activities.viewed', principal: 'alice@contoso.com', via: 'console' });
    expect(typeof entry!.revealRequest).toBe('string');

    // dave revokes the window with a comment: alice's next load is refused, her page hides private activities again
    const dave2 = await signIn('dave@contoso.com');
    await dave2.page.getByRole('tab', { name: 'Reveal requests' }).click();
    await dave2.page.getByRole('row').filter({ hasText: 'Case 4711' }).getByRole('button', { name: 'Revoke' }).click();
    const revoke = dave2.page.getByRole('dialog', { name: 'Revoke request' });
    await revoke.getByRole('textbox', { name: 'Comment' }).fill('Investigation closed');
    const revoked = dave2.page.waitForRequest((r) => r.url().endsWith('/revoke'));
    await revoke.getByRole('button', { name: 'Revoke' }).click();
    expect((await revoked).postDataJSON()).toEqual({ comment: 'Investigation closed' });
    await dave2.page.getByRole('row').filter({ hasText: 'revoked' }).waitFor();
    await dave2.context.close();
    await alice.page.getByRole('button', { name: 'Refresh' }).click();
    await alice.page.getByRole('alert').filter({ hasText: 'hidden again' }).waitFor();
    expect(await alice.page.getByRole('timer').count()).toBe(0);
    expect(await alice.page.getByRole('row').filter({ hasText: 'Private' }).count()).toBe(0);
    await alice.context.close();
  });
});
