/** The product's documentation as tests read it: README.md and docs/*.md, their links and their runnable blocks. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './build.js';

export const DOC_FILES: readonly string[] = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

export const readDoc = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** The text outside fenced blocks (links inside code are examples, not links). */
export function prose(text: string): string {
  return text.replace(/^```[^\n]*\n[\s\S]*?^```[ \t]*$/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

export function anchors(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of prose(text).matchAll(/^#{1,6} (.+)$/gm)) out.add(slug(m[1]));
  return out;
}

/** `[label](target)` links and `<url>` autolinks of the prose. */
export function links(text: string): string[] {
  const p = prose(text).replace(/`[^`\n]*`/g, '');
  return [...p.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

export interface RunnableBlock {
  file: string;
  /** what it runs against: `cli` (the built CLI), `demo`, `demo-approval` */
  kind: string;
  script: string;
}

/** Every fenced block opened with ```sh runnable <kind>, in document order. */
export function runnableBlocks(file: string): RunnableBlock[] {
  return [...readDoc(file).matchAll(/^```sh runnable (\S+)\n([\s\S]*?)^```[ \t]*$/gm)].map((m) => ({ file, kind: m[1], script: m[2] }));
}
