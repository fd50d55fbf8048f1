/**
 * The admin application: everything under server.adminPrefix (SPEC §7, §13), one express
 * app of small route modules. The dispatcher hands it the exchange; the app builds one
 * admin context for it, routes it, answers through the one responder, and every thrown
 * error ends in the one mapping (`fail`). Express is used here (and only here): admin
 * traffic is light and benefits from its routing and body parsing, while the proxy path
 * stays on plain node:http.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { GatewayError } from '../errors.js';
import type { ExchangeHandler } from '../http/dispatch.js';
import type { Exchange } from '../http/exchange.js';
import { failWith } from '../http/fail.js';
import { authenticateAdmin } from './authenticate.js';
import { isBodyParserError } from './body.js';
import { auditWith, createSerialiser, recordWith } from './changes.js';
import { AdminContext, attachContext, contextOf } from './context.js';
import type { AdminDeps, ChangeTools } from './deps.js';
import { sweepExpired } from './expiry.js';
import { changeRoutes, pendingChanges } from './routes/changes.js';
import { consoleRoutes } from './routes/console.js';
import { directoryRoutes } from './routes/directory.js';
import { governanceRoutes } from './routes/governance.js';
import { groupRoutes } from './routes/groups.js';
import { healthRoutes } from './routes/health.js';
import { openApiDocument, packageVersion } from './openapi.js';
import { sendJson } from '../http/responder.js';
import { permissionRoutes } from './routes/permissions.js';
import { pseudonymRoutes } from './routes/pseudonyms.js';
import { reportRoutes } from './routes/reports.js';
import { revealRequestRoutes } from './routes/revealRequests.js';

export type { AdminDeps } from './deps.js';

/**
 * How one gateway process changes state: one serialiser for the API's changes and the expiry
 * sweep, so that "check, audit, apply" is one step per instance (across workers: the primary's lock).
 */
export function adminTools(deps: AdminDeps): ChangeTools {
  const lost = (err: unknown) => {
    deps.metrics.governanceFailures.inc();
    deps.logger.error({ msg: 'a failed change could not be recorded as failed', error: err instanceof Error ? err.name : 'error' });
  };
  return { serialised: deps.serialise ?? createSerialiser(), record: recordWith(auditWith(deps.governance), lost) };
}

/** The admin API under /api (described by src/admin/openapi.ts): authenticated, JSON bodies, one route module per resource. */
export function apiRouter(deps: AdminDeps, tools: ChangeTools = adminTools(deps)): express.Router {
  const api = express.Router();
  api.use(authenticateAdmin(deps));
  api.use(express.json({ limit: '16kb', type: () => true }));
  api.get('/openapi.json', (_req, res) => sendJson(res, 200, openApiDocument({ adminPrefix: deps.config().server.adminPrefix, version: packageVersion() })));
  const pending = pendingChanges(deps, tools);
  api.use(groupRoutes(deps, tools, pending));
  api.use(permissionRoutes(deps, tools, pending));
  api.use(changeRoutes(deps, tools));
  api.use(directoryRoutes(deps));
  api.use(governanceRoutes(deps));
  api.use(revealRequestRoutes(deps, tools));
  api.use(pseudonymRoutes(deps));
  api.use(reportRoutes(deps));
  return api;
}

/** Express 5 forwards thrown errors and rejected promises here: the one mapping (`fail`) for every admin error. */
export function adminErrorHandler(deps: Parameters<typeof failWith>[0]) {
  const fail = failWith(deps);
  return (err: unknown, _req: Request, res: Response, _next: NextFunction): void => {
    fail(contextOf(res).ex, isBodyParserError(err) ? new GatewayError('bad_request', 'The body must be a small JSON object.') : err);
  };
}

/** The express app of the admin endpoints, paths relative to the admin prefix (also walked by the OpenAPI test). */
export function adminExpressApp(deps: AdminDeps, tools: ChangeTools = adminTools(deps)): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(healthRoutes(deps));
  if (deps.console) app.use(consoleRoutes(deps, deps.console));
  app.use('/api', apiRouter(deps, tools));
  app.use(() => {
    throw new GatewayError('not_found');
  });
  app.use(adminErrorHandler(deps));
  return app;
}

export interface AdminApp extends ExchangeHandler {
  /** SPEC §11 v3: records what expired since the last look (the gateway runs it once a minute) */
  sweepExpired(): Promise<void>;
}

export function createAdminApp(deps: AdminDeps): AdminApp {
  const tools = adminTools(deps);
  const app = adminExpressApp(deps, tools);
  return {
    sweepExpired: () => sweepExpired(deps, tools),
    handle(ex: Exchange) {
      const prefix = ex.rt.config.server.adminPrefix;
      ex.req.url = (ex.path.slice(prefix.length) || '/') + (ex.query ? `?${ex.query}` : '');
      attachContext(ex.res, new AdminContext(ex));
      app(ex.req, ex.res);
    },
  };
}
