import http from 'node:http';
import { pipeline as streamPipeline } from 'node:stream';
import { ProxyServer } from 'http-proxy-3';
import type { GatewayConfig } from '../config/index.js';
import type { KnownGroups } from '../directory/knownGroups.js';
import type { GovernanceEntry, GovernanceSink } from '../governance/types.js';
import type { IdentityResult, IdentityVerifier } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { PrivacyEngine } from '../privacy/engine.js';
import type { ActivitiesSpec } from '../privacy/extract.js';
import type { ActivityFacts } from '../privacy/types.js';
import { createExportFilter } from '../rewrite/export/index.js';
import { BodyInvalidError } from '../rewrite/errors.js';
import { compileFieldReader, type FieldReader } from '../rewrite/fieldReader.js';
import { classifyItem } from '../rewrite/item.js';
import { hideForReveal, type ShownTally } from '../privacy/revealFilter.js';
import { authorizeReveal, viewedEntry, type GrantedReveal } from './accountableReveal.js';
import { filterList } from '../rewrite/list.js';
import type { CompiledRoute, RouteTable } from '../routes/table.js';
import type { RequestContext } from './context.js';
import { GatewayError, sendError, STATUS, type ErrorCode } from './errors.js';
import {
  appendVary, CONDITIONAL_REQUEST_HEADERS, decodableAcceptEncoding, filteredResponseHeaders,
  METHOD_OVERRIDE_HEADERS, passthroughResponseHeaders,
} from './headers.js';
import { normalizePath, splitTarget } from './normalize.js';
import { requestIdFrom } from './requestId.js';
import { collectBody, decoderFor, isJsonContentType } from './upstreamBody.js';

/** Everything the pipeline reads that a config reload may replace, swapped as one object. */
export interface Runtime {
  config: GatewayConfig;
  routes: RouteTable;
  extract: (record: unknown) => ActivityFacts;
  fromFields: (fields: { id?: string; actor?: string; timestamp?: string; groups?: string[]; application?: string }) => ActivityFacts;
  identity: IdentityVerifier | null;
  target: URL;
  agent: http.Agent;
}

export interface PipelineDeps {
  runtime: () => Runtime;
  engine: PrivacyEngine;
  governance: () => GovernanceSink | null;
  logger: Logger;
  metrics: Metrics;
  instance: string;
  /** SPEC §10: scope groups must be in the catalogue */
  knownGroups: KnownGroups;
  /** the clock permissions expire by */
  now: () => number;
  /** answers requests under server.adminPrefix */
  admin: (req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext, subPath: string, query: string) => void;
}

interface Reveal {
  granted: boolean;
  /** what a granted reveal may show, its reason and scope (SPEC §10) */
  grant?: GrantedReveal;
  /** the reveal was asked for (header or flag) on a route that ignores it */
  requested: boolean;
  via?: 'header' | 'token';
  identity?: Extract<IdentityResult, { kind: 'verified' }>;
}

/** Byte-level field readers, compiled once per runtime (a reload brings a new runtime object). */
const readers = new WeakMap<Runtime, FieldReader>();
function readerFor(rt: Runtime): FieldReader {
  let r = readers.get(rt);
  if (r === undefined) {
    r = compileFieldReader(rt.config.activities as unknown as ActivitiesSpec, rt.extract);
    readers.set(rt, r);
  }
  return r;
}

const CTX = Symbol('apg.ctx');
type TaggedReq = http.IncomingMessage & { [CTX]?: { ctx: RequestContext; rt: Runtime; reveal: Reveal; headOnly: boolean } };

export function createPipeline(deps: PipelineDeps) {
  const proxy = new ProxyServer({ xfwd: false, ws: false, changeOrigin: true, preserveHeaderKeyCase: true });

  proxy.on('proxyReq', (proxyReq, req) => {
    const tag = (req as TaggedReq)[CTX];
    if (tag) tag.ctx.proxyReq = proxyReq;
  });

  proxy.on('proxyRes', (proxyRes, req, res) => {
    const tag = (req as TaggedReq)[CTX];
    if (!tag) return;
    const { ctx } = tag;
    if (ctx.upstreamStart !== undefined) deps.metrics.upstreamLatency.observe({ kind: ctx.kind }, (performance.now() - ctx.upstreamStart) / 1000);
    // the response carries the gateway's request id, whatever the upstream says
    proxyRes.headers['x-request-id'] = ctx.id;
    if (ctx.kind === 'passthrough' || ctx.kind === 'export') {
      // An upstream that dies mid-answer: the client's response is cut off (never left hanging).
      proxyRes.on('error', () => undefined); // reported through 'close' below
      proxyRes.on('close', () => {
        if (proxyRes.complete || ctx.done) return;
        if (ctx.kind === 'export') deps.metrics.exportCutoffs.inc();
        res.destroy();
        finish(ctx, res.statusCode, 'cut_off:upstream_closed');
      });
    }
    if (ctx.kind === 'passthrough') {
      clearTimeout(ctx.timer);
      armIdleTimeout(proxyRes, tag.rt.config.upstream.timeoutMs, res);
      res.on('finish', () => finish(ctx, res.statusCode));
      res.on('close', () => { if (!res.writableFinished) finish(ctx, res.statusCode, 'client_or_upstream_closed'); });
      return;
    }
    handleFilteredResponse(proxyRes, req as TaggedReq, res).catch((err) => failRequest(ctx, res, err));
  });

  function finish(ctx: RequestContext, status: number, note?: string): void {
    if (ctx.done) return;
    ctx.done = true;
    clearTimeout(ctx.timer);
    deps.metrics.requests.inc({ kind: ctx.kind, status: String(status) });
    if (ctx.removed > 0) deps.metrics.removed.inc({ kind: ctx.kind }, ctx.removed);
    const line: Record<string, unknown> = {
      msg: 'access', requestId: ctx.id, method: ctx.method,
      // item routes log the pattern: the raw path carries an activity id
      path: ctx.route?.kind === 'item' ? ctx.route.pattern : ctx.path,
      kind: ctx.kind, status, ms: Math.round((performance.now() - ctx.start) * 10) / 10,
      removed: ctx.removed, reveal: ctx.reveal,
    };
    if (ctx.principal) line.principal = ctx.principal;
    if (ctx.reason !== undefined) line.reason = ctx.reason;
    if (note ?? ctx.note) line.note = note ?? ctx.note;
    deps.logger.info(line);
  }

  function answerError(ctx: RequestContext, res: http.ServerResponse, code: ErrorCode, message?: string, extra?: Record<string, string>): void {
    if (ctx.done && res.headersSent) return;
    clearTimeout(ctx.timer);
    ctx.proxyReq?.destroy();
    const cut = res.headersSent;
    sendError(res, code, ctx.id, message, extra);
    finish(ctx, cut ? 0 : STATUS[code], cut ? `cut_off:${code}` : undefined);
  }

  function failRequest(ctx: RequestContext, res: http.ServerResponse, err: unknown): void {
    if (err instanceof GatewayError) return answerError(ctx, res, err.code, err.message);
    if (err instanceof BodyInvalidError) return answerError(ctx, res, 'upstream_body_invalid');
    if (err && typeof err === 'object' && (err as Error).name === 'GovernanceUnavailableError') {
      deps.metrics.governanceFailures.inc();
      return answerError(ctx, res, 'governance_unavailable');
    }
    deps.logger.error({ msg: 'request failed', requestId: ctx.id, error: (err as Error)?.message ?? String(err) });
    answerError(ctx, res, 'internal_error');
  }

  function armIdleTimeout(stream: http.IncomingMessage, ms: number, res: http.ServerResponse): void {
    stream.setTimeout(ms, () => {
      stream.destroy();
      res.destroy();
    });
  }

  /** Reads the identity and decides on reveal (SPEC §4.4). Throws GatewayError on 400/401/403/503. */
  async function decideReveal(req: http.IncomingMessage, rt: Runtime, route: CompiledRoute, ctx: RequestContext): Promise<Reveal> {
    const revealCfg = rt.config.reveal;
    const raw = req.headers[revealCfg.header.toLowerCase()];
    let viaHeader = false;
    if (raw !== undefined) {
      if (route.kind !== 'export' && (Array.isArray(raw) || raw.trim() !== revealCfg.value)) throw new GatewayError('bad_reveal_header', `${revealCfg.header} accepts only the value "${revealCfg.value}".`);
      viaHeader = true;
    }
    let identity: IdentityResult = { kind: 'anonymous' };
    if (rt.identity) identity = await rt.identity.verify(req.headers);
    if (identity.kind === 'verified' && identity.isAdmin) ctx.principal = identity.principal;
    const flag = identity.kind === 'verified' && identity.revealFlag;
    const requested = viaHeader || flag;
    if (!requested) return { granted: false, requested: false, identity: identity.kind === 'verified' ? identity : undefined };
    if (route.kind === 'export') return { granted: false, requested: true, identity: identity.kind === 'verified' ? identity : undefined };
    if (identity.kind === 'unavailable') { deps.metrics.reveals.inc({ outcome: 'identity_unavailable' }); throw new GatewayError('identity_unavailable'); }
    if (identity.kind !== 'verified') { deps.metrics.reveals.inc({ outcome: 'unauthenticated' }); throw new GatewayError('unauthenticated'); }
    const via = viaHeader ? 'header' : 'token';
    const grant = await authorizeReveal({
      config: rt.config, permission: (p) => deps.engine.permission(p), now: deps.now, knownGroups: deps.knownGroups,
      governance: deps.governance, metrics: deps.metrics, logger: deps.logger,
    }, req, ctx, identity, via);
    deps.metrics.reveals.inc({ outcome: grant.scope || grant.limits.permissionGroups ? 'granted_narrowed' : 'granted' });
    return { granted: true, requested: true, via, identity, grant };
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rt = deps.runtime();
    const ctx: RequestContext = {
      id: requestIdFrom(req.headers['x-request-id']), start: performance.now(), method: req.method ?? 'GET',
      path: '', query: '', kind: 'none', removed: 0, reveal: 'none', done: false,
    };
    res.setHeader('x-request-id', ctx.id);
    // the upstream sees the same id, so its logs can be correlated with ours
    req.headers['x-request-id'] = ctx.id;
    const { path: rawPath, query } = splitTarget(req.url ?? '/');
    ctx.query = query;
    const norm = normalizePath(rawPath);
    if (!norm.ok) {
      deps.metrics.pathRejections.inc({ reason: norm.reason });
      ctx.path = '(rejected)';
      return answerError(ctx, res, 'bad_path');
    }
    const path = norm.path;
    ctx.path = path;
    const prefix = rt.config.server.adminPrefix;
    if (path.toLowerCase() === prefix.toLowerCase() || path.toLowerCase().startsWith(prefix.toLowerCase() + '/')) {
      ctx.kind = 'admin';
      res.on('finish', () => finish(ctx, res.statusCode));
      return deps.admin(req, res, ctx, path.slice(prefix.length), query);
    }
    for (const h of METHOD_OVERRIDE_HEADERS) delete req.headers[h];
    const match = rt.routes.match(ctx.method, path);
    if (!match || match.route.kind === 'deny') {
      ctx.kind = 'deny';
      return answerError(ctx, res, 'route_denied');
    }
    const route = match.route;
    ctx.route = route;
    ctx.kind = route.kind;

    let reveal: Reveal = { granted: false, requested: false };
    const filtered = route.kind === 'list' || route.kind === 'item' || route.kind === 'export';
    try {
      if (filtered) reveal = await decideReveal(req, rt, route, ctx);
      else if (rt.config.upstream.serviceAuthorization && rt.identity) {
        const id = await rt.identity.verify(req.headers);
        if (id.kind === 'verified') reveal.identity = id;
      }
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'unauthenticated') return answerError(ctx, res, err.code, err.message, { 'www-authenticate': 'Bearer' });
      return failRequest(ctx, res, err);
    }
    ctx.reveal = reveal.granted ? 'granted' : reveal.requested ? 'ignored' : 'none';

    // The reveal headers are the gateway's own business (a reason may name people); the upstream never sees them.
    delete req.headers[rt.config.reveal.header.toLowerCase()];
    delete req.headers[rt.config.reveal.reasonHeader];
    delete req.headers[rt.config.reveal.scopeHeader];
    if (reveal.identity && rt.config.upstream.serviceAuthorization) {
      req.headers[rt.config.identity?.header.toLowerCase() ?? 'authorization'] = rt.config.upstream.serviceAuthorization;
    }
    req.url = query ? `${path}?${query}` : path;

    const headOnly = ctx.method === 'HEAD' && (route.kind === 'list' || route.kind === 'item');
    if (filtered) {
      for (const h of CONDITIONAL_REQUEST_HEADERS) delete req.headers[h];
      const ae = req.headers['accept-encoding'];
      req.headers['accept-encoding'] = decodableAcceptEncoding(Array.isArray(ae) ? ae.join(',') : ae);
    }
    (req as TaggedReq)[CTX] = { ctx, rt, reveal, headOnly };

    // No complete answer in time: 504. Exports and passthrough switch to an idle timeout once the answer begins.
    ctx.timer = setTimeout(() => {
      if (ctx.done) return;
      ctx.proxyReq?.destroy();
      answerError(ctx, res, 'upstream_timeout');
    }, rt.config.upstream.timeoutMs);
    ctx.upstreamStart = performance.now();

    proxy.web(req, res, {
      target: rt.target,
      agent: rt.agent,
      selfHandleResponse: filtered,
      // a HEAD on a filtered route gets what its GET would get, so the body must be fetched to be filtered
      method: headOnly ? 'GET' : undefined,
    }, (err) => {
      if (ctx.done) return;
      const code = (err as NodeJS.ErrnoException).code;
      deps.logger.warn({ msg: 'upstream error', requestId: ctx.id, code });
      if (res.headersSent) { res.destroy(); finish(ctx, 0, 'cut_off:upstream_error'); return; }
      answerError(ctx, res, 'upstream_unavailable');
    });
  }

  async function handleFilteredResponse(proxyRes: http.IncomingMessage, req: TaggedReq, res: http.ServerResponse): Promise<void> {
    const { ctx, rt, reveal, headOnly } = req[CTX]!;
    const route = ctx.route!;
    const status = proxyRes.statusCode ?? 502;
    if (ctx.done) { proxyRes.destroy(); return; }

    if (status < 200 || status > 299) {
      // Non-2xx answers pass unchanged (no governance entry, nothing to filter).
      clearTimeout(ctx.timer);
      res.writeHead(status, proxyRes.statusMessage, passthroughResponseHeaders(proxyRes.headers));
      if (headOnly) { proxyRes.destroy(); res.end(); finish(ctx, status); return; }
      armIdleTimeout(proxyRes, rt.config.upstream.timeoutMs, res);
      streamPipeline(proxyRes, res, (err) => finish(ctx, status, err ? 'cut_off' : undefined));
      return;
    }

    if (route.kind === 'export') return handleExport(proxyRes, req, res);

    if (!isJsonContentType(proxyRes.headers['content-type'])) {
      proxyRes.destroy();
      throw new GatewayError('upstream_body_invalid', 'The activity-log API did not answer with JSON; nothing was sent.');
    }
    const body = await collectBody(proxyRes, rt.config.upstream.maxBufferedBytes);
    if (ctx.done) return;
    // The complete answer is in: the upstream deadline no longer applies (governance has its own).
    clearTimeout(ctx.timer);
    // A granted reveal shows the private activities its limits allow and withholds the rest as for anyone else.
    const narrowed = reveal.granted ? hideForReveal(deps.engine.revealBatch(reveal.grant!.limits)) : undefined;
    const hide = narrowed ? narrowed.hide : deps.engine.hideBatch();

    let out: Buffer;
    let withheldItem = false;
    if (route.kind === 'list') {
      const r = await filterList(body, { items: route.items ?? 'data', total: route.total, extract: rt.extract, read: readerFor(rt), hide, remove: true });
      out = r.body;
      ctx.removed = r.removed;
    } else {
      const r = await classifyItem(body, rt.extract, hide);
      if (r.hidden && !reveal.granted) {
        ctx.removed = 1;
        throw new GatewayError('not_found');
      }
      if (r.hidden) {
        ctx.removed = 1;
        withheldItem = true;
      }
      out = body;
    }
    if (ctx.done) return;

    const headers = filteredResponseHeaders(proxyRes.headers);
    let entry: GovernanceEntry | undefined;
    if (reveal.granted) {
      entry = await writeGovernance(req, ctx, reveal, narrowed!.shown);
      if (ctx.done) return;
      // outside the reveal's limits: answered like a missing activity, after the entry that records the attempt
      if (withheldItem) throw new GatewayError('not_found');
    }
    clearTimeout(ctx.timer);
    res.statusCode = status;
    res.statusMessage = proxyRes.statusMessage ?? '';
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v!);
    res.setHeader('content-length', out.length);
    if (entry) {
      res.setHeader('cache-control', 'private, no-store');
      appendVary(res, [rt.config.identity?.header ?? 'authorization', rt.config.reveal.header, rt.config.reveal.scopeHeader, rt.config.reveal.reasonHeader]);
      res.setHeader('x-private-activities', 'shown');
      res.setHeader('x-governance-entry', entry.id);
    }
    res.end(headOnly ? undefined : out);
    finish(ctx, status);
  }

  async function writeGovernance(req: http.IncomingMessage, ctx: RequestContext, reveal: Reveal, shown: ShownTally): Promise<GovernanceEntry> {
    const sink = deps.governance();
    if (!sink) throw new GatewayError('governance_unavailable');
    const t0 = performance.now();
    const entry = await sink.append(viewedEntry(req, ctx, reveal.identity!, reveal.via!, reveal.grant!, shown));
    deps.metrics.governanceLatency.observe((performance.now() - t0) / 1000);
    return entry;
  }

  function handleExport(proxyRes: http.IncomingMessage, req: TaggedReq, res: http.ServerResponse): void {
    const { ctx, rt, reveal } = req[CTX]!;
    const route = ctx.route!;
    const enc = proxyRes.headers['content-encoding'];
    // Decide on the decoder before sending anything, so an unknown encoding is still a clean 502.
    const probe = decoderFor(typeof enc === 'string' ? enc : undefined);
    if (probe === 'unsupported') { proxyRes.destroy(); throw new GatewayError('upstream_body_invalid', 'The export uses a content encoding the gateway cannot decode; nothing was sent.'); }
    if (probe) probe.destroy();
    clearTimeout(ctx.timer);

    const acts = rt.config.activities;
    const last = (p: string): string => p.split('.').pop()!;
    const cols = route.columns ?? {};
    const filter = createExportFilter({
      format: route.format!,
      items: route.items ?? 'data',
      extract: rt.extract,
      read: readerFor(rt),
      fromFields: rt.fromFields,
      csvColumns: {
        id: cols.id ?? last(acts.id),
        actor: cols.actor ? [cols.actor] : acts.actor.map(last),
        timestamp: cols.timestamp ?? last(acts.timestamp),
        groups: cols.groups ? [cols.groups] : acts.groups.map(last),
        application: cols.application ?? (acts.application ? last(acts.application.path) : undefined),
      },
      hide: deps.engine.hideBatch(),
      onRemoved: (n) => { ctx.removed += n; },
    });
    const headers = filteredResponseHeaders(proxyRes.headers);
    res.statusCode = proxyRes.statusCode ?? 200;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v!);
    if (reveal.requested) res.setHeader('x-private-activities', 'never-exported');
    if (ctx.method === 'HEAD') { proxyRes.destroy(); res.end(); finish(ctx, res.statusCode); return; }
    armIdleTimeout(proxyRes, rt.config.upstream.timeoutMs, res);

    // Decoder chosen on the first byte (raw vs zlib deflate); then a plain stream pipeline.
    let started = false;
    proxyRes.once('data', (chunk: Buffer) => {
      started = true;
      proxyRes.pause();
      const decoder = decoderFor(typeof enc === 'string' ? enc : undefined, chunk[0]);
      const stages: NodeJS.ReadWriteStream[] = [];
      if (decoder && decoder !== 'unsupported') stages.push(decoder);
      stages.push(filter);
      const head = stages[0]!;
      head.write(chunk);
      streamPipeline([proxyRes, ...stages, res] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], (err) => {
        if (err) {
          // A broken upstream stream is cut off, never completed with unfiltered bytes.
          if (!ctx.done) deps.metrics.exportCutoffs.inc();
          res.destroy();
          finish(ctx, res.statusCode, 'cut_off:' + (err.name || 'error'));
        } else finish(ctx, res.statusCode);
      });
    });
    proxyRes.once('end', () => {
      // an empty export: nothing went through the data handler
      if (!started && !ctx.done) {
        filter.end();
        filter.pipe(res);
        filter.on('end', () => finish(ctx, res.statusCode));
        filter.on('error', () => { res.destroy(); finish(ctx, res.statusCode, 'cut_off'); });
      }
    });
  }

  return {
    handle: (req: http.IncomingMessage, res: http.ServerResponse) => {
      handle(req, res).catch((err) => {
        deps.logger.error({ msg: 'unhandled', error: (err as Error)?.message });
        if (!res.headersSent) sendError(res, 'internal_error', 'unknown');
        else res.destroy();
      });
    },
    close: () => proxy.close?.(),
  };
}
