/**
 * One screen of the console, kept and checked (issue 24): screenshots at 1280 and 390 px
 * (docs/console/<name>-<width>.png with APG_UPDATE_SCREENSHOTS=1), an axe-core scan at both
 * widths with no serious or critical violation, and nothing wider than the window.
 */
import path from 'node:path';
import { expect } from 'vitest';
import type { Page } from 'playwright-core';
import { axeScan } from './axe.js';
import { screenshotDir } from './browser.js';

export const WIDE = { width: 1280, height: 800 };
export const NARROW = { width: 390, height: 844 };

/** Screenshots at 1280 and 390 px, an axe scan at both, and no page-wide horizontal scroll at 390. */
export async function screen(page: Page, name: string): Promise<void> {
  const dir = screenshotDir();
  const before = page.viewportSize() ?? WIDE;
  for (const [label, size] of [
    ['1280', WIDE],
    ['390', NARROW],
  ] as const) {
    await page.setViewportSize(size);
    await page.waitForTimeout(50);
    await page.screenshot({ path: path.join(dir, `${name}-${label}.png`) });
    const serious = await axeScan(page);
    expect(serious, `${name} at ${label} px: axe-core serious/critical violations`).toEqual([]);
    // nothing wider than the window but the tables' own scroll areas (named when it fails)
    const wider = await page.evaluate(() =>
      document.documentElement.scrollWidth <= window.innerWidth + 1
        ? []
        : [...document.querySelectorAll('body *')]
            .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('.table-wrap, .checklist, pre'))
            .map((el) => `${el.tagName.toLowerCase()}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`)
            .slice(0, 8),
    );
    expect(wider, `${name} at ${label} px: elements wider than the window`).toEqual([]);
  }
  await page.setViewportSize(before);
}
