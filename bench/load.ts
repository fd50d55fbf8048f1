/**
 * Load generators. wrk when available (C, epoll: far more headroom than any
 * Node client); otherwise a small built-in Node generator (keep-alive agent,
 * N concurrent request loops). Both report requests/s, p50 and p99 latency.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface LoadSpec {
  url: string;
  connections: number;
  durationSec: number;
  headers?: Record<string, string>;
}

export interface LoadResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  /** response bytes per second (headers included for wrk) */
  bytesPerSec: number;
  requests: number;
  /** non-2xx/3xx answers, socket errors and timeouts */
  errors: number;
}

export interface LoadGenerator {
  name: string;
  run(spec: LoadSpec): Promise<LoadResult>;
}

const WRK_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration":%d,"bytes":%d,"p50":%d,"p99":%d,"errors":%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
`;

export function wrkGenerator(bin: string): LoadGenerator {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'apg-bench-wrk-'));
  const script = path.join(dir, 'report.lua');
  writeFileSync(script, WRK_LUA);
  return {
    name: 'wrk',
    run(spec) {
      // One thread: on 2 cores a second wrk thread would only take CPU from the server under test.
      const args = ['-t1', `-c${spec.connections}`, `-d${spec.durationSec}s`, '--timeout', '10s', '-s', script];
      for (const [k, v] of Object.entries(spec.headers ?? {})) args.push('-H', `${k}: ${v}`);
      args.push(spec.url);
      return new Promise((resolve, reject) => {
        const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        p.stderr.on('data', (d: Buffer) => {
          out += d.toString();
        });
        p.once('error', reject);
        p.once('exit', () => {
          const m = /WRKJSON (\{.*\})/.exec(out);
          if (!m) return reject(new Error(`wrk gave no result:\n${out.slice(-1000)}`));
          const r = JSON.parse(m[1]) as { requests: number; duration: number; bytes: number; p50: number; p99: number; errors: number };
          const sec = r.duration / 1e6;
          resolve({ rps: r.requests / sec, p50ms: r.p50 / 1000, p99ms: r.p99 / 1000, bytesPerSec: r.bytes / sec, requests: r.requests, errors: r.errors });
        });
      });
    },
  };
}

/** Percentile of a sorted array (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function nodeGenerator(): LoadGenerator {
  return {
    name: 'node (built-in fallback)',
    async run(spec) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: spec.connections });
      const lat: number[] = [];
      let bytes = 0;
      let errors = 0;
      const t0 = performance.now();
      const end = t0 + spec.durationSec * 1000;
      const one = () =>
        new Promise<void>((resolve) => {
          const s = performance.now();
          const req = http.get(spec.url, { agent, headers: spec.headers }, (res) => {
            res.on('data', (c: Buffer) => {
              bytes += c.length;
            });
            res.on('end', () => {
              if ((res.statusCode ?? 0) >= 400) errors++;
              lat.push(performance.now() - s);
              resolve();
            });
            res.on('error', () => {
              errors++;
              resolve();
            });
          });
          req.on('error', () => {
            errors++;
            resolve();
          });
        });
      const loop = async () => {
        while (performance.now() < end) await one();
      };
      await Promise.all(Array.from({ length: spec.connections }, loop));
      const sec = (performance.now() - t0) / 1000;
      agent.destroy();
      const sorted = Float64Array.from(lat).sort();
      return { rps: lat.length / sec, p50ms: percentile(sorted, 50), p99ms: percentile(sorted, 99), bytesPerSec: bytes / sec, requests: lat.length, errors };
    },
  };
}
