/**
 * The route table (SPEC §3 `routes`, §4 step 2): first match wins on method +
 * normalised path. Patterns are compiled once to anchored, case-insensitive
 * RegExps so a per-request match is a handful of regex tests and no parsing.
 */

import type { RouteConfig, RouteKind } from '../config/schema.js';

export type { RouteKind };

/**
 * A validated route (the config schema is its only validator: patterns, methods, kinds and
 * formats are checked there once) with its place in the table.
 */
export type CompiledRoute = RouteConfig & {
  index: number;
  /** the pattern as configured (used e.g. in access logs instead of a path carrying an id) */
  pattern: string;
};

export interface RouteMatch {
  route: CompiledRoute;
  /** `:name` captures (as they appear in the normalised path); `**` captures the rest under '**' */
  params: Record<string, string>;
}

export interface RouteTable {
  match(method: string, normalisedPath: string): RouteMatch | null;
  routes: CompiledRoute[];
}

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

/** The anchored, case-insensitive RegExp of a validated pattern, and its parameter names. */
function patternRegExp(path: string): { re: RegExp; names: string[] } {
  // A trailing slash is optional, so '/a/' and '/a' are the same pattern; '/' has no segments.
  const body = path.endsWith('/') ? path.slice(0, -1) : path;
  const segs = body === '' ? [] : body.slice(1).split('/');
  const names: string[] = [];
  let src = '^';
  for (const seg of segs) {
    if (seg === '**') {
      // zero or more segments: '/a/**' matches '/a', '/a/', '/a/x/y'
      src += '(?:/(.*))?';
      names.push('**');
    } else if (seg.startsWith(':')) {
      src += '/([^/]+)';
      names.push(seg.slice(1));
    } else {
      src += '/' + escapeRegExp(seg);
    }
  }
  // '**' already swallows any trailing slash; otherwise one optional '/'.
  src += names.at(-1) === '**' ? '$' : '/?$';
  // Normalised paths are ASCII (non-ASCII stays percent-encoded), so 'i' is plain ASCII folding.
  return { re: new RegExp(src, 'i'), names };
}

function compileOne(spec: RouteConfig, index: number): Compiled {
  let methods: Set<string> | null = null;
  if (spec.methods !== undefined) {
    methods = new Set(spec.methods.map((m) => m.toUpperCase()));
    // A HEAD gets what its GET would get (SPEC §4 step 8).
    if (methods.has('GET')) methods.add('HEAD');
  }
  const route: CompiledRoute = { ...spec, index, pattern: spec.path };
  return { route, ...patternRegExp(spec.path), methods };
}

/** Compiles validated routes in order (first match wins). */
export function compileRoutes(specs: readonly RouteConfig[]): RouteTable {
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
