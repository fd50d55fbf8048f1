/**
 * The configuration contract (SPEC §3) as a zod schema: validation, defaults and
 * normalisation (lower-cased principals/domains, epoch-ms timestamps, string-or-list
 * fields as lists). Pure: no I/O. Objects are strict, so unknown keys are errors.
 */
import * as z from 'zod';
import { filterProblem } from '../directory/ldapFilter.js';
import { isPrincipal, normalizePrincipal } from '../principal.js';
import { hasControlOrBidi } from '../text.js';
import { BUILTIN_APPLICATION, BUILTIN_EXTERNAL, type ActivitiesSpec } from '../privacy/types.js';
import { parseIsoTimestamp } from '../privacy/time.js';

// ---------- reusable field validators ----------

export { isPrincipal } from '../principal.js';

const DOMAIN_RE = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/;
const HEADER_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const METHOD_RE = /^[A-Za-z]+$/;
const PARAM_RE = /^:[A-Za-z_][A-Za-z0-9_]*$/;
// Literal pattern segments: RFC 3986 pchars minus ';' (which path normalisation rejects), '%XX' allowed.
const LITERAL_RE = /^(?:[A-Za-z0-9\-._~!$&'()+,=:@]|%[0-9A-Fa-f]{2})+$/;

/** Asymmetric JWS algorithms jose verifies; HS* and none are never accepted. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export const EXPORT_FORMATS = ['ndjson', 'json', 'csv', 'cef'] as const;
export const ROUTE_KINDS = ['list', 'item', 'export', 'passthrough', 'deny'] as const;

const str = (what = 'a string') => z.string({ error: (iss) => (iss.input === undefined ? 'is required' : `expected ${what}`) });
const nonEmpty = (what = 'a non-empty string') => str(what).min(1, { error: 'must not be empty' });
const int = (min: number, max = Number.MAX_SAFE_INTEGER, unit = '') =>
  z
    .number({ error: (iss) => (iss.input === undefined ? 'is required' : `expected an integer${unit}`) })
    .int({ error: `expected an integer${unit}` })
    .min(min, { error: `must be >= ${min}${unit}` })
    .max(max, { error: `must be <= ${max}${unit}` });
/** Durations and sizes: integers >= 1. */
const positive = (unit: string) => int(1, Number.MAX_SAFE_INTEGER, unit ? ` (${unit})` : '');

/** A strict mapping: unknown keys are errors. */
const obj = <S extends z.core.$ZodLooseShape>(shape: S) =>
  z.strictObject(shape, {
    error: (iss) => (iss.input === undefined ? 'is required' : 'expected a mapping (key: value)'),
  });

const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, {
    error: (iss) => (iss.input === undefined ? 'is required' : `must be one of ${values.join(' | ')}`),
  });

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}
const httpUrl = () => nonEmpty().refine(isHttpUrl, { error: 'must be an http(s) URL' });
const httpsUrl = () =>
  nonEmpty().refine((v) => isHttpUrl(v) && v.startsWith('https:'), { error: 'must be an https:// URL (the directory is only asked over TLS)' });

function isLdapUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'ldap:' || u.protocol === 'ldaps:') && u.hostname !== '' && (u.pathname === '' || u.pathname === '/') && u.search === '';
  } catch {
    return false;
  }
}

function isPostgresUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'postgres:' || u.protocol === 'postgresql:';
  } catch {
    return false;
  }
}

/** A dot path into a JSON record (`user.userName`); `allowEmpty` for `items: ""` (top-level array). */
const dotPath = (allowEmpty = false) =>
  str('a dot path').refine((p) => (allowEmpty && p === '') || p.split('.').every((s) => s !== ''), {
    error: allowEmpty ? 'must be a dot path like data (or "" for a top-level array)' : 'must be a dot path like user.userName',
  });

/** A string or a non-empty list of strings; always a list in the output. */
const oneOrMany = <T extends z.ZodType<string>>(item: T, what: string) =>
  z.preprocess(
    (v) => (typeof v === 'string' ? [v] : v),
    z
      .array(item, { error: (iss) => (iss.input === undefined ? 'is required' : `expected ${what} or a list of them`) })
      .min(1, { error: 'must not be an empty list' }),
  );

const principal = () =>
  str('a UPN or email address')
    .refine(isPrincipal, { error: 'must be a UPN or email address like alice@contoso.com' })
    .transform((p) => normalizePrincipal(p) ?? p);

/**
 * Lets an object-level check run although other keys failed (zod skips it by
 * default), so every problem is reported; it still waits for the keys it reads.
 */
const whenClean = (...keys: string[]) => ({
  when: (p: z.core.ParsePayload): boolean => typeof p.value === 'object' && p.value !== null && !p.issues.some((i) => keys.includes(String(i.path?.[0]))),
});

/** A list without duplicates, keeping first occurrences (duplicates are harmless, so not an error). */
const unique = <T>(list: T[]): T[] => [...new Set(list)];

/** ISO-8601 with offset or epoch ms -> epoch ms. */
const timestamp = () =>
  z.unknown().transform((v, ctx): number => {
    if (v === undefined || v === null) {
      ctx.addIssue({ code: 'custom', message: 'is required' });
      return z.NEVER;
    }
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
    if (typeof v === 'string') {
      const ms = parseIsoTimestamp(v);
      if (ms !== undefined) return ms;
    }
    ctx.addIssue({
      code: 'custom',
      message: 'must be an ISO-8601 timestamp with an offset (2026-01-01T00:00:00Z) or epoch milliseconds',
    });
    return z.NEVER;
  });

// ---------- sections ----------

const serverSchema = obj({
  host: nonEmpty().default('0.0.0.0'),
  port: int(0, 65535).default(8080),
  // SPEC §8 v3: processes sharing the port; auto = one per core
  workers: z.union([int(1, 256), z.literal('auto')], { error: 'must be a whole number from 1 to 256, or "auto" (one per core)' }).default(1),
  adminPrefix: str()
    .default('/_gateway')
    .refine((p) => p.startsWith('/') && p.length > 1 && !p.endsWith('/'), {
      error: 'must start with / and not end with / (e.g. /_gateway)',
    })
    .refine((p) => !/[?#\s*]/.test(p) && !p.includes('//'), { error: 'must be a plain path (no ?, #, *, spaces or //)' }),
}).prefault({});

const upstreamSchema = obj({
  url: httpUrl().refine(
    (u) => {
      try {
        const url = new URL(u);
        return url.search === '' && url.hash === '' && url.username === '' && url.password === '';
      } catch {
        return true; // reported by httpUrl
      }
    },
    { error: 'must not contain a query, fragment or credentials' },
  ),
  timeoutMs: positive('ms').default(30000),
  maxBufferedBytes: positive('bytes').default(33554432),
  serviceAuthorization: nonEmpty().nullable().default(null),
});

const headerName = (dflt: string) =>
  str('an HTTP header name')
    .default(dflt)
    .refine((h) => HEADER_NAME_RE.test(h), { error: 'must be an HTTP header name' })
    .transform((h) => h.toLowerCase());

const identitySchema = obj({
  header: headerName('authorization'),
  issuer: nonEmpty(),
  audience: nonEmpty().default('activity-privacy-gateway'),
  jwksUrl: httpUrl().nullable().default(null),
  jwksFile: nonEmpty().nullable().default(null),
  algorithms: z
    .array(enumOf(JWT_ALGORITHMS), { error: 'expected a list of algorithms' })
    .min(1, { error: 'must not be an empty list' })
    .default(['RS256', 'ES256', 'EdDSA'])
    .transform(unique),
  // A tolerance, not a wait: 0 (strict) is meaningful, so >= 0 unlike the durations.
  clockToleranceSec: int(0, Number.MAX_SAFE_INTEGER, ' (seconds)').default(30),
  principalClaims: z
    .array(nonEmpty(), { error: 'expected a list of claim names' })
    .min(1, { error: 'must not be an empty list' })
    .default(['upn', 'preferred_username', 'email']),
  rolesClaim: nonEmpty().default('roles'),
  adminRoles: z
    .array(nonEmpty(), { error: 'expected a list of role names' })
    .min(1, { error: 'must not be an empty list (nobody could use the admin API)' })
    .default(['SecurityAdministrator', 'GlobalAdministrator']),
  revealClaim: nonEmpty().default('show_private_activities'),
}).superRefine(
  (id, ctx) => {
    const n = (id.jwksUrl === null ? 0 : 1) + (id.jwksFile === null ? 0 : 1);
    if (n !== 1) {
      const message = n === 0 ? 'one of jwksUrl / jwksFile is required' : 'set only one of jwksUrl / jwksFile, not both';
      ctx.addIssue({ code: 'custom', path: n === 0 ? ['jwksUrl'] : ['jwksFile'], message });
    }
  },
  whenClean('jwksUrl', 'jwksFile'),
);

const revealSchema = obj({
  header: headerName('x-show-private-activities'),
  value: nonEmpty().default('confirm'),
  // SPEC §10
  reasonHeader: headerName('x-reveal-reason'),
  reasonClaim: nonEmpty().default('reveal_reason'),
  requireReason: z.boolean({ error: 'expected true or false' }).default(false),
  minReasonLength: int(0, 500, ' (characters)').default(10),
  scopeHeader: headerName('x-reveal-scope'),
  // SPEC §11 four-eyes approval; null = off
  approval: obj({
    approvers: z
      .array(
        nonEmpty().refine((a) => (a.startsWith('group:') ? a.length > 'group:'.length && !hasControlOrBidi(a) : isPrincipal(a)), {
          error: 'must be a principal like dpo@contoso.com or group:<catalogue id> (no control or bidirectional characters)',
        }),
        { error: 'expected a list of approvers' },
      )
      .min(1, { error: 'must not be an empty list (nobody could approve)' })
      .transform((list) => unique(list.map((a) => (a.startsWith('group:') ? a : a.toLowerCase())))),
    maxDurationMin: int(1, 10_080, ' (minutes)').default(240),
    // v3: a request or change still pending after this long expires
    pendingTtlMin: int(1, 525_600, ' (minutes)').default(1440),
    webhookUrl: httpUrl().nullable().default(null),
  })
    .nullable()
    .default(null),
}).prefault({});

const groupId = () =>
  nonEmpty()
    .refine((id) => id === id.trim(), { error: 'must not start or end with whitespace' })
    .refine((id) => !id.startsWith('builtin:') || id === BUILTIN_EXTERNAL || id === BUILTIN_APPLICATION, {
      error: `unknown built-in group (use ${BUILTIN_EXTERNAL} or ${BUILTIN_APPLICATION})`,
    });

const groupSchema = obj({
  id: groupId(),
  name: nonEmpty().optional(),
  // SPEC §14: hide (absent: the default) or pseudonymise its members' activities
  mode: enumOf(['hide', 'pseudonymise']).optional(),
  privateSince: timestamp(),
  privateUntil: z
    .unknown()
    .optional()
    .transform((v, ctx): number | null => {
      if (v === undefined || v === null) return null;
      const r = timestamp().safeParse(v);
      if (r.success) return r.data;
      for (const iss of r.error.issues) ctx.addIssue({ code: 'custom', message: iss.message });
      return z.NEVER;
    }),
}).superRefine(
  (g, ctx) => {
    if (g.privateUntil !== null && g.privateUntil <= g.privateSince) {
      ctx.addIssue({ code: 'custom', path: ['privateUntil'], message: 'must be after privateSince' });
    }
  },
  whenClean('privateSince', 'privateUntil'),
);

const privacySchema = obj({
  managedDomains: z
    .array(
      str('a domain name')
        .transform((d) => d.toLowerCase())
        .refine((d) => DOMAIN_RE.test(d), { error: 'must be a domain name like contoso.com (no @, no leading dot)' }),
      { error: 'expected a list of domain names' },
    )
    .default([])
    .transform(unique),
  undecidable: enumOf(['withhold', 'show']).default('withhold'),
  groups: z
    .array(groupSchema, { error: 'expected a list of groups' })
    .default([])
    .superRefine((groups, ctx) => {
      // Several intervals per id are history; overlapping ones would be ambiguous.
      groups.forEach((g, i) => {
        for (let j = 0; j < i; j++) {
          const o = groups[j];
          if (o.id !== g.id) continue;
          const gEnd = g.privateUntil ?? Infinity;
          const oEnd = o.privateUntil ?? Infinity;
          if (g.privateSince < oEnd && o.privateSince < gEnd) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'privateSince'],
              message: `overlaps the interval of group ${g.id} at privacy.groups.${j}`,
            });
            return;
          }
        }
      });
    }),
  permissions: z.array(principal(), { error: 'expected a list of principals' }).default([]).transform(unique),
  // SPEC §10: only members (through the directory, nested included) of these groups may be granted the permission
  adminGroups: z.array(nonEmpty(), { error: 'expected a list of group ids' }).default([]).transform(unique),
}).prefault({});

const headersMap = () =>
  z
    .record(
      str('an HTTP header name').refine((h) => HEADER_NAME_RE.test(h), { error: 'must be an HTTP header name' }),
      str('a header value').refine((v) => !/[\r\n\0]/.test(v), { error: 'must not contain CR, LF or NUL' }),
      { error: 'expected a map of header name -> value' },
    )
    .default({});

/** Per-principal cache of a remote source (SPEC §9). */
const cacheKeys = (timeoutMs: number) => ({
  timeoutMs: positive('ms').default(timeoutMs),
  ttlSec: positive('seconds').default(300),
  staleSec: int(0, Number.MAX_SAFE_INTEGER, ' (seconds)').default(3600),
  maxEntries: positive('entries').default(100000),
});

const directoryHttpSchema = obj({
  url: httpUrl().refine((u) => u.includes('{principal}'), { error: 'must contain {principal}' }),
  ttlSec: positive('seconds').default(300),
  maxEntries: positive('entries').default(10000),
  timeoutMs: positive('ms').default(2000),
  staleSec: positive('seconds').default(3600),
  headers: headersMap(),
  groupsUrl: httpUrl().nullable().default(null),
});

const ldapFilter = (dflt: string) =>
  str('an LDAP filter')
    .default(dflt)
    .superRefine((f, ctx) => {
      const problem = filterProblem(f);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
const attributeName = (dflt: string) =>
  str('an LDAP attribute name')
    .default(dflt)
    .refine((a) => /^[A-Za-z][A-Za-z0-9-]*$/.test(a), { error: 'must be an LDAP attribute name' });

const directoryLdapSchema = obj({
  url: oneOrMany(str('an ldap:// or ldaps:// URL').refine(isLdapUrl, { error: 'must be an ldap:// or ldaps:// URL (scheme, host, port only)' }), 'an LDAP URL'),
  bindDN: nonEmpty().nullable().default(null),
  bindPassword: str().nullable().default(null),
  startTLS: z.boolean({ error: 'expected true or false' }).default(false),
  tls: obj({
    caFile: nonEmpty().nullable().default(null),
    rejectUnauthorized: z.boolean({ error: 'expected true or false' }).default(true),
  }).prefault({}),
  userBaseDN: nonEmpty(),
  userFilter: ldapFilter('(|(userPrincipalName={principal})(mail={principal}))'),
  groupBaseDN: nonEmpty(),
  groupFilter: ldapFilter('(|(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))'),
  groupIdAttribute: attributeName('entryUUID'),
  groupNameAttribute: attributeName('cn'),
  memberAttribute: attributeName('member'),
  memberOfAttribute: attributeName('memberOf').nullable(),
  nested: z.boolean({ error: 'expected true or false' }).default(true),
  ...cacheKeys(3000),
}).superRefine(
  (l, ctx) => {
    if (l.startTLS && l.url.some((u) => u.startsWith('ldaps:'))) {
      ctx.addIssue({ code: 'custom', path: ['startTLS'], message: 'StartTLS is for ldap:// URLs; ldaps:// is TLS already' });
    }
    if (l.bindDN !== null && (l.bindPassword === null || l.bindPassword === '')) {
      ctx.addIssue({ code: 'custom', path: ['bindPassword'], message: 'is required with bindDN (an empty password would be an unauthenticated bind)' });
    }
    if (!l.userFilter.includes('{principal}') && !l.userFilter.includes('{local}')) {
      ctx.addIssue({ code: 'custom', path: ['userFilter'], message: 'must contain {principal} or {local}' });
    }
  },
  whenClean('url', 'startTLS', 'bindDN', 'bindPassword', 'userFilter'),
);

const directoryGraphSchema = obj({
  tenantId: nonEmpty().refine((t) => /^[A-Za-z0-9.-]+$/.test(t), { error: 'must be a tenant id (GUID) or domain' }),
  clientId: nonEmpty(),
  clientSecret: nonEmpty().nullable().default(null),
  certificate: obj({ certFile: nonEmpty(), keyFile: nonEmpty() }).nullable().default(null),
  authorityHost: httpsUrl().default('https://login.microsoftonline.com'),
  graphUrl: httpsUrl().default('https://graph.microsoft.com/v1.0'),
  tls: obj({ caFile: nonEmpty().nullable().default(null) }).prefault({}),
  ...cacheKeys(5000),
}).superRefine(
  (g, ctx) => {
    const n = (g.clientSecret === null ? 0 : 1) + (g.certificate === null ? 0 : 1);
    if (n !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: [n === 0 ? 'clientSecret' : 'certificate'],
        message: n === 0 ? 'one of clientSecret / certificate is required' : 'set only one of clientSecret / certificate',
      });
    }
  },
  whenClean('clientSecret', 'certificate'),
);

const directorySchema = obj({
  groups: z
    .record(groupId(), z.array(principal(), { error: 'expected a list of principals' }).transform(unique), {
      error: 'expected a map of group id -> list of principals',
    })
    .default({}),
  knownGroups: z.array(obj({ id: groupId(), name: nonEmpty().optional() }), { error: 'expected a list of {id, name}' }).default([]),
  http: directoryHttpSchema.nullable().default(null),
  ldap: directoryLdapSchema.nullable().default(null),
  graph: directoryGraphSchema.nullable().default(null),
}).prefault({});

const activitiesSchema = obj({
  id: dotPath().default('_id'),
  timestamp: dotPath().default('timestamp'),
  actor: oneOrMany(dotPath(), 'a dot path').default(['user.userName', 'failedUserData.userName']),
  groups: oneOrMany(dotPath(), 'a dot path').default(['user.userTags', 'resolvedActor.tags']),
  application: obj({ path: dotPath(), equals: oneOrMany(str(), 'a string') })
    .nullable()
    .default(null),
  builtinTags: obj({
    // Tags look numeric: unquoted in YAML they would become numbers, hence the hint.
    'external-users': nonEmpty('a string (quote tags in YAML)').default('000000200000000000000000'),
    application: nonEmpty('a string (quote tags in YAML)').default('0000003b0000000000000000'),
  }).prefault({}),
}).prefault({});

// ---------- routes ----------

export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export type RouteKind = (typeof ROUTE_KINDS)[number];
/** CSV header names overriding the ones derived from the `activities` paths. */
export interface ExportColumns {
  actor?: string;
  timestamp?: string;
  groups?: string;
  id?: string;
  application?: string;
}
interface RouteBase {
  /** pattern as written: `/a/:id/`, `/api/v1/**`; matched case-insensitively, trailing slash optional */
  path: string;
  /** upper-cased, no duplicates; absent = every method */
  methods?: string[];
}
export interface ListRoute extends RouteBase {
  kind: 'list';
  /** dot path of the activity array; "" = the body is the array */
  items: string;
  /** dot path of the count to reduce; absent = none */
  total?: string;
}
export interface ItemRoute extends RouteBase {
  kind: 'item';
}
interface ExportBase extends RouteBase {
  kind: 'export';
}
/** An export route: which fields it has follows from its format (SPEC §3). */
export type ExportRoute =
  | (ExportBase & {
      format: 'json';
      /** dot path of the activity array (default "data") */ items: string;
      /** dot path of the count (optional, v3) */ total?: string;
    })
  | (ExportBase & { format: 'csv'; /** absent = derive header names from the activities paths */ columns?: ExportColumns })
  | (ExportBase & { format: 'ndjson' | 'cef' });
export interface PassthroughRoute extends RouteBase {
  kind: 'passthrough';
}
export interface DenyRoute extends RouteBase {
  kind: 'deny';
}
export type RouteConfig = ListRoute | ItemRoute | ExportRoute | PassthroughRoute | DenyRoute;

function routePathProblem(p: string): string | undefined {
  if (!p.startsWith('/')) return 'must start with /';
  if (/[?#\s\\]/.test(p)) return 'must not contain ?, #, \\ or whitespace';
  const segments = p.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    const last = i === segments.length - 1;
    if (s === '' && !last) return 'must not contain an empty segment (//)';
    if (s === '.' || s === '..') return 'must not contain . or .. segments';
    if (s.includes('*') && (s !== '**' || !(last || (i === segments.length - 2 && segments[i + 1] === ''))))
      return '** is only allowed as the whole last segment';
    if (s.includes(':') && !PARAM_RE.test(s)) return 'a parameter must be a whole segment like :id';
    if (s === ':__proto__') return 'a parameter must not be named __proto__';
    if (s.startsWith(':') && segments.indexOf(s) !== i) return `duplicate parameter ${s}`;
    if (s !== '' && s !== '**' && !s.startsWith(':') && !LITERAL_RE.test(s)) return `invalid characters in segment ${JSON.stringify(s)}`;
  }
  return undefined;
}

const routeSchema = obj({
  path: str('a path pattern').superRefine((p, ctx) => {
    const problem = routePathProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  methods: z
    .array(
      str('an HTTP method')
        .refine((m) => METHOD_RE.test(m), { error: 'must be an HTTP method like GET' })
        .transform((m) => m.toUpperCase()),
      { error: 'expected a list of HTTP methods' },
    )
    .min(1, { error: 'must not be empty (omit methods to allow all)' })
    .transform(unique)
    .optional(),
  kind: enumOf(ROUTE_KINDS),
  items: dotPath(true).optional(),
  total: dotPath().nullable().optional(),
  format: enumOf(EXPORT_FORMATS).optional(),
  columns: obj({
    actor: nonEmpty().optional(),
    timestamp: nonEmpty().optional(),
    groups: nonEmpty().optional(),
    id: nonEmpty().optional(),
    application: nonEmpty().optional(),
  })
    .nullable()
    .optional(),
})
  .superRefine(
    (r, ctx) => {
      const notFor = (key: string, where: string) => ctx.addIssue({ code: 'custom', path: [key], message: `only allowed on ${where}` });
      if (r.kind === 'export' && r.format === undefined) {
        ctx.addIssue({ code: 'custom', path: ['format'], message: 'is required for export routes (ndjson | json | csv | cef)' });
      }
      if (r.kind !== 'export' && r.format !== undefined) notFor('format', 'export routes');
      const itemsOk = r.kind === 'list' || (r.kind === 'export' && r.format === 'json');
      if (!itemsOk && r.items !== undefined) notFor('items', 'list routes and json exports');
      if (!itemsOk && r.total !== undefined && r.total !== null) notFor('total', 'list routes and json exports');
      const columnsOk = r.kind === 'export' && r.format === 'csv';
      if (!columnsOk && r.columns !== undefined && r.columns !== null) notFor('columns', 'csv exports');
    },
    whenClean('kind', 'format', 'items', 'total', 'columns'),
  )
  .transform((r): RouteConfig => {
    // Optional keys are omitted, not undefined/null, so consumers can test `=== undefined`.
    const base: RouteBase = r.methods ? { path: r.path, methods: r.methods } : { path: r.path };
    switch (r.kind) {
      case 'list': {
        const list: ListRoute = { ...base, kind: 'list', items: r.items ?? 'data' };
        if (r.total != null) list.total = r.total;
        return list;
      }
      case 'export': {
        const format = r.format as ExportFormat;
        if (format === 'json') return { ...base, kind: 'export', format, items: r.items ?? 'data', ...(r.total != null ? { total: r.total } : {}) };
        if (format === 'csv') return r.columns != null ? { ...base, kind: 'export', format, columns: r.columns } : { ...base, kind: 'export', format };
        return { ...base, kind: 'export', format };
      }
      default:
        return { ...base, kind: r.kind };
    }
  });

/** The SPEC §3 route table, used when `routes` is omitted. */
export const DEFAULT_ROUTES: readonly z.input<typeof routeSchema>[] = [
  { path: '/api/v1/activities/', methods: ['GET', 'POST'], kind: 'list', items: 'data', total: 'total' },
  { path: '/api/v1/activities/export/', kind: 'export', format: 'csv' },
  { path: '/api/v1/activities/:id/', methods: ['GET'], kind: 'item' },
  { path: '/api/v1/**', kind: 'passthrough' },
  { path: '/**', kind: 'deny' },
];

const routesSchema = z
  .array(routeSchema, { error: 'expected a list of routes' })
  .min(1, { error: 'must not be empty (omit routes for the default table)' })
  .prefault(() => DEFAULT_ROUTES.map((r) => ({ ...r })));

// ---------- stores ----------

const backend = () => enumOf(['file', 'postgres']).default('file');
const postgresUrl = () => str().nullable().default(null);

/** postgres needs postgresUrl; a postgresUrl must be a postgres URL. */
function checkBackend(kindKey: 'sink' | 'store', kind: string, url: string | null, ctx: z.RefinementCtx): void {
  if (url !== null && !isPostgresUrl(url)) {
    ctx.addIssue({ code: 'custom', path: ['postgresUrl'], message: 'must be a postgres:// or postgresql:// URL' });
  } else if (kind === 'postgres' && url === null) {
    ctx.addIssue({ code: 'custom', path: ['postgresUrl'], message: `is required when ${kindKey} is postgres` });
  }
}

// ---------- governance forwarding and checkpoints (SPEC §12) ----------

export const FORWARD_TYPES = ['syslog', 'webhook'] as const;
const SYSLOG_SCHEMES = ['tcp:', 'tls:', 'udp:', 'relp:'];
const TARGET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Why `url` is not usable for a target of `type` (undefined = fine). */
export function forwardUrlProblem(type: string, url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return type === 'webhook' ? 'must be an http(s) URL' : 'must be a URL like tcp://host:514, tls://host:6514, udp://host:514 or relp://host:2514';
  }
  if (type === 'webhook') {
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `unknown scheme ${u.protocol}// for a webhook: use http:// or https://`;
    return u.hostname === '' ? 'must name a host' : undefined;
  }
  if (!SYSLOG_SCHEMES.includes(u.protocol)) return `unknown scheme ${u.protocol}// for syslog: use tcp://, tls://, udp:// or relp://`;
  if (u.hostname === '') return 'must name a host';
  if (u.port === '') return 'must name a port (e.g. tcp://siem:514, tls://siem:6514)';
  if ((u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    return 'must be just scheme://host:port';
  }
  return undefined;
}

const forwardTargetSchema = obj({
  name: nonEmpty().refine((n) => TARGET_NAME_RE.test(n), { error: 'must be 1-63 letters, digits, _ . - (it names the target in metrics)' }),
  type: enumOf(FORWARD_TYPES),
  url: nonEmpty(),
  /** tls:// and https://: PEM CA bundle the receiver's certificate must chain to (default: the system CAs) */
  caFile: nonEmpty().nullable().default(null),
  /** tls:// and https://: client certificate and key (PEM) for receivers that require mutual TLS */
  certFile: nonEmpty().nullable().default(null),
  keyFile: nonEmpty().nullable().default(null),
  /** webhook only: extra request headers */
  headers: z
    .record(
      str('an HTTP header name').refine((h) => HEADER_NAME_RE.test(h), { error: 'must be an HTTP header name' }),
      str('a header value'),
      {
        error: 'expected a map of header name -> value',
      },
    )
    .default({}),
  /** connecting (TCP/TLS handshake) must finish within this */
  connectTimeoutMs: positive('ms').default(5000),
  /** a write (syslog) or a whole webhook exchange must finish within this; then it counts as failed */
  timeoutMs: positive('ms').default(10000),
  /** entries read from the sink and sent per round (bounds memory) */
  batchSize: int(1, 1000).default(200),
  /** back-off after a failure: from minMs doubling up to maxMs, with full jitter */
  retry: obj({ minMs: positive('ms').default(500), maxMs: positive('ms').default(30000) }).prefault({}),
  /**
   * syslog over tcp/tls: what was written in the last resendSec before a connection broke is
   * sent again (the receiver may not have read it); until then it counts as not delivered.
   */
  resendSec: int(0, 3600, ' (seconds)').default(60),
}).superRefine(
  (t, ctx) => {
    const problem = forwardUrlProblem(t.type, t.url);
    if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
    const secure = t.url.startsWith('tls:') || t.url.startsWith('https:');
    for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
      if (t[key] !== null && !secure && !problem) ctx.addIssue({ code: 'custom', path: [key], message: 'only for tls:// and https:// targets' });
    }
    if ((t.certFile === null) !== (t.keyFile === null)) {
      ctx.addIssue({ code: 'custom', path: [t.certFile === null ? 'certFile' : 'keyFile'], message: 'certFile and keyFile go together' });
    }
    if (t.type !== 'webhook' && Object.keys(t.headers).length > 0) ctx.addIssue({ code: 'custom', path: ['headers'], message: 'only for webhook targets' });
    if (t.retry.maxMs < t.retry.minMs) ctx.addIssue({ code: 'custom', path: ['retry', 'maxMs'], message: 'must be >= retry.minMs' });
  },
  whenClean('type', 'url', 'caFile', 'certFile', 'keyFile', 'headers', 'retry'),
);

const checkpointSchema = obj({
  /** Ed25519 private key, PEM (openssl genpkey -algorithm ed25519); checked when the file is loaded */
  keyFile: nonEmpty(),
  everyEntries: positive('entries').default(100),
  everySec: positive('seconds').default(300),
});

const governanceSchema = obj({
  sink: backend(),
  file: nonEmpty().default('data/governance.jsonl'),
  postgresUrl: postgresUrl(),
  forward: z
    .array(forwardTargetSchema, { error: 'expected a list of forward targets' })
    .default([])
    .superRefine((list, ctx) => {
      list.forEach((t, i) => {
        if (list.findIndex((o) => o.name === t.name) < i) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate target name ${t.name}` });
      });
    }),
  checkpoint: checkpointSchema.nullable().default(null),
})
  .superRefine((g, ctx) => checkBackend('sink', g.sink, g.postgresUrl, ctx), whenClean('sink', 'postgresUrl'))
  .prefault({});

const stateSchema = obj({ store: backend(), file: nonEmpty().default('data/state.json'), postgresUrl: postgresUrl() })
  .superRefine((s, ctx) => checkBackend('store', s.store, s.postgresUrl, ctx), whenClean('store', 'postgresUrl'))
  .prefault({});

const loggingSchema = obj({ level: enumOf(LOG_LEVELS).default('info') }).prefault({});

// ---------- the admin console (SPEC §13) ----------

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
/** https, or http on a loopback host (the demo's and the tests' local provider). */
const secureUrl = () =>
  httpUrl().refine(
    (u) => {
      try {
        const url = new URL(u);
        return url.protocol === 'https:' || LOOPBACK.has(url.hostname);
      } catch {
        return true; // reported by httpUrl
      }
    },
    { error: 'must be https (http only on a loopback host)' },
  );

const consoleSchema = obj({
  oidc: obj({
    issuer: secureUrl(),
    clientId: nonEmpty(),
    // omitted or null: a public client (PKCE alone)
    clientSecret: nonEmpty().nullable().default(null),
    scopes: z
      .array(nonEmpty(), { error: 'expected a list of scopes' })
      .default(['openid', 'profile', 'email'])
      .refine((s) => s.includes('openid'), { error: 'must include openid' })
      .transform(unique),
  }),
  sessionTtlMin: int(1, 7 * 24 * 60, ' (minutes)').default(480),
  // The gateway's external base URL (https://gw.contoso.com): the redirect URI and the Secure
  // cookie flag come from it. Null: taken from the request's Host (fine on loopback and in tests).
  publicUrl: secureUrl()
    .refine(
      (u) => {
        try {
          const x = new URL(u);
          return x.search === '' && x.hash === '' && x.pathname === '/';
        } catch {
          return true;
        }
      },
      { error: 'must be an origin only (https://gw.contoso.com), without a path or query' },
    )
    .nullable()
    .default(null),
  // SPEC §13 v3: after one confirmation the Activity log shows private activities for this long
  // (each load its own audited reveal); with approval on, the request's window applies instead
  revealWindowMin: int(1, 24 * 60, ' (minutes)').default(10),
  // SPEC §13 v3: the list route's query parameters for the Activity log filters User, From, To
  // (null: the upstream takes no such parameter and the console offers no such filter)
  filters: obj({
    user: nonEmpty().nullable().default(null),
    since: nonEmpty().nullable().default(null),
    until: nonEmpty().nullable().default(null),
  }).prefault({}),
});

// SPEC §14: the key of the pseudonyms (32 bytes, raw or base64) and the older keys that still resolve
const pseudonymsSchema = obj({
  keyFile: nonEmpty().nullable().default(null),
  previousKeyFiles: z.array(nonEmpty(), { error: 'expected a list of file paths' }).default([]),
  domain: str('a domain name')
    .transform((d) => d.toLowerCase())
    .refine((d) => DOMAIN_RE.test(d), { error: 'must be a domain name like pseudonym.invalid (no @, no leading dot)' })
    .default('pseudonym.invalid'),
}).prefault({});

// ---------- the whole file ----------

export const configSchema = z
  .strictObject(
    {
      server: serverSchema,
      upstream: upstreamSchema,
      // Omitted or null: no token ever verifies (no reveal, no admin API).
      identity: identitySchema.nullable().default(null),
      reveal: revealSchema,
      privacy: privacySchema,
      directory: directorySchema,
      activities: activitiesSchema,
      routes: routesSchema,
      governance: governanceSchema,
      state: stateSchema,
      logging: loggingSchema,
      console: consoleSchema.nullable().default(null),
      pseudonyms: pseudonymsSchema,
    },
    { error: (iss) => (iss.input === undefined || iss.input === null ? 'the file is empty' : 'expected a mapping of sections') },
  )
  .superRefine((c, ctx) => {
    // SPEC §14: a group that pseudonymises needs the key
    const i = c.privacy.groups.findIndex((g) => g.mode === 'pseudonymise');
    if (i >= 0 && c.pseudonyms.keyFile === null) {
      ctx.addIssue({ code: 'custom', path: ['pseudonyms', 'keyFile'], message: `required: privacy.groups.${i} pseudonymises` });
    }
  });

export type GatewayConfig = z.output<typeof configSchema>;
export type IdentityConfig = NonNullable<GatewayConfig['identity']>;
export type PrivacyConfig = GatewayConfig['privacy'];
/** privacy/ reads activities with this section as its ActivitiesSpec (a compile error here if it stops fitting) */
export type ActivitiesConfig = Fits<ActivitiesSpec, GatewayConfig['activities']>;
type Fits<Want, T extends Want> = T;
export type DirectoryConfig = GatewayConfig['directory'];
export type GovernanceConfig = GatewayConfig['governance'];
export type ForwardTargetConfig = GovernanceConfig['forward'][number];
export type CheckpointConfig = NonNullable<GovernanceConfig['checkpoint']>;
export type StateConfig = GatewayConfig['state'];
export type ConsoleConfig = NonNullable<GatewayConfig['console']>;
export type PseudonymsConfig = GatewayConfig['pseudonyms'];

/** One validation problem: `path` is the dotted key path (`routes.2.kind`, `upstream.url`). */
export interface ConfigProblem {
  path: string;
  message: string;
}
