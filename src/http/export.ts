/**
 * Stage 6 for export routes (SPEC §4 route kind `export`): the upstream body is
 * streamed through the format's filter in constant memory. Private activities
 * are always removed; a reveal request is ignored and said so. A stream that
 * turns out broken is cut off, never completed with unfiltered bytes.
 */
import type http from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import type { ExportRoute } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { HideBatch } from '../privacy/types.js';
import { createExportFilter, type CsvColumns } from '../rewrite/export/index.js';
import type { Exchange } from './exchange.js';
import { filteredResponseHeaders } from './headers.js';
import { decoderFor } from './upstreamBody.js';

/** CSV header names: the route's overrides, else the last segment of each activities path. */
function csvColumns(ex: Exchange, route: ExportRoute): CsvColumns {
  const acts = ex.rt.config.activities;
  const last = (p: string): string => p.slice(p.lastIndexOf('.') + 1);
  const cols = (route.format === 'csv' ? route.columns : undefined) ?? {};
  return {
    id: cols.id ?? last(acts.id),
    actor: cols.actor ? [cols.actor] : acts.actor.map(last),
    timestamp: cols.timestamp ?? last(acts.timestamp),
    groups: cols.groups ? [cols.groups] : acts.groups.map(last),
    application: cols.application ?? (acts.application ? last(acts.application.path) : undefined),
  };
}

/**
 * Bytes of filtered output held before the response starts. An export that
 * breaks within them (a broken first record, an unclosed quote in a small
 * file, an upstream that dies early) is still a clean JSON 502 (SPEC §5);
 * after them the answer streams and a fault cuts it off.
 */
export const HOLD_BACK_BYTES = 64 * 1024;

/**
 * Streams the export. Resolves when the export ended (completely, or cut off
 * after its first bytes left); rejects when it failed before anything was
 * sent, so the caller answers with the JSON error.
 */
export async function streamExport(ex: Exchange, route: ExportRoute, upstream: http.IncomingMessage, hide: HideBatch): Promise<void> {
  const { res, rt } = ex;
  const enc = upstream.headers['content-encoding'];
  const encoding = typeof enc === 'string' ? enc : undefined;
  // Decide on the decoder before sending anything, so an unknown encoding is still a clean 502.
  const probe = decoderFor(encoding);
  if (probe === 'unsupported') {
    upstream.destroy();
    throw new GatewayError('upstream_body_invalid', 'The export uses a content encoding the gateway cannot decode; nothing was sent.');
  }
  probe?.destroy();
  ex.clearDeadline();

  const filter = createExportFilter({
    format: route.format,
    items: route.format === 'json' ? route.items : undefined,
    total: route.format === 'json' ? route.total : undefined,
    extract: rt.extract,
    read: rt.read,
    fromFields: rt.fromFields,
    csvColumns: csvColumns(ex, route),
    hide,
    pseudonyms: rt.pseudonyms,
    onRemoved: (n) => {
      ex.removed += n;
    },
  });
  res.statusCode = upstream.statusCode ?? 200;
  for (const [k, v] of Object.entries(filteredResponseHeaders(upstream.headers))) if (v !== undefined) res.setHeader(k, v);
  if (ex.reveal.requested) res.setHeader('x-private-activities', 'never-exported');
  if (ex.method === 'HEAD') {
    upstream.destroy();
    res.end();
    return;
  }
  // silence from the upstream longer than its timeout ends the export
  upstream.setTimeout(rt.config.upstream.timeoutMs, () => upstream.destroy(new GatewayError('upstream_timeout')));
  deliver(ex, filter);

  await new Promise<void>((resolve, reject) => {
    const done = (err: Error | null | undefined): void => {
      if (!err || ex.ended) return resolve();
      if (res.headersSent) {
        ex.cutOff(err instanceof GatewayError ? err.code : 'upstream_closed');
        return resolve();
      }
      filter.destroy();
      reject(
        err instanceof GatewayError
          ? err
          : new GatewayError('upstream_unavailable', 'The activity-log API ended the export before it was complete; nothing was sent.', { cause: err }),
      );
    };
    // Decoder chosen on the first byte (raw vs zlib deflate); then a plain stream pipeline.
    let started = false;
    upstream.once('data', (chunk: Buffer) => {
      started = true;
      upstream.pause();
      const decoder = decoderFor(encoding, chunk[0]);
      const stages: NodeJS.ReadWriteStream[] = [];
      if (decoder && decoder !== 'unsupported') stages.push(decoder);
      stages.push(filter);
      stages[0]?.write(chunk);
      pipeline([upstream, ...stages], done);
    });
    upstream.once('end', () => {
      // an empty export: nothing went through the data handler
      if (started) return;
      filter.once('error', done);
      filter.once('end', () => done(null));
      filter.end();
    });
    upstream.once('error', (err) => {
      if (!started) done(err);
    });
    upstream.once('close', () => {
      if (!started && !upstream.complete) done(new Error('upstream closed'));
    });
  });
}

/**
 * Writes the filter's output to the response with backpressure, holding the
 * first HOLD_BACK_BYTES (or the whole export, if smaller) before the response starts.
 */
function deliver(ex: Exchange, filter: Readable): void {
  const { res } = ex;
  let held: Buffer[] | null = [];
  let heldBytes = 0;
  const write = (b: Buffer): void => {
    if (b.length === 0 || res.write(b)) return;
    filter.pause();
    res.once('drain', () => filter.resume());
  };
  const release = (): void => {
    if (!held) return;
    const b = Buffer.concat(held, heldBytes);
    held = null;
    write(b);
  };
  filter.on('data', (chunk: Buffer) => {
    if (!held) return write(chunk);
    held.push(chunk);
    heldBytes += chunk.length;
    if (heldBytes >= HOLD_BACK_BYTES) release();
  });
  filter.once('end', () => {
    release();
    res.end();
  });
}
