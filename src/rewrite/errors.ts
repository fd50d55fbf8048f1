/**
 * The upstream body cannot be filtered safely (malformed JSON, missing or
 * mistyped activity array, …). Callers answer 502 `upstream_body_invalid` and
 * send nothing of the body.
 *
 * `reason` is a short fixed description plus at most a byte offset: it never
 * carries body content, so it is safe to log.
 */
export class BodyInvalidError extends Error {
  override readonly name = 'BodyInvalidError';
  constructor(readonly reason: string) {
    super(`upstream body invalid: ${reason}`);
  }
}
