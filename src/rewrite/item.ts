/**
 * Decision for item routes (SPEC route kind `item`): the body must be one
 * activity, a JSON object, validated strictly by the same scanner as lists.
 * The caller turns `hidden` into 404 `not_found` unless reveal was granted.
 *
 * Fail closed: a hide() answer that is not exactly `false` hides the activity.
 */
import type { ActivityFacts, HideBatch } from '../privacy/types.js';
import { BodyInvalidError } from '../engine/errors.js';
import { scanJsonFast } from '../engine/wasmScan.js';
import type { FieldReader } from './fieldReader.js';
import { answerKind, type PseudonymTargets } from './list.js';
import { pseudonymiseJsonRecord } from './pseudonymise.js';

export async function classifyItem(
  body: Buffer,
  extract: (record: unknown) => ActivityFacts,
  hide: HideBatch,
  /** optional byte-level reader equal to extract(JSON.parse(body)) (fieldReader.ts): fields located by the validating scan */
  read?: FieldReader,
  /** SPEC §14: the actor's pseudonym target; absent = a pseudonymised activity is withheld */
  pseudonyms?: PseudonymTargets,
): Promise<{ hidden: boolean; id?: string; body?: Buffer }> {
  const scan = scanJsonFast(body, read ? { fields: read.plan } : {});
  if (scan.root !== 'object') throw new BodyInvalidError('item body is not a JSON object');
  const facts = read && scan.slots ? read.fromSlots(body, 0, body.length, scan.slots) : extract(JSON.parse(body.toString('utf8')));
  const answer = await hide([facts]);
  if (!Array.isArray(answer) || answer.length !== 1) {
    throw new Error('hide() returned a result of the wrong length');
  }
  const kind = answerKind(answer[0], facts, pseudonyms);
  const hidden = kind === 'remove';
  const out: { hidden: boolean; id?: string; body?: Buffer } = { hidden };
  if (facts.id !== undefined) out.id = facts.id;
  if (kind === 'pseudonymise') out.body = pseudonymiseJsonRecord(body, pseudonyms!(facts.actor!));
  return out;
}
