/** Child processes of the bench: start, wait until ready, read /proc figures, stop. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  url: string;
  stop(): Promise<void>;
}

const children = new Set<Child>();

/** Spawns `cmd args` and resolves once a stdout line `READY <url>` appears (or `url` is given and answers). */
export function startChild(name: string, cmd: string, args: string[], opts: SpawnOptions = {}, timeoutMs = 30_000): Promise<Child> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error(`${name}: not ready after ${timeoutMs} ms\n${err.slice(-2000)}`)), timeoutMs);
    const fail = (e: Error) => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(e);
    };
    proc.stderr?.on('data', (d: Buffer) => {
      if (err.length < 64_000) err += d.toString();
    });
    proc.once('error', fail);
    proc.once('exit', (code) => fail(new Error(`${name} exited early (code ${code})\n${err.slice(-2000)}`)));
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^READY (\S+)$/m.exec(out);
      if (!m) {
        if (out.length > 64_000) out = out.slice(-1000);
        return;
      }
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      proc.stdout!.removeAllListeners('data');
      proc.stdout!.resume(); // drain, never block the child on a full pipe
      resolve(track({ name, proc, pid: proc.pid!, url: m[1], stop: () => stopProc(proc) }));
    });
  });
}

export function track(c: Child): Child {
  children.add(c);
  const stop = c.stop;
  c.stop = () => {
    children.delete(c);
    return stop();
  };
  return c;
}

export function stopProc(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill(signal);
  });
}

/** Stops every child still running (on exit, on error, on Ctrl-C). */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop().catch(() => undefined)));
}

/** A field of /proc/<pid>/status in bytes (VmHWM = peak resident set, VmRSS = current). */
export function procMem(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

const TICK = 100; // USER_HZ on Linux

/** CPU seconds (user + system) the process has used so far. */
export function procCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}

/** GET url until it answers 200 (poll every `everyMs`). */
export async function waitFor200(url: string, timeoutMs = 30_000, everyMs = 5): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (performance.now() > until) throw new Error(`${url} not 200 after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** pid and all its descendants (nginx workers, for instance). */
export function withDescendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of parent) if (pp === out[i]) out.push(p);
  return out;
}
