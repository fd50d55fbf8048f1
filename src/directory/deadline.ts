/**
 * Runs one directory operation under a deadline: the operation gets an AbortSignal that
 * fires at `timeoutMs`, and the returned promise rejects then even if the operation ignores
 * the signal, so a directory that stops answering never hangs a request.
 */
import { DirectoryError } from './types.js';

export async function withDeadline<T>(timeoutMs: number, op: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new DirectoryError(`no answer within ${timeoutMs} ms`);
      ac.abort(err);
      reject(err);
    }, timeoutMs);
  });
  const onOuter = () => ac.abort(new DirectoryError('closed'));
  outer?.addEventListener('abort', onOuter, { once: true });
  if (outer?.aborted) onOuter();
  try {
    return await Promise.race([op(ac.signal), expired]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}

/** The remaining time until `deadline` (performance.now() ms), at least 0. */
export function remaining(deadline: number): number {
  return Math.max(0, deadline - performance.now());
}

/** Rejects with the signal's reason once it aborts (for awaiting a timer or a socket). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(reasonOf(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reasonOf(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new DirectoryError('failed'));
      },
    );
  });
}

function reasonOf(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DirectoryError('aborted');
}

/** Waits `ms`, or rejects when the signal aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(reasonOf(signal));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(reasonOf(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
