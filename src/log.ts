import { EOL } from 'node:os';
import winston from 'winston';

/**
 * JSON lines on stdout. Callers must never pass activity bodies, tokens or
 * private activity ids: only the fields of the access line and operational facts.
 */
export function createLogger(level: string, instance: string): winston.Logger {
  const logger = winston.createLogger({
    level,
    defaultMeta: { instance },
    // flushLines first: the access lines batched so far go out before this line (same order as written)
    format: winston.format.combine(flushFirst(), flatten(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console({ stderrLevels: [] })],
  });
  const fast: FastInfo = (fields) => {
    if (!plain(fields)) logger.info(fields);
    else if (logger.isInfoEnabled()) batchLine(infoLine(fields, instance));
  };
  (logger as Tagged)[FAST_INFO] = fast;
  const end = logger.end.bind(logger);
  logger.end = ((...args: Parameters<typeof end>) => {
    flushLines();
    return end(...args);
  }) as typeof logger.end;
  return logger;
}

/**
 * The fast lines of one event-loop turn, written to stdout as one chunk on
 * the next setImmediate: one write instead of one per request. The bytes and
 * their order are those of a write per line; every winston line, the logger's
 * end, the gateway's close and the process's exit write the pending lines
 * first. A process killed outright (SIGKILL, an abort) loses at most the lines
 * of its current turn. A chunk never exceeds PIPE_BUF (4096 bytes) unless one
 * line does: the workers of server.workers share stdout, and a pipe keeps a
 * write of at most PIPE_BUF bytes in one piece, so their lines never interleave.
 */
let pending = '';
let pendingBytes = 0;
let scheduled = false;
let exitHook = false;
export const PIPE_BUF = 4096;

function batchLine(line: string): void {
  const bytes = Buffer.byteLength(line);
  if (pendingBytes + bytes > PIPE_BUF) flushLines();
  pending += line;
  pendingBytes += bytes;
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushScheduled);
  }
  if (!exitHook) {
    exitHook = true;
    process.on('exit', flushLines);
  }
}

function flushScheduled(): void {
  scheduled = false;
  flushLines();
}

/** Writes the batched access lines now (a no-op when there are none). */
export function flushLines(): void {
  if (pending.length === 0) return;
  const out = pending;
  pending = '';
  pendingBytes = 0;
  process.stdout.write(out);
}

const flushFirst = winston.format((info) => {
  flushLines();
  return info;
});

export type Logger = winston.Logger;

/** Writes one flat info line, byte for byte what logger.info(fields) writes (batched per event-loop turn). */
export type FastInfo = (fields: Record<string, unknown>) => void;

const FAST_INFO = Symbol('apg.fastInfo');
type Tagged = winston.Logger & { [FAST_INFO]?: FastInfo };

/**
 * For the line written on every request (the access line): the same bytes as
 * `logger.info(fields)` on a logger made by createLogger — winston's flatten,
 * timestamp and json formats, the Console transport's stdout and EOL — without
 * winston's object-mode stream pipeline, which costs ~11 µs a line against
 * ~3 µs (in-process, docs/benchmarks.md). Any other logger (tests pass their
 * own transports) has none: callers fall back to logger.info.
 */
export function fastInfo(logger: Logger): FastInfo | undefined {
  return (logger as Tagged)[FAST_INFO];
}

/**
 * Fields infoLine writes exactly as winston would: no `message` (winston would
 * take the object itself as its info) and only scalar values (safe-stable-stringify
 * sorts nested keys, JSON.stringify does not).
 */
function plain(fields: Record<string, unknown>): boolean {
  if ('message' in fields) return false;
  for (const k in fields) {
    const v = fields[k];
    if (v !== null && typeof v === 'object') return false;
  }
  return true;
}

/**
 * The JSON line of `logger.info(fields)`: { message: fields, level, instance }
 * flattened (fields override level and instance, message becomes fields.msg),
 * a timestamp, keys sorted (safe-stable-stringify's deterministic order, which
 * is Array.prototype.sort's), values as JSON.stringify writes them.
 */
export function infoLine(fields: Record<string, unknown>, instance: string): string {
  const info: Record<string, unknown> = { level: 'info', instance, ...fields };
  info.message = typeof fields.msg === 'string' ? fields.msg : '';
  // logform's timestamp keeps one the fields bring
  if (!info.timestamp) info.timestamp = new Date().toISOString();
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(info).sort()) sorted[k] = info[k];
  return JSON.stringify(sorted) + EOL;
}

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
