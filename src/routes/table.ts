/**
 * The route table (SPEC §3 `routes`, §4 step 2): first match wins on method +
 * normalised path. Patterns are compiled once to anchored, case-insensitive
 * RegExps so a per-request match is a handful of regex tests and no parsing.
 */

import type { ExportColumns, ExportFormat, RouteConfig, RouteKind } from '../config/schema.js';

export type { RouteKind };

/**
 * One route as the table reads it: the fields of every kind of RouteConfig (SPEC §3),
 * optional, so a table can be compiled from validated config or from a plain list.
 */
export interface RouteSpec {
  path: string;
  methods?: string[];
  kind: RouteKind;
  items?: string;
  total?: string;
  format?: ExportFormat;
  columns?: ExportColumns;
}

// every validated route config is a route spec
type Assert<T extends true> = T;
export type RouteConfigIsSpec = Assert<RouteConfig extends RouteSpec ? true : false>;

export interface CompiledRoute extends RouteSpec {
  index: number;
  /** the pattern as configured (used e.g. in access logs instead of a path carrying an id) */
  pattern: string;
}

export interface RouteMatch {
  route: CompiledRoute;
  /** `:name` captures (as they appear in the normalised path); `**` captures the rest under '**' */
  params: Record<string, string>;
}

export interface RouteTable {
  match(method: string, normalisedPath: string): RouteMatch | null;
  routes: CompiledRoute[];
}

const KINDS: ReadonlySet<string> = new Set(['list', 'item', 'export', 'passthrough', 'deny']);
const FORMATS: ReadonlySet<string> = new Set(['ndjson', 'json', 'csv', 'cef']);
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 9110 token: what an HTTP method may consist of.
const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Literal pattern segments: RFC 3986 pchars minus ';' (which normalisation rejects), '%XX' allowed.
const LITERAL = /^(?:[A-Za-z0-9\-._~!$&'()+,=:@]|%[0-9A-Fa-f]{2})+$/;

interface Compiled {
  route: CompiledRoute;
  re: RegExp;
  /** capture group i+1 -> param name */
  names: string[];
  /** upper-cased methods; null = all */
  methods: ReadonlySet<string> | null;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compileOne(spec: RouteSpec, index: number): Compiled {
  const where = `routes[${index}] (${JSON.stringify(spec.path)})`;
  if (typeof spec.path !== 'string' || !spec.path.startsWith('/')) throw new Error(`${where}: path must start with '/'`);
  if (!KINDS.has(spec.kind)) throw new Error(`${where}: unknown kind ${JSON.stringify(spec.kind)}`);
  if (spec.format !== undefined && !FORMATS.has(spec.format)) throw new Error(`${where}: unknown format ${JSON.stringify(spec.format)}`);

  // A trailing slash is optional, so '/a/' and '/a' are the same pattern; '/' has no segments.
  const body = spec.path.endsWith('/') ? spec.path.slice(0, -1) : spec.path;
  const segs = body === '' ? [] : body.slice(1).split('/');
  const names: string[] = [];
  let src = '^';
  let endsWithRest = false;
  segs.forEach((seg, i) => {
    if (seg === '**') {
      if (i !== segs.length - 1) throw new Error(`${where}: '**' may only be the last segment`);
      // zero or more segments: '/a/**' matches '/a', '/a/', '/a/x/y'
      src += '(?:/(.*))?';
      names.push('**');
      endsWithRest = true;
    } else if (seg.startsWith(':')) {
      const name = seg.slice(1);
      if (!PARAM_NAME.test(name) || name === '__proto__') throw new Error(`${where}: bad parameter name ${JSON.stringify(seg)}`);
      if (names.includes(name)) throw new Error(`${where}: duplicate parameter ${JSON.stringify(name)}`);
      src += '/([^/]+)';
      names.push(name);
    } else if (seg === '') {
      throw new Error(`${where}: empty segment`);
    } else if (seg === '.' || seg === '..') {
      throw new Error(`${where}: dot-segment ${JSON.stringify(seg)}`);
    } else if (!LITERAL.test(seg)) {
      throw new Error(`${where}: invalid characters in segment ${JSON.stringify(seg)}`);
    } else {
      src += '/' + escapeRegExp(seg);
    }
  });
  // '**' already swallows any trailing slash; otherwise one optional '/'.
  src += endsWithRest ? '$' : '/?$';

  let methods: Set<string> | null = null;
  if (spec.methods !== undefined) {
    if (!Array.isArray(spec.methods) || spec.methods.length === 0) throw new Error(`${where}: methods must be a non-empty list (omit it for all methods)`);
    methods = new Set();
    for (const m of spec.methods) {
      if (typeof m !== 'string' || !METHOD_TOKEN.test(m)) throw new Error(`${where}: bad method ${JSON.stringify(m)}`);
      methods.add(m.toUpperCase());
    }
    // A HEAD gets what its GET would get (SPEC §4 step 8).
    if (methods.has('GET')) methods.add('HEAD');
  }

  const route: CompiledRoute = { ...spec, index, pattern: spec.path };
  // Normalised paths are ASCII (non-ASCII stays percent-encoded), so 'i' is plain ASCII folding.
  return { route, re: new RegExp(src, 'i'), names, methods };
}

/** Compiles route specs in order; throws an Error naming the route on a bad pattern. */
export function compileRoutes(specs: RouteSpec[]): RouteTable {
  const compiled = specs.map(compileOne);
  const routes = compiled.map((c) => c.route);
  return {
    routes,
    match(method: string, normalisedPath: string): RouteMatch | null {
      let upper: string | undefined; // computed lazily: routes without methods need no case folding
      for (const c of compiled) {
        if (c.methods !== null) {
          upper ??= method.toUpperCase();
          if (!c.methods.has(upper)) continue;
        }
        const m = c.re.exec(normalisedPath);
        if (m === null) continue;
        const params: Record<string, string> = {};
        for (let i = 0; i < c.names.length; i++) {
          const v = m[i + 1];
          params[c.names[i]] = v ?? '';
        }
        return { route: c.route, params };
      }
      return null;
    },
  };
}
