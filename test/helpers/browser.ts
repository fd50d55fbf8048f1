/**
 * Debian's chromium driven by playwright-core (no browser download). Missing chromium: the
 * suites say so loudly and skip.
 */
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './build.js';

export const CHROMIUM = process.env.APG_CHROMIUM ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

export function warnIfNoChromium(what: string): void {
  if (!HAVE_CHROMIUM) {
    console.warn(`\n⚠⚠⚠ chromium not installed (${CHROMIUM}): ${what} SKIPPED. Install it: apt-get install chromium ⚠⚠⚠\n`);
  }
}

/** Headless, no sandbox (root in CI), nothing fetched from the network by the browser itself; a fresh profile each launch. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
    ],
  });
}

/**
 * Where screenshots go: docs/console/ with APG_UPDATE_SCREENSHOTS=1 (the committed ones shown
 * in the README), else a temp folder, so an ordinary run leaves the work tree alone.
 */
export function screenshotDir(): string {
  const dir = process.env.APG_UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs', 'console') : path.join(os.tmpdir(), 'apg-console-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
