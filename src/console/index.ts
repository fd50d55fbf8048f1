/** The admin console (SPEC §13): wiring of its parts for the gateway. */
import type { ConsoleConfig, GatewayConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { createConsoleHandler, type ConsoleForward, type ConsoleHandler } from './handler.js';
import { createOidcClient } from './oidc.js';
import { openPostgresSessionStore } from './postgresSessions.js';
import { createMemorySessionStore } from './sessions.js';
import { loadStaticFiles } from './staticFiles.js';

export { createConsoleHandler, type ConsoleForward, type ConsoleHandler } from './handler.js';

export interface OpenConsoleOptions {
  config: () => GatewayConfig;
  forward: ConsoleForward;
  now: () => number;
  logger?: Logger;
  metrics?: Pick<Metrics, 'consoleSignIns'>;
  uiDir?: string;
}

/**
 * Sessions live where the privacy state lives: in PostgreSQL (shared by every replica) when
 * the state store is postgres, else in this process's memory (a single instance; a restart
 * signs everyone out).
 */
export async function openConsole(settings: ConsoleConfig, config: GatewayConfig, instance: string, o: OpenConsoleOptions): Promise<ConsoleHandler> {
  const sessions =
    config.state.store === 'postgres'
      ? await openPostgresSessionStore({
          url: config.state.postgresUrl!,
          instance,
          onError: (err) => o.logger?.warn({ msg: 'console sessions database error', code: (err as { code?: string })?.code }),
        })
      : createMemorySessionStore();
  if (!loadStaticFiles(o.uiDir).available) o.logger?.warn({ msg: 'the admin console was not built (npm run build): its pages answer 404' });
  return createConsoleHandler({
    settings,
    config: o.config,
    sessions,
    oidc: createOidcClient(settings.oidc),
    files: loadStaticFiles(o.uiDir),
    forward: o.forward,
    now: o.now,
    logger: o.logger,
    metrics: o.metrics,
  });
}
