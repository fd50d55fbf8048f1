/**
 * Streams governance entries as NDJSON or CSV (SPEC §7 `format=`): entries are
 * read one at a time from the sink's stream and written in chunks of about
 * 64 KiB, waiting for the socket to drain, so memory stays flat however long
 * the log is. A failure after the first byte cuts the response off (a JSON
 * error cannot follow a body that has begun); before it, it becomes the error.
 */
import { once } from 'node:events';
import type http from 'node:http';
import { csvHeader, csvRow } from '../governance/query.js';
import type { GovernanceEntry } from '../governance/types.js';

const CHUNK = 64 * 1024;

export function streamEntries(res: http.ServerResponse, entries: AsyncIterable<GovernanceEntry>, format: 'ndjson' | 'csv', limit?: number): Promise<void> {
  const headers =
    format === 'csv'
      ? { contentType: 'text/csv; charset=utf-8', filename: 'governance.csv', first: csvHeader() }
      : { contentType: 'application/x-ndjson; charset=utf-8' };
  return streamRows(res, rowsOf(entries, format, limit), headers);
}

/** One text row per entry, at most `limit`; stopping early ends the sink's stream too. */
async function* rowsOf(entries: AsyncIterable<GovernanceEntry>, format: 'ndjson' | 'csv', limit?: number): AsyncGenerator<string> {
  let n = 0;
  for await (const e of entries) {
    if (limit !== undefined && n >= limit) return;
    yield format === 'csv' ? csvRow(e) : JSON.stringify(e) + '\n';
    n++;
  }
}

/**
 * Waits for 'drain' or 'close', then removes the listeners of both waits: a
 * bare Promise.race of two once() calls leaves the loser's listeners behind,
 * one pair per wait, for the life of a long stream.
 */
async function drainedOrClosed(res: http.ServerResponse): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([once(res, 'drain', { signal: ac.signal }), once(res, 'close', { signal: ac.signal })]);
  } finally {
    ac.abort();
  }
}

/**
 * Streams text rows (governance entries, a report's CSV): chunks of about 64 KiB, waiting
 * for the socket to drain; the first row is fetched before the headers go out, so a source
 * that fails at once still answers with a JSON error.
 */
export async function streamRows(
  res: http.ServerResponse,
  rows: AsyncIterable<string>,
  headers: { contentType: string; filename?: string; first?: string },
): Promise<void> {
  const iterator = rows[Symbol.asyncIterator]();
  const first = await iterator.next();
  res.statusCode = 200;
  res.setHeader('content-type', headers.contentType);
  res.setHeader('cache-control', 'no-store');
  if (headers.filename !== undefined) res.setHeader('content-disposition', `attachment; filename="${headers.filename}"`);
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  let buf = headers.first ?? '';
  try {
    for (let r = first; !r.done && !closed; r = await iterator.next()) {
      buf += r.value;
      if (buf.length >= CHUNK) {
        const ok = res.write(buf);
        buf = '';
        if (!ok && !closed) await drainedOrClosed(res);
      }
    }
  } catch (err) {
    res.destroy(err as Error);
    await iterator.return?.();
    return;
  }
  await iterator.return?.();
  if (!closed) res.end(buf);
}
