/**
 * Four-eyes approval (SPEC §11), pure: the shape of a reveal request, the
 * transitions of its life (pending → approved | denied), and whether a reveal
 * may use it now. I/O (state store, webhook, governance) happens elsewhere.
 */
import type { RevealRequest } from './types.js';

export type { RevealRequest, RevealRequestStatus } from './types.js';

export type ApprovalCheck = { ok: true; request: RevealRequest } | { ok: false; message: string };

/**
 * May `principal` reveal at `now` under the request named `id`? The window is
 * [validFrom, validUntil): open at approval, closed at the instant it ends.
 */
export function checkApproval(id: string | undefined, request: RevealRequest | undefined, principal: string, now: number): ApprovalCheck {
  if (id === undefined || id.trim() === '')
    return { ok: false, message: 'With four-eyes approval on, a reveal must name an approved reveal request in X-Reveal-Request.' };
  if (request === undefined) return { ok: false, message: 'The reveal request named in X-Reveal-Request does not exist.' };
  if (request.requester !== principal.toLowerCase()) return { ok: false, message: 'The reveal request named in X-Reveal-Request belongs to someone else.' };
  if (request.status !== 'approved') return { ok: false, message: `The reveal request is ${request.status}, not approved.` };
  const from = Date.parse(request.validFrom ?? '');
  const until = Date.parse(request.validUntil ?? '');
  if (!(from <= now)) return { ok: false, message: 'The approval window of the reveal request has not opened yet.' };
  if (!(now < until)) return { ok: false, message: `The approval window of the reveal request closed at ${request.validUntil}.` };
  return { ok: true, request };
}
