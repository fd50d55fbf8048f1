import winston from 'winston';

/**
 * JSON lines on stdout. Callers must never pass activity bodies, tokens or
 * private activity ids: only the fields of the access line and operational facts.
 */
export function createLogger(level: string, instance: string): winston.Logger {
  return winston.createLogger({
    level,
    defaultMeta: { instance },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: [] })],
  });
}

export type Logger = winston.Logger;
