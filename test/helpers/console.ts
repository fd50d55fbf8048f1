/**
 * The admin console's test stack: the sample API, a gateway with a `console` section, and the
 * demo's real OpenID Connect provider (oidc-provider) on a free loopback port. `signIn` walks
 * the authorization code flow over real sockets, as a browser would, with a small cookie jar.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { startOidcProvider, type DemoOidcProvider } from '../../src/demo/oidcProvider.js';
import type { SampleApiOptions } from '../../src/demo/sampleApi.js';
import { ROOT, withBuildLock } from './build.js';
import { startDemoStack, type DemoStack } from './gateway.js';

export const CLIENT_ID = 'apg-console';
export const PREFIX = '/_gateway';

export interface ConsoleStack extends DemoStack {
  idp: DemoOidcProvider;
  /** the console's URL ({gateway}/_gateway/console/) */
  consoleUrl: string;
  clock: { now: number };
}

export async function startConsoleStack(
  extra: Record<string, unknown> = {},
  consoleExtra: Record<string, unknown> = {},
  apiOpts: SampleApiOptions = {},
): Promise<ConsoleStack> {
  const uiDir = await ensureUiBuilt();
  const idp = await startOidcProvider();
  const clock = { now: Date.now() };
  const stack = await startDemoStack(
    {
      console: { oidc: { issuer: idp.issuer, clientId: CLIENT_ID, scopes: ['openid', 'profile', 'email'] }, sessionTtlMin: 60, ...consoleExtra },
      ...extra,
    },
    { now: () => clock.now, uiDir },
    apiOpts,
  );
  await idp.register({ clientId: CLIENT_ID, redirectUris: [`${stack.gw.url}${PREFIX}/console/callback`] });
  return {
    ...stack,
    idp,
    clock,
    consoleUrl: `${stack.gw.url}${PREFIX}/console/`,
    async close() {
      await stack.close();
      await idp.close();
    },
  };
}

/** Cookies per origin, enough for the flow (no expiry handling beyond Max-Age=0). */
export class CookieJar {
  private jar = new Map<string, Map<string, { value: string; path: string }>>();
  store(url: string, res: Response): void {
    const origin = new URL(url).origin;
    const m = this.jar.get(origin) ?? new Map();
    this.jar.set(origin, m);
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const pathAttr = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='));
      if (/max-age=0/i.test(line)) m.delete(name);
      else m.set(name, { value, path: pathAttr ? pathAttr.slice(5) : '/' });
    }
  }
  header(url: string): string {
    const u = new URL(url);
    const m = this.jar.get(u.origin);
    if (!m) return '';
    return [...m.entries()]
      .filter(([, c]) => u.pathname.startsWith(c.path))
      .map(([n, c]) => `${n}=${c.value}`)
      .join('; ');
  }
  get(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).origin)?.get(name)?.value;
  }
}

export async function jarFetch(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const c = jar.header(url);
  if (c) headers.set('cookie', c);
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(url, res);
  return res;
}

export interface SignedIn {
  jar: CookieJar;
  /** the last answer: the callback's (303 on success, a page otherwise) */
  res: Response;
  callbackUrl: string;
  /** the apg_login cookie the callback was sent with (to replay it) */
  loginCookie: string;
  cookie: string;
  csrf?: string;
}

/** Follows the whole sign-in for one demo user; stops at the gateway's answer to the callback. */
export async function signIn(stack: { gw: { url: string } }, user: string, jar = new CookieJar()): Promise<SignedIn> {
  let res = await jarFetch(jar, `${stack.gw.url}${PREFIX}/console/login`);
  let url = res.headers.get('location')!;
  if (res.status !== 302 || !url) throw new Error(`login answered ${res.status}`);
  for (let i = 0; i < 10; i++) {
    if (url.startsWith(`${stack.gw.url}${PREFIX}/console/callback`)) break;
    res = await jarFetch(jar, url);
    if (res.status === 200 && url.includes('/interaction/')) {
      const action = new URL(`${new URL(url).pathname}/login`, url).href;
      res = await jarFetch(jar, action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user=${user}` });
    }
    const next = res.headers.get('location');
    if (!next) throw new Error(`sign-in stopped at ${url} with ${res.status}: ${(await res.text()).slice(0, 300)}`);
    url = new URL(next, url).href;
  }
  const callbackUrl = url;
  const loginCookie = jar.header(callbackUrl);
  res = await jarFetch(jar, callbackUrl);
  const cookie = jar.header(`${stack.gw.url}${PREFIX}/api/`);
  let csrf: string | undefined;
  if (res.status === 303) {
    const s = await jarFetch(jar, `${stack.gw.url}${PREFIX}/console/session`);
    if (s.status === 200) csrf = ((await s.json()) as { csrfToken: string }).csrfToken;
  }
  return { jar, res, callbackUrl, loginCookie, cookie, csrf };
}

// ---------- the built app ----------

export const UI_DIR = path.join(ROOT, 'dist', 'ui');

function newest(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n = Math.max(n, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return n;
}

let builtCopy: Promise<string> | undefined;

/**
 * Builds the console app (vite) unless dist/ui is newer than ui/, under the same lock as
 * `npm run build`, and returns a private copy of it for this test process: a build started
 * later by another test file (which empties dist/ui) cannot pull files from under a gateway.
 */
export function ensureUiBuilt(): Promise<string> {
  builtCopy ??= withBuildLock(() => {
    const index = path.join(UI_DIR, 'index.html');
    const fresh = existsSync(index) && statSync(index).mtimeMs >= Math.max(newest(path.join(ROOT, 'ui')), statSync(path.join(ROOT, 'vite.config.ts')).mtimeMs);
    if (!fresh) {
      const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`vite build failed:\n${r.stdout}\n${r.stderr}`);
    }
    const copy = mkdtempSync(path.join(os.tmpdir(), 'apg-ui-'));
    cpSync(UI_DIR, copy, { recursive: true });
    process.on('exit', () => rmSync(copy, { recursive: true, force: true }));
    return copy;
  });
  return builtCopy;
}
