/** Request bodies and query strings of the admin API: validated by zod schemas, refused with one wording. */
import type { z } from 'zod';
import { GatewayError } from '../errors.js';
import { hasControlOrBidi } from '../text.js';

/**
 * SPEC §10 "Input rules (v3)": typed text of the admin API (principals, group ids and names,
 * reasons, comments) holds no control or bidirectional character. For zod: `.refine(...PLAIN)`.
 */
export const PLAIN = [(s: string): boolean => !hasControlOrBidi(s), { error: 'must not contain control or bidirectional characters' }] as const;

/**
 * 400 `bad_request` for a body that does not fit its schema; the message names the
 * offending keys (an unknown key is never ignored: SPEC §7).
 */
export function badBody(error: z.ZodError, expected: string): GatewayError {
  const problems = error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    return `${i.path.length ? JSON.stringify(i.path.join('.')) : '(body)'}: ${i.message}`;
  });
  return new GatewayError('bad_request', `Expected ${expected}: ${problems.join('; ')}.`);
}

/** The body as its schema's output, or 400 naming what was expected. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, expected: string): z.output<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw badBody(r.error, expected);
  return r.data;
}

/** body-parser's own errors (malformed JSON, too large): they carry an HTTP 4xx `status` and a `type`. */
export function isBodyParserError(err: unknown): boolean {
  if (err instanceof GatewayError || typeof err !== 'object' || err === null) return false;
  const { status, type } = err as { status?: unknown; type?: unknown };
  return typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500;
}

/** An integer query parameter within [min, max]; `def` when absent; null when malformed. */
export function intParam(v: unknown, def: number, min: number, max: number): number | null {
  if (v === undefined) return def;
  if (typeof v !== 'string' || !/^\d{1,15}$/.test(v)) return null;
  const n = Number(v);
  return n < min || n > max ? null : n;
}
