import type http from 'node:http';
import zlib from 'node:zlib';
import { GatewayError } from './errors.js';

/** Content-Encodings the gateway can undo; anything else on a filtered route is a 502. */
export function decoderFor(
  encodingHeader: string | undefined,
  firstByte?: number,
): zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | zlib.BrotliDecompress | null | 'unsupported' {
  const enc = (encodingHeader ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return null;
  if (enc === 'gzip' || enc === 'x-gzip') return zlib.createGunzip();
  // "deflate" should be zlib-wrapped, but some servers send raw deflate: the zlib
  // header's first byte has 0x8 in its low nibble (CM = deflate).
  if (enc === 'deflate') return firstByte === undefined || (firstByte & 0x0f) === 0x08 ? zlib.createInflate() : zlib.createInflateRaw();
  if (enc === 'br') return zlib.createBrotliDecompress();
  return 'unsupported';
}

export function isJsonContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  const mime = ct.split(';', 1)[0].trim().toLowerCase();
  return mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'));
}

/**
 * Reads a whole upstream body, decoded, bounded by maxBytes on both the wire
 * bytes and the decoded bytes (so a compression bomb is a 502 as well).
 */
export function collectBody(res: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const encoding = res.headers['content-encoding'];
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      res.destroy();
      reject(new GatewayError('upstream_body_too_large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let wire = 0;
    let settled = false;
    let decoder: ReturnType<typeof decoderFor> = null;
    const fail = (err: GatewayError): void => {
      if (settled) return;
      settled = true;
      res.destroy();
      if (decoder && decoder !== 'unsupported') decoder.destroy();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      size += chunk.length;
      if (size > maxBytes) return fail(new GatewayError('upstream_body_too_large'));
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const aborted = (): void =>
      fail(new GatewayError('upstream_unavailable', 'The activity-log API closed the connection before the body was complete; nothing was sent.'));

    res.on('aborted', aborted);
    res.on('error', aborted);
    res.on('close', () => {
      if (!res.complete) aborted();
    });

    let started = false;
    res.on('data', (chunk: Buffer) => {
      wire += chunk.length;
      if (wire > maxBytes) return fail(new GatewayError('upstream_body_too_large'));
      if (!started) {
        started = true;
        decoder = decoderFor(typeof encoding === 'string' ? encoding : undefined, chunk[0]);
        if (decoder === 'unsupported')
          return fail(new GatewayError('upstream_body_invalid', 'The activity-log API used a content encoding the gateway cannot decode; nothing was sent.'));
        if (decoder) {
          decoder.on('data', onData);
          decoder.on('end', onEnd);
          decoder.on('error', () =>
            fail(new GatewayError('upstream_body_invalid', 'The compressed body from the activity-log API is corrupt; nothing was sent.')),
          );
        }
      }
      if (decoder && decoder !== 'unsupported') decoder.write(chunk);
      else onData(chunk);
    });
    res.on('end', () => {
      if (!started) {
        const d = decoderFor(typeof encoding === 'string' ? encoding : undefined);
        if (d === 'unsupported') return fail(new GatewayError('upstream_body_invalid'));
        if (d) d.destroy();
        return onEnd();
      }
      if (decoder && decoder !== 'unsupported') decoder.end();
      else onEnd();
    });
  });
}
