/**
 * Accessibility scans with axe-core: its source injected into the page (page.addScriptTag
 * with the file's content; the context needs `bypassCSP`, the console's CSP allows no inline
 * script) and axe.run over the whole document. Only serious and critical violations count.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeFinding {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** The serious and critical violations on the page as it is now (WCAG 2.x A/AA rules and best practices). */
export async function axeScan(page: Page): Promise<AxeFinding[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE_SOURCE });
  const found = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: Array<Record<string, unknown>> }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: String(v.id),
      impact: (v.impact as string | null) ?? null,
      help: String(v.help),
      nodes: (v.nodes as Array<{ target: string[] }>).slice(0, 5).map((n) => n.target.join(' ')),
    }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
