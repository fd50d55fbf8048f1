/**
 * SPEC §14 in the console: "Add user groups" offers hide or pseudonymise; in the Activity log a
 * pseudonym is a button that opens "Resolve pseudonym", which asks for the reason and shows the
 * principal and the governance entry's id.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { HAVE_CHROMIUM, launchChromium, warnIfNoChromium } from '../helpers/browser.js';
import { ensureUiBuilt, PREFIX, startConsoleStack, type ConsoleStack } from '../helpers/console.js';

warnIfNoChromium('2 console pseudonym browser tests');

describe.skipIf(!HAVE_CHROMIUM)('pseudonyms in the admin console', { timeout: 90_000 }, () => {
  let stack: ConsoleStack;
  let browser: Browser;

  beforeAll(async () => {
    await ensureUiBuilt();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'apg-pzui-'));
    const keyFile = path.join(dir, 'k');
    await writeFile(keyFile, Buffer.alloc(32, 6).toString('base64'));
    stack = await startConsoleStack({
      pseudonyms: { keyFile },
      privacy: {
        managedDomains: ['contoso.com'],
        // every hr member's activity from 2000 on is pseudonymised
        groups: [{ id: 'hr', name: 'Human Resources', privateSince: '2000-01-01T00:00:00Z', mode: 'pseudonymise' }],
        permissions: ['alice@contoso.com'],
      },
    });
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function signIn(upn: string): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(stack.consoleUrl);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: `Sign in as ${upn}` }).click();
    await page.waitForURL((u) => u.pathname.startsWith(`${PREFIX}/console/`) && !u.pathname.endsWith('/callback'));
    return page;
  }
  const entries = async () => (await stack.gw.governance.read({ afterSeq: 0, limit: 1000 })).entries;

  test('Activity log: a pseudonym opens "Resolve pseudonym"; the reason is asked, the principal and the entry id shown', async () => {
    const page = await signIn('alice@contoso.com');
    await page.getByRole('tab', { name: 'Activity log' }).click();
    await page.getByRole('button', { name: 'Next page' }).waitFor();
    const pseudonym = page.getByRole('button', { name: /^p-[a-z2-7]+@pseudonym\.invalid$/ }).first();
    for (let i = 0; i < 30 && (await pseudonym.count()) === 0; i++) await page.getByRole('button', { name: 'Next page' }).click();
    const text = (await pseudonym.textContent())!;
    await pseudonym.click();
    const dialog = page.getByRole('dialog', { name: 'Resolve pseudonym' });
    expect(await dialog.textContent()).toMatch(/audited/);
    await dialog.getByRole('textbox', { name: 'Reason' }).fill('incident 4711, works council informed');
    await dialog.getByRole('button', { name: 'Resolve' }).click();
    await dialog.getByText(/Recorded in the governance log/).waitFor();
    const principal = (await dialog.locator('strong').last().textContent())!;
    expect(['bob@contoso.com', 'carol@contoso.com']).toContain(principal);
    const entryId = (await dialog.locator('p.hint code').textContent())!;
    const entry = (await entries()).find((e) => e.id === entryId)!;
    expect(entry).toMatchObject({ action: 'pseudonym.resolved', target: text, principal: 'alice@contoso.com', via: 'console' });
  });

  test('"Add user groups" offers hide or pseudonymise; the list shows the mode', async () => {
    const page = await signIn('alice@contoso.com');
    await page.getByRole('tab', { name: 'Activity privacy' }).click();
    await page.getByRole('button', { name: 'Add user groups' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add user groups' });
    await dialog.getByRole('searchbox', { name: 'Search groups' }).fill('leg');
    await dialog.getByRole('checkbox', { name: /legal/i }).check();
    await dialog.getByRole('radio', { name: /Pseudonymise/ }).check();
    await dialog.getByRole('button', { name: 'Add' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('row').filter({ hasText: 'legal' }).filter({ hasText: 'Pseudonymise' }).first().waitFor();
    const added = (await entries()).find((e) => e.action === 'privacy-group.added' && e.target === 'legal')!;
    expect(added).toMatchObject({ mode: 'pseudonymise', via: 'console' });
  });
});
