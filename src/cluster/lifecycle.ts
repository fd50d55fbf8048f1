/**
 * One gateway process's signals (SPEC §8): SIGHUP reloads the configuration file (a bad one
 * is rejected and logged, the running config kept); SIGTERM / SIGINT stop accepting, let
 * in-flight requests finish (up to 10 s), flush and end with 0. The same for a single
 * process and for each worker of `server.workers`.
 */
import { loadConfigFile } from '../config/index.js';
import type { Gateway } from '../gateway.js';

export const DRAIN_MS = 10_000;

export function reloadOnHangup(gateway: Gateway, file: string): void {
  const log = gateway.logger;
  process.on('SIGHUP', () => {
    const r = loadConfigFile(file, process.env);
    if (!r.ok) {
      gateway.metrics.reloads.inc({ result: 'rejected' });
      log.error({ msg: 'config reload rejected; keeping the running config', problems: r.problems });
      return;
    }
    gateway.reload(r.config).catch((err) => {
      gateway.metrics.reloads.inc({ result: 'rejected' });
      log.error({ msg: 'config reload failed; keeping the running config', error: (err as Error).message });
    });
  });
}

/** Resolves with the exit code once the gateway stopped on SIGTERM / SIGINT; `onStop` is told first. */
export function untilStopped(gateway: Gateway, onStop?: () => void): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string) => {
      if (stopping) return;
      stopping = true;
      onStop?.();
      gateway.logger.info({ msg: 'shutting down', signal: why });
      gateway.close(DRAIN_MS).then(
        () => resolve(0),
        (err) => {
          gateway.logger.error({ msg: 'shutdown error', error: (err as Error).message });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
