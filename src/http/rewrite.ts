/**
 * Stage 6 for list and item routes (SPEC §4.6): the whole upstream body is
 * read (bounded, decoded), validated and filtered. `hide` says what must be
 * removed: the private activities for an ordinary consumer; for a granted
 * reveal only those outside its scope and permission (SPEC §10), the shown
 * ones being tallied by the caller. An item that must be removed is answered
 * exactly like a missing one (absentItem.ts) — for a granted reveal only after
 * its governance entry (the pipeline answers it then).
 */
import type http from 'node:http';
import type { ItemRoute, ListRoute } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { HideBatch } from '../privacy/types.js';
import { classifyItem } from '../rewrite/item.js';
import { filterList } from '../rewrite/list.js';
import type { Exchange } from './exchange.js';
import { collectBody, isJsonContentType } from './upstreamBody.js';

export interface Rewritten {
  body: Buffer;
  /** an item route whose activity is withheld: answered like a missing one (after the entry of a granted reveal) */
  withheldItem: boolean;
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

export async function rewriteBody(ex: Exchange, route: ListRoute | ItemRoute, body: Buffer, hide: HideBatch): Promise<Rewritten> {
  const { rt } = ex;
  if (route.kind === 'list') {
    const r = await filterList(body, {
      items: route.items,
      total: route.total,
      extract: rt.extract,
      read: rt.read,
      hide,
      remove: true,
      pseudonyms: rt.pseudonyms,
    });
    ex.removed = r.removed;
    return { body: r.body, withheldItem: false };
  }
  const r = await classifyItem(body, rt.extract, hide, rt.read, rt.pseudonyms);
  if (!r.hidden) return { body: r.body ?? body, withheldItem: false };
  ex.removed = 1;
  return { body, withheldItem: true };
}
