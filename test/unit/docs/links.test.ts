/**
 * The documentation's links: every relative link of README.md and docs/*.md names a file
 * of the repository and, with `#anchor`, a heading of it; nothing points outside the
 * repository's own tree (a clone has no ../shared). The stubs other pages replace exist.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/build.js';
import { anchors, DOC_FILES, links, readDoc } from '../../helpers/docs.js';

describe('documentation links', () => {
  it.each(DOC_FILES)('%s: every relative link and anchor resolves inside the repository', (file) => {
    const broken: string[] = [];
    for (const link of links(readDoc(file))) {
      if (/^(https?|mailto):/.test(link)) continue;
      const [target, anchor] = link.split('#') as [string, string | undefined];
      const resolved = target === '' ? path.join(ROOT, file) : path.resolve(path.dirname(path.join(ROOT, file)), decodeURI(target));
      if (!resolved.startsWith(ROOT + path.sep) && resolved !== ROOT) {
        broken.push(`${link}: outside the repository`);
        continue;
      }
      if (!existsSync(resolved)) {
        broken.push(`${link}: no such file`);
        continue;
      }
      if (anchor !== undefined && statSync(resolved).isFile() && resolved.endsWith('.md')) {
        if (!anchors(readDoc(path.relative(ROOT, resolved))).has(anchor)) broken.push(`${link}: no heading #${anchor}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('no page points at the contract outside the repository', () => {
    for (const file of DOC_FILES) expect(readDoc(file), file).not.toMatch(/\.\.\/shared|shared\/SPEC/);
  });

  it('the README links every page of docs/', () => {
    const readme = links(readDoc('README.md'));
    for (const file of DOC_FILES.filter((f) => f.startsWith('docs/'))) expect(readme, file).toContain(file);
  });
});
