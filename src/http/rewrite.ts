/**
 * Stage 6 for list and item routes (SPEC §4.6): the whole upstream body is
 * read (bounded, decoded), validated and filtered. Private activities are
 * removed unless reveal was granted; an item that is private and not revealed
 * is 404 `not_found`, exactly like a missing one.
 */
import type http from 'node:http';
import { GatewayError } from '../errors.js';
import type { HideBatch } from '../privacy/types.js';
import { classifyItem } from '../rewrite/item.js';
import { filterList } from '../rewrite/list.js';
import type { Exchange } from './exchange.js';
import { collectBody, isJsonContentType } from './upstreamBody.js';

export interface Rewritten {
  body: Buffer;
  /** private activities in the upstream answer (removed, or shown on reveal) */
  privateCount: number;
  privateIds: string[];
}

/** The complete JSON body; the upstream deadline ends once it is in (governance has its own). */
export async function readBody(ex: Exchange, upstream: http.IncomingMessage): Promise<Buffer> {
  if (!isJsonContentType(upstream.headers['content-type'])) {
    upstream.destroy();
    throw new GatewayError('upstream_body_invalid', 'The activity-log API did not answer with JSON; nothing was sent.');
  }
  const body = await collectBody(upstream, ex.rt.config.upstream.maxBufferedBytes);
  ex.clearDeadline();
  return body;
}

export async function rewriteBody(ex: Exchange, body: Buffer, hide: HideBatch): Promise<Rewritten> {
  const { rt, route } = ex;
  if (route?.kind === 'list') {
    const r = await filterList(body, { items: route.items ?? 'data', total: route.total, extract: rt.extract, read: rt.read, hide, remove: !ex.reveal.granted });
    ex.removed = r.removed;
    return { body: r.body, privateCount: r.privateCount, privateIds: r.privateIds };
  }
  const r = await classifyItem(body, rt.extract, hide, rt.read);
  if (!r.hidden) return { body, privateCount: 0, privateIds: [] };
  if (!ex.reveal.granted) {
    ex.removed = 1;
    throw new GatewayError('not_found');
  }
  return { body, privateCount: 1, privateIds: r.id === undefined ? [] : [r.id] };
}
