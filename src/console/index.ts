/**
 * The admin console (SPEC §13): its parts, opened once by the gateway. The console's
 * routes are part of the admin application (admin/routes/console.ts); this folder holds
 * what they are made of: sessions, OIDC sign-in, cookies, security headers, the built app.
 */
import type { Clock } from '../clock.js';
import type { ConsoleConfig, GatewayConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { createOidcClient, type OidcClient } from './oidc.js';
import { openPostgresSessionStore } from './postgresSessions.js';
import { createMemorySessionStore, type SessionStore } from './sessions.js';
import { loadStaticFiles, type StaticFiles } from './staticFiles.js';

export interface ConsoleParts {
  settings: ConsoleConfig;
  sessions: SessionStore;
  oidc: OidcClient;
  files: StaticFiles;
  close(): Promise<void>;
}

export interface OpenConsoleOptions {
  clock: Clock;
  logger?: Logger;
  metrics?: Pick<Metrics, 'consoleSignIns'>;
  uiDir?: string;
  /** sessions kept elsewhere (a worker of server.workers: the primary's); closed by their owner */
  sessions?: SessionStore;
}

/**
 * Sessions live where the privacy state lives: in PostgreSQL (shared by every replica) when
 * the state store is postgres, else in this process's memory (a single instance; a restart
 * signs everyone out).
 */
export async function openConsole(settings: ConsoleConfig, config: GatewayConfig, instance: string, o: OpenConsoleOptions): Promise<ConsoleParts> {
  const sessions =
    o.sessions ??
    (config.state.store === 'postgres'
      ? await openPostgresSessionStore({
          url: config.state.postgresUrl!,
          instance,
          clock: o.clock,
          onError: (err) => o.logger?.warn({ msg: 'console sessions database error', code: (err as { code?: string })?.code }),
        })
      : createMemorySessionStore());
  const files = loadStaticFiles(o.uiDir);
  if (!files.available) o.logger?.warn({ msg: 'the admin console was not built (npm run build): its pages answer 404' });
  return { settings, sessions, oidc: createOidcClient(settings.oidc), files, close: () => sessions.close() };
}
