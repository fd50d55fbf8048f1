/**
 * docs/configuration.md lists every key the configuration schema knows (src/config/schema.ts),
 * found by walking the schema's JSON Schema, so a key added to the schema fails here until
 * it is documented.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { configSchema } from '../../../src/config/schema.js';
import { readDoc } from '../../helpers/docs.js';

type Json = { type?: string; properties?: Record<string, Json>; anyOf?: Json[]; items?: Json };

/** Every key path: `server.port`, `governance.forward[].url`, ... */
function keyPaths(s: Json | undefined, prefix = ''): string[] {
  if (!s) return [];
  const out: string[] = [];
  const variants = s.anyOf ?? [s];
  for (const v of variants) {
    if (v.type === 'array' && v.items) out.push(...keyPaths(v.items, `${prefix}[]`));
    for (const [k, child] of Object.entries(v.properties ?? {})) {
      const p = prefix === '' ? k : `${prefix}.${k}`;
      out.push(p, ...keyPaths(child, p));
    }
  }
  return [...new Set(out)];
}

describe('docs/configuration.md', () => {
  it('lists every key of the configuration schema', () => {
    const keys = keyPaths(z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Json);
    expect(keys.length).toBeGreaterThan(100);
    const doc = readDoc('docs/configuration.md');
    expect(keys.filter((k) => !doc.includes(`\`${k}\``))).toEqual([]);
  });
});
