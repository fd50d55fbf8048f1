/** SPEC §14: check-config requires the key when a group pseudonymises and reports a bad key by its key path. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkConfigText } from '../../../src/config/check.js';

const dir = mkdtempSync(path.join(tmpdir(), 'apg-pzcheck-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lines = (ps: ReadonlyArray<{ path: string; message: string }>) => ps.map((p) => `${p.path}: ${p.message}`);
const base = [
  'upstream:',
  '  url: http://127.0.0.1:8081',
  `state: {file: ${path.join(dir, 'state.json')}}`,
  `governance: {file: ${path.join(dir, 'gov.jsonl')}}`,
  'privacy:',
  '  groups:',
  '    - {id: staff, privateSince: "2026-01-01T00:00:00Z", mode: pseudonymise}',
];

describe('check-config and pseudonym keys', () => {
  it('a pseudonymising group without a key', () => {
    expect(lines(checkConfigText(base.join('\n'), {}).problems)).toEqual(['pseudonyms.keyFile: required: privacy.groups.0 pseudonymises']);
  });

  it('an unreadable key and a short key, by key path; good keys (raw and base64) pass', () => {
    const good = path.join(dir, 'good.key');
    const raw = path.join(dir, 'raw.key');
    const short = path.join(dir, 'short.key');
    writeFileSync(good, Buffer.alloc(32, 9).toString('base64') + '\n');
    writeFileSync(raw, Buffer.alloc(32, 1));
    writeFileSync(short, Buffer.alloc(16, 1).toString('base64'));
    const missing = path.join(dir, 'missing.key');
    const r = checkConfigText([...base, 'pseudonyms:', `  keyFile: ${missing}`, `  previousKeyFiles: [${good}, ${short}]`].join('\n'), {});
    expect(lines(r.problems)).toEqual([
      `pseudonyms.keyFile: cannot read ${missing} (ENOENT)`,
      `pseudonyms.previousKeyFiles.1: ${short} does not hold a 32-byte key (raw or base64); it holds 24 bytes`,
    ]);
    expect(checkConfigText([...base, 'pseudonyms:', `  keyFile: ${raw}`, `  previousKeyFiles: [${good}]`].join('\n'), {}).problems).toEqual([]);
  });
});
