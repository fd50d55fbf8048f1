/**
 * Calls to the gateway from the console. Same origin, the session cookie goes along by
 * itself (HttpOnly: the app never sees it); state-changing calls carry the session's CSRF
 * token. URLs are relative to {adminPrefix}/console/.
 */
import { ERROR_SENTENCES, humanError } from './errors';

export interface SessionInfo {
  principal: string;
  roles: string[];
  csrfToken: string;
  expiresAt: string;
  adminPrefix: string;
  listRoute: { path: string; items: string; total: string | null } | null;
  activities: { id: string; timestamp: string; actor: string[] };
  reveal: {
    header: string;
    value: string;
    reasonHeader: string;
    requireReason: boolean;
    minReasonLength: number;
    approval: boolean;
    /** console.revealWindowMin: how long private activities stay shown after one confirmation */
    windowMin?: number;
  };
  /** whether this admin may reveal now (SPEC §13 v3); absent from an older gateway */
  permission?: { canReveal: boolean; why?: string; message?: string; groups?: string[]; expiresAt?: string };
  /** the list route's query parameters for the filters User, From, To (null: not offered) */
  filters?: { user: string | null; since: string | null; until: string | null };
  /** false: no privacy.adminGroups, so a grantee's admin membership is not checked */
  adminMembershipChecked: boolean;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

let csrfToken = '';
let onSignedOut: (message: string) => void = () => undefined;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}
export function whenSignedOut(fn: (message: string) => void): void {
  onSignedOut = fn;
}

async function toError(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = `The gateway answered ${res.status}.`;
  let details: Record<string, unknown> | undefined;
  try {
    const body = (await res.json()) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
    if (body.error?.details && typeof body.error.details === 'object') details = body.error.details as Record<string, unknown>;
  } catch {
    /* not JSON: keep the status line */
  }
  return new ApiError(res.status, code, message, details);
}

export async function request(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; csrf?: boolean } = {},
): Promise<Response> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (init.csrf || (method !== 'GET' && method !== 'HEAD')) headers['x-csrf-token'] = csrfToken;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401) onSignedOut(err.message);
    throw err;
  }
  return res;
}

export async function getJson<T>(url: string, headers?: Record<string, string>): Promise<T> {
  const res = await request(url, { headers });
  return (await res.json()) as T;
}

export async function send<T>(method: string, url: string, body?: unknown): Promise<T | undefined> {
  const res = await request(url, { method, body });
  if (res.status === 204) return undefined;
  const text = await res.text();
  return text ? (JSON.parse(text) as T) : undefined;
}

/** The admin API: {adminPrefix}/api/… relative to {adminPrefix}/console/. */
export const adminApi = (path: string): string => `../api/${path}`;

/** An error told in words for a person (ui/src/errors.ts): never the API's raw text. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return humanError(err);
  if (err instanceof TypeError) return ERROR_SENTENCES.network;
  return err instanceof Error ? err.message : String(err);
}
