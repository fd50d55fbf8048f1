/** Downloads one (large) response into a byte counter: nothing is kept, nothing goes to disk. */
import http from 'node:http';

export interface StreamResult {
  status: number;
  bytes: number;
  seconds: number;
  mibPerSec: number;
  /** the transfer ended cleanly (complete response, no reset) */
  complete: boolean;
}

export function streamCount(url: string, headers: Record<string, string> = {}): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { headers, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      const done = (complete: boolean) => {
        const seconds = (performance.now() - t0) / 1000;
        resolve({ status: res.statusCode ?? 0, bytes, seconds, mibPerSec: bytes / 1048576 / seconds, complete });
      };
      res.once('end', () => done(res.complete));
      res.once('error', () => done(false));
    });
    req.once('error', reject);
  });
}
