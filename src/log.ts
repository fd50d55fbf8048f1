import winston from 'winston';

/**
 * JSON lines on stdout. Callers must never pass activity bodies, tokens or
 * private activity ids: only the fields of the access line and operational facts.
 */
export function createLogger(level: string, instance: string): winston.Logger {
  return winston.createLogger({
    level,
    defaultMeta: { instance },
    format: winston.format.combine(flatten(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: [] })],
  });
}

export type Logger = winston.Logger;

/**
 * The code logs plain objects (`logger.info({ msg: 'access', … })`); winston would nest
 * them under `message`. Lift their fields to the top level so each line is one flat
 * JSON object, with `msg` as the message.
 */
export const flatten = winston.format((info) => {
  const m: unknown = info.message;
  if (m && typeof m === 'object' && !Array.isArray(m)) {
    Object.assign(info, m);
    info.message = typeof (m as { msg?: unknown }).msg === 'string' ? (m as { msg: string }).msg : '';
  }
  return info;
});
