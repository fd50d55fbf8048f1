/**
 * A real syslog receiver for the forwarding tests: Debian's rsyslogd in the
 * foreground with its own config on free loopback ports — imtcp (octet-counted
 * framing is detected per frame), imtcp over TLS (gtls, a test CA made with
 * openssl), imudp and, when rsyslog-relp is installed, imrelp — each writing the raw messages it receives, one a line,
 * to its own file. Missing rsyslogd (or its gtls driver): a loud warning and
 * the caller skips.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './postgres.js';

export const RSYSLOGD = '/usr/sbin/rsyslogd';

/** An rsyslog module (lmnsd_gtls.so: Debian package rsyslog-gnutls; imrelp.so: rsyslog-relp), wherever the multiarch path puts it. */
function haveModule(file: string): boolean {
  const candidates = ['/usr/lib/rsyslog'];
  try {
    for (const d of readdirSync('/usr/lib')) candidates.push(path.join('/usr/lib', d, 'rsyslog'));
  } catch {
    /* no /usr/lib */
  }
  return candidates.some((d) => existsSync(path.join(d, file)));
}
const haveGtlsDriver = () => haveModule('lmnsd_gtls.so');

/** rsyslogd with imrelp (Debian package rsyslog-relp); a loud warning when missing. */
export function relpAvailable(): boolean {
  const ok = rsyslogAvailable() && haveModule('imrelp.so');
  if (!ok) {
    console.warn(
      [
        '',
        '#################################################################',
        '#  rsyslog-relp (imrelp) not installed: the governance          #',
        '#  forwarding tests over RELP are SKIPPED.                       #',
        '#  apt-get install rsyslog-relp                                  #',
        '#################################################################',
        '',
      ].join('\n'),
    );
  }
  return ok;
}

export function rsyslogAvailable(): boolean {
  const ok = existsSync(RSYSLOGD) && haveGtlsDriver() && spawnSync('openssl', ['version']).status === 0;
  if (!ok) {
    console.warn(
      [
        '',
        '#################################################################',
        '#  rsyslogd, rsyslog-gnutls or openssl not installed: the        #',
        '#  governance forwarding tests against a real syslog receiver   #',
        '#  are SKIPPED.                                                  #',
        '#  apt-get install rsyslog rsyslog-gnutls openssl                 #',
        '#################################################################',
        '',
      ].join('\n'),
    );
  }
  return ok;
}

export interface TestPki {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** a CA that did not sign the server certificate */
  otherCaFile: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** A test CA and a server certificate for 127.0.0.1 / localhost, made by openssl. */
export function makeTestPki(dir: string): TestPki {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=apg test CA'], dir);
  openssl(['req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.pem', '-days', '2', '-subj', '/CN=apg other CA'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf'],
    dir,
  );
  return {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    certFile: path.join(dir, 'server.pem'),
    keyFile: path.join(dir, 'server.key'),
    otherCaFile: path.join(dir, 'other.pem'),
  };
}

export type RsyslogInput = 'tcp' | 'tls' | 'udp' | 'relp';

export interface Rsyslog {
  dir: string;
  tcpPort: number;
  tlsPort: number;
  udpPort: number;
  /** imrelp's port; 0 when rsyslog-relp is not installed */
  relpPort: number;
  pki: TestPki;
  /** raw messages received so far on each input, one per element */
  messages(input: RsyslogInput): string[];
  /** a cheap running count of the messages on an input (reads only what was appended since the last call) */
  counter(input: RsyslogInput): () => number;
  /** SIGTERM and wait for the exit (rsyslog flushes what it has read) */
  stop(): Promise<void>;
  /** start again on the same ports */
  start(): Promise<void>;
  close(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startRsyslog(): Promise<Rsyslog> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'apg-rsyslog-'));
  const pki = makeTestPki(dir);
  const [tcpPort, tlsPort, udpPort] = [await freePort(), await freePort(), await freePort()];
  const file = (n: string) => path.join(dir, `${n}.log`);
  const relpPort = haveModule('imrelp.so') ? await freePort() : 0;
  const relp = relpPort
    ? `module(load="imrelp")
ruleset(name="relp") { action(type="omfile" file="${file('relp')}" template="raw") }
input(type="imrelp" port="${relpPort}" address="127.0.0.1" ruleset="relp" maxDataSize="256k")`
    : '';
  const conf = path.join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    `
global(workDirectory="${dir}" maxMessageSize="256k")
module(load="imtcp" maxSessions="200")
module(load="imudp")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="tcp") { action(type="omfile" file="${file('tcp')}" template="raw") }
ruleset(name="tls") { action(type="omfile" file="${file('tls')}" template="raw") }
ruleset(name="udp") { action(type="omfile" file="${file('udp')}" template="raw") }
input(type="imtcp" port="${tcpPort}" address="127.0.0.1" ruleset="tcp")
input(type="imtcp" port="${tlsPort}" address="127.0.0.1" ruleset="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"
      streamDriver.CAFile="${pki.caFile}" streamDriver.CertFile="${pki.certFile}" streamDriver.KeyFile="${pki.keyFile}")
input(type="imudp" port="${udpPort}" address="127.0.0.1" ruleset="udp" rcvBufSize="16m")
${relp}
`,
  );
  let child: ChildProcess | undefined;
  let stderr = '';

  const start = async () => {
    stderr = '';
    const c = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout.on('data', (d) => {
      stderr += d;
    });
    c.stderr.on('data', (d) => {
      stderr += d;
    });
    child = c;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (c.exitCode !== null) throw new Error(`rsyslogd exited with ${c.exitCode}: ${stderr}`);
      if ((await canConnect(tcpPort)) && (await canConnect(tlsPort)) && (relpPort === 0 || (await canConnect(relpPort)))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    c.kill('SIGKILL');
    throw new Error(`rsyslogd not listening within 15 s: ${stderr}`);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
    });
  };
  await start();
  return {
    dir,
    tcpPort,
    tlsPort,
    udpPort,
    relpPort,
    pki,
    messages(input) {
      let text: string;
      try {
        text = readFileSync(file(input), 'utf8');
      } catch {
        return [];
      }
      const lines = text.split('\n');
      lines.pop(); // the part after the last newline is not a whole message yet
      return lines;
    },
    counter(input) {
      let offset = 0;
      let count = 0;
      const buf = Buffer.allocUnsafe(1 << 20);
      return () => {
        let fd: number;
        try {
          fd = openSync(file(input), 'r');
        } catch {
          return count;
        }
        try {
          for (;;) {
            const n = readSync(fd, buf, 0, buf.length, offset);
            if (n <= 0) break;
            for (let i = 0; i < n; i++) if (buf[i] === 0x0a) count++;
            offset += n;
          }
        } finally {
          closeSync(fd);
        }
        return count;
      };
    },
    stop,
    start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface SyslogLine {
  pri: string;
  version: string;
  time: string;
  host: string;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

/** Splits `<PRI>VERSION TIME HOST APP PROCID MSGID SD MSG` (SD is `-` here). */
export function parseSyslog(line: string): SyslogLine {
  const m = /^(<\d+>)(\d+) (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) (.*)$/.exec(line);
  if (!m) throw new Error(`not an RFC 5424 line: ${line.slice(0, 200)}`);
  const [, pri, version, time, host, app, procid, msgid, sd, msg] = m;
  return { pri, version, time, host, app, procid, msgid, sd, msg };
}

/** Polls `fn` until it answers true (real receivers deliver asynchronously). */
export async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
