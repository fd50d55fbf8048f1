/**
 * The real CLI as a child process (`node dist/cli.js serve --config <file>`): its stdout's
 * JSON lines, a wait for a line, its exit. Used by the lifecycle and workers tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { CLI, ROOT } from './build.js';

export interface GatewayProcess {
  proc: ChildProcess;
  url: string;
  /** every stdout line parsed as JSON (a non-JSON line fails the test that reads it) */
  logs: unknown[];
  rawLines: string[];
  stderr: () => string;
  waitForLog(pred: (l: any) => boolean, timeoutMs?: number): Promise<any>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export const children = new Set<ChildProcess>();

/** winston's logger.info(object) nests the fields under "message"; read them from either place */
function flatten(l: any): any {
  return l && typeof l.message === 'object' && l.message !== null ? { ...l, ...l.message } : l;
}

export async function spawnGateway(configFile: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, APG_INSTANCE: 'lifecycle', ...env },
  });
  children.add(proc);
  const logs: unknown[] = [];
  const rawLines: string[] = [];
  let err = '';
  let buf = '';
  const waiters = new Set<() => void>();
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      rawLines.push(line);
      try {
        logs.push(flatten(JSON.parse(line)));
      } catch {
        logs.push({ notJson: line });
      }
    }
    for (const w of waiters) w();
  });
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal });
      for (const w of waiters) w();
    }),
  );
  const waitForLog = (pred: (l: any) => boolean, timeoutMs = 15_000) =>
    new Promise<any>((resolve, reject) => {
      const check = () => {
        const hit = logs.find(pred);
        if (hit) {
          cleanup();
          resolve(hit);
        } else if (proc.exitCode !== null) {
          cleanup();
          reject(new Error(`gateway exited (${proc.exitCode}) before the log line; stderr: ${err}`));
        }
      };
      const t = setTimeout(() => {
        cleanup();
        reject(new Error(`no such log line within ${timeoutMs} ms; stdout: ${rawLines.join('\n')}; stderr: ${err}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(t);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const listening = await waitForLog((l) => l.msg === 'listening' || l.msg === 'workers listening');
  return { proc, url: `http://127.0.0.1:${listening.port}`, logs, rawLines, stderr: () => err, waitForLog, exited };
}

/** Resolves with the error code of a fresh TCP connection attempt ('connected' if it was accepted). */
export function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}
