/**
 * Stage 6 for export routes (SPEC §4 route kind `export`): the upstream body is
 * streamed through the format's filter in constant memory. Private activities
 * are always removed; a reveal request is ignored and said so. A stream that
 * turns out broken is cut off, never completed with unfiltered bytes.
 */
import type http from 'node:http';
import { pipeline } from 'node:stream';
import { GatewayError } from '../errors.js';
import type { HideBatch } from '../privacy/types.js';
import { createExportFilter, type CsvColumns } from '../rewrite/export/index.js';
import type { Exchange } from './exchange.js';
import { filteredResponseHeaders } from './headers.js';
import { cutOffWhenUpstreamDies, idleTimeout } from './relay.js';
import { decoderFor } from './upstreamBody.js';

/** CSV header names: the route's overrides, else the last segment of each activities path. */
function csvColumns(ex: Exchange): CsvColumns {
  const acts = ex.rt.config.activities;
  const last = (p: string): string => p.slice(p.lastIndexOf('.') + 1);
  const cols = ex.route?.columns ?? {};
  return {
    id: cols.id ?? last(acts.id),
    actor: cols.actor ? [cols.actor] : acts.actor.map(last),
    timestamp: cols.timestamp ?? last(acts.timestamp),
    groups: cols.groups ? [cols.groups] : acts.groups.map(last),
    application: cols.application ?? (acts.application ? last(acts.application.path) : undefined),
  };
}

export function streamExport(ex: Exchange, upstream: http.IncomingMessage, hide: HideBatch): void {
  const { res, rt, route } = ex;
  cutOffWhenUpstreamDies(ex, upstream);
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
    format: route?.format ?? 'ndjson',
    items: route?.items ?? 'data',
    extract: rt.extract,
    read: rt.read,
    fromFields: rt.fromFields,
    csvColumns: csvColumns(ex),
    hide,
    onRemoved: (n) => { ex.removed += n; },
  });
  res.statusCode = upstream.statusCode ?? 200;
  for (const [k, v] of Object.entries(filteredResponseHeaders(upstream.headers))) if (v !== undefined) res.setHeader(k, v);
  if (ex.reveal.requested) res.setHeader('x-private-activities', 'never-exported');
  if (ex.method === 'HEAD') {
    upstream.destroy();
    res.end();
    return;
  }
  idleTimeout(ex, upstream);

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
    pipeline([upstream, ...stages, res], (err) => {
      if (err) ex.cutOff(err.name || 'error');
    });
  });
  upstream.once('end', () => {
    // an empty export: nothing went through the data handler
    if (started || ex.answered) return;
    filter.end();
    filter.pipe(res);
    filter.on('error', () => ex.cutOff('error'));
  });
}
