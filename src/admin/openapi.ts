/**
 * The OpenAPI 3.1 description of the admin API, generated from the route modules' own
 * `…Operations` lists: each request body's schema is the zod schema its handler validates
 * with (`z.toJSONSchema`), so the description cannot drift from what is accepted. Answers
 * are described more loosely (a sentence a status). Served at `{adminPrefix}/api/openapi.json`
 * (admin token, like every `api/` route) and written to docs/openapi.json by `npm run build`.
 * A route is described by one entry next to its schema, and its module's list is named
 * once in MOUNTS below; test/unit/admin/openapi.test.ts fails for a route the app serves
 * that is not described, and for a description of a route the app does not serve.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ApiOperation, ApiParameter } from './operations.js';
import { changeOperations } from './routes/changes.js';
import { directoryOperations } from './routes/directory.js';
import { governanceOperations } from './routes/governance.js';
import { groupOperations } from './routes/groups.js';
import { healthOperations } from './routes/health.js';
import { permissionOperations } from './routes/permissions.js';
import { pseudonymOperations } from './routes/pseudonyms.js';
import { reportOperations } from './routes/reports.js';
import { revealRequestOperations } from './routes/revealRequests.js';

/** This document's own route. */
export const openApiOperations: ApiOperation[] = [
  { method: 'get', path: '/openapi.json', summary: 'This description of the admin API (OpenAPI 3.1)', responses: { 200: 'the OpenAPI document' } },
];

/** Where each list of operations is mounted in the admin app (src/admin/app.ts). */
export const MOUNTS: readonly { base: string; operations: readonly ApiOperation[] }[] = [
  { base: '', operations: healthOperations },
  {
    base: '/api',
    operations: [
      ...groupOperations,
      ...permissionOperations,
      ...changeOperations,
      ...directoryOperations,
      ...governanceOperations,
      ...revealRequestOperations,
      ...reportOperations,
      ...pseudonymOperations,
      ...openApiOperations,
    ],
  },
];

export const DEFAULT_ADMIN_PREFIX = '/_gateway';

/** `/privacy/groups/:id` → `/privacy/groups/{id}` */
export const openApiPath = (expressPath: string): string => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The JSON Schema (2020-12, as OpenAPI 3.1 uses) of what a body schema accepts. */
function bodySchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return json;
}

function parameters(op: ApiOperation): Record<string, unknown>[] {
  const inPath = [...op.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m): ApiParameter => ({ name: m[1], in: 'path', description: `the ${m[1]}`, required: true }));
  return [...inPath, ...(op.query ?? [])].map((p) => ({
    name: p.name,
    in: p.in,
    description: p.description,
    required: p.required ?? false,
    schema: p.repeats ? { type: 'array', items: p.schema ?? { type: 'string' } } : (p.schema ?? { type: 'string' }),
    ...(p.repeats ? { style: 'form', explode: true } : {}),
  }));
}

function responses(op: ApiOperation): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [status, description] of Object.entries(op.responses)) {
    const code = Number(status);
    if (code === 204) out[status] = { description };
    else if (code < 300) out[status] = { description, content: Object.fromEntries((op.content ?? ['application/json']).map((t) => [t, {}])) };
    else out[status] = { $ref: `#/components/responses/E${status}`, description };
  }
  if (!op.public) {
    out['401'] ??= { $ref: '#/components/responses/E401' };
    out['403'] ??= { $ref: '#/components/responses/E403' };
  }
  return out;
}

function operation(op: ApiOperation): Record<string, unknown> {
  const params = parameters(op);
  return {
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(params.length > 0 ? { parameters: params } : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: bodySchema(op.body) } } } } : {}),
    responses: responses(op),
    ...(op.public ? { security: [] } : {}),
  };
}

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' }, details: { type: 'object' } },
    },
  },
};

function components(): Record<string, unknown> {
  const statuses = new Set<string>(['401', '403']);
  for (const m of MOUNTS) for (const op of m.operations) for (const s of Object.keys(op.responses)) if (Number(s) >= 400) statuses.add(s);
  const errorResponse = { description: 'an error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  return {
    schemas: { Error: ERROR_SCHEMA },
    responses: Object.fromEntries([...statuses].sort().map((s) => [`E${s}`, errorResponse])),
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'a token the identity section verifies, of a principal with an admin role' },
      consoleSession: { type: 'apiKey', in: 'cookie', name: 'apg_session', description: "the console's session; changes also need X-CSRF-Token" },
    },
  };
}

/** The package's version (package.json beside dist/ and src/), read once. */
let version: string | undefined;
export function packageVersion(): string {
  try {
    version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    version = '0.0.0';
  }
  return version;
}

/** The whole document, for the given admin prefix (the server URL) and version. */
export function openApiDocument(opts: { adminPrefix?: string | undefined; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const m of MOUNTS) {
    for (const op of m.operations) {
      const p = openApiPath(m.base + op.path);
      (paths[p] ??= {})[op.method] = operation(op);
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Activity Privacy Gateway admin API',
      version: opts.version,
      description:
        'The admin API of the Activity Privacy Gateway, under the configured server.adminPrefix. Every api/ route needs a verified admin bearer token (or the console session); healthz, readyz and metrics need none. Errors are {"error":{"code","message","requestId"}}. Request bodies are validated by exactly these schemas: an unknown key is 400 bad_request naming it.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: opts.adminPrefix ?? DEFAULT_ADMIN_PREFIX }],
    security: [{ bearer: [] }, { consoleSession: [] }],
    paths,
    components: components(),
  };
}
