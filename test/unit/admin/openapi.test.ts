/**
 * The OpenAPI description against the admin app itself: every route the express app serves
 * (found by walking its router stack, so a route added anywhere shows up here) is described,
 * every described route is served, the document validates as OpenAPI 3.1
 * (@apidevtools/swagger-parser), request bodies are the handlers' own zod schemas, and
 * docs/openapi.json is the generated document. The console's routes (a browser app and its
 * sign-in, docs/console.md) are not part of the API: the app is built without a console.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminExpressApp } from '../../../src/admin/app.js';
import type { AdminDeps } from '../../../src/admin/deps.js';
import { MOUNTS, openApiDocument, openApiPath, packageVersion } from '../../../src/admin/openapi.js';
import { revealRequestBody } from '../../../src/admin/routes/revealRequests.js';
import { ROOT } from '../../helpers/build.js';

interface Layer {
  rawPath?: string;
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

/** `METHOD /path` for every route of the router stack, mount paths included. */
function served(stack: Layer[], base = ''): string[] {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      for (const p of [layer.route.path].flat())
        for (const [m, on] of Object.entries(layer.route.methods)) if (on && m !== '_all') out.push(`${m.toUpperCase()} ${openApiPath(base + p)}`);
    } else if (layer.handle.stack) {
      out.push(...served(layer.handle.stack, base + (layer.rawPath && layer.rawPath !== '/' ? layer.rawPath : '')));
    }
  }
  return out;
}

const described = (doc: Record<string, unknown>): string[] =>
  Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));

describe('OpenAPI description of the admin API', () => {
  const doc = openApiDocument({ version: packageVersion() });
  const app = adminExpressApp({ console: null } as unknown as AdminDeps) as unknown as { router: { stack: Layer[] } };

  it('describes every route the admin app serves, and only those', () => {
    const routes = served(app.router.stack).sort();
    const desc = described(doc).sort();
    expect(routes.length).toBeGreaterThan(15);
    expect(
      routes.filter((r) => !desc.includes(r)),
      'served but not described (add an entry to the module’s …Operations list)',
    ).toEqual([]);
    expect(
      desc.filter((r) => !routes.includes(r)),
      'described but not served',
    ).toEqual([]);
  });

  it('validates as OpenAPI 3.1', async () => {
    const copy = structuredClone(doc);
    await expect(SwaggerParser.validate(copy as never)).resolves.toBeTruthy();
    expect(doc.openapi).toBe('3.1.0');
    // the validator is not a rubber stamp
    const broken = structuredClone(doc) as { paths: Record<string, unknown> };
    broken.paths['/api/x'] = { get: { responses: 'none' } };
    await expect(SwaggerParser.validate(broken as never)).rejects.toThrow();
  });

  it('takes request bodies from the schemas the handlers validate with', () => {
    const post = (doc.paths as Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>)[
      '/api/reveal-requests'
    ].post;
    const schema = post.requestBody!.content['application/json'].schema;
    expect(schema.required).toEqual(['reason', 'durationMin']);
    expect(schema.additionalProperties).toBe(false);
    const bodies = MOUNTS.flatMap((m) => m.operations).filter((o) => o.body);
    expect(bodies.some((o) => o.body === revealRequestBody)).toBe(true);
    expect(bodies.length).toBeGreaterThanOrEqual(8);
  });

  it('uses the configured admin prefix as the server', () => {
    expect(openApiDocument({ adminPrefix: '/admin', version: '1' }).servers).toEqual([{ url: '/admin' }]);
  });

  it('is what docs/openapi.json holds (npm run build writes it)', async () => {
    const file = JSON.parse(await readFile(path.join(ROOT, 'docs', 'openapi.json'), 'utf8')) as unknown;
    expect(file).toEqual(JSON.parse(JSON.stringify(doc)));
  });
});
