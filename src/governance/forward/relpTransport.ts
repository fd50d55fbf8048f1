/**
 * Syslog over RELP (`relp://host:port`, rsyslog's imrelp; SPEC §12 v3): each
 * message is a `syslog` command the receiver acknowledges with `rsp 200`, and a
 * message is delivered only once acknowledged — so, unlike tcp://, nothing is
 * guessed. Up to `window` commands are in flight; a batch whose acknowledgements
 * stop coming for timeoutMs, a refusal (any status but 200) or a lost connection
 * fails the attempt and drops the session: what was not acknowledged is sent
 * again on a new session (the same seq and id).
 */
import net from 'node:net';
import { encodeFrame, nextTxnr, openOffers, parseRsp, RelpParser, type RelpFrame } from './relp.js';
import { syslogMessage, type SyslogOrigin } from './syslog.js';
import { DeliveryError, type ForwardMessage, type Transport } from './types.js';

export interface RelpTransportOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  /** a batch whose next acknowledgement does not come within this fails */
  timeoutMs: number;
  origin: SyslogOrigin;
  /** commands sent and not yet acknowledged, at most (librelp's default window) */
  window?: number;
  /** relp_software offered in `open` */
  software?: string;
}

const DEFAULT_WINDOW = 128;
/** how long a closing session may take to say goodbye */
const CLOSE_GRACE_MS = 1000;

function errCode(err: unknown): string {
  const c = (err as { code?: unknown })?.code;
  return typeof c === 'string' ? c : 'ERROR';
}

/** One RELP session on one connection: TXNRs, and who waits for which answer. */
class Session {
  private txnr = 0;
  private readonly parser = new RelpParser();
  private readonly waiting = new Map<number, (f: RelpFrame) => void>();
  private failure: DeliveryError | undefined;
  /** told once when the session ends (error, close, protocol fault) */
  onEnd: ((err: DeliveryError) => void) | undefined;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.receive(d));
    socket.on('error', (err) => this.end(new DeliveryError(errCode(err), `relp connection failed: ${err.message}`, { cause: err })));
    socket.on('end', () => this.end(new DeliveryError('ECONNRESET', 'relp receiver closed the connection')));
    socket.on('close', () => this.end(new DeliveryError('ECONNRESET', 'relp connection closed')));
  }

  get ended(): DeliveryError | undefined {
    return this.failure;
  }

  /** Sends a command; `onAnswer` gets its `rsp`. */
  command(command: string, data: Buffer | string, onAnswer: (f: RelpFrame) => void): void {
    this.txnr = nextTxnr(this.txnr);
    this.waiting.set(this.txnr, onAnswer);
    this.socket.write(encodeFrame(this.txnr, command, data));
  }

  private receive(d: Buffer): void {
    let frames: RelpFrame[];
    try {
      frames = this.parser.push(d);
    } catch (err) {
      this.end(new DeliveryError('RELP_PROTOCOL', `relp receiver sent a malformed frame: ${(err as Error).message}`));
      return;
    }
    for (const f of frames) {
      if (this.failure) return;
      if (f.command === 'serverclose') {
        this.end(new DeliveryError('RELP_SERVERCLOSE', 'relp receiver closed the session'));
        return;
      }
      const answer = f.command === 'rsp' ? this.waiting.get(f.txnr) : undefined;
      if (!answer) {
        this.end(new DeliveryError('RELP_PROTOCOL', `relp receiver sent ${f.command} for txnr ${f.txnr}, which was not asked`));
        return;
      }
      this.waiting.delete(f.txnr);
      answer(f);
    }
  }

  end(err: DeliveryError): void {
    if (this.failure) return;
    this.failure = err;
    this.waiting.clear();
    if (!this.socket.destroyed) this.socket.destroy();
    this.onEnd?.(err);
  }

  /** A polite goodbye (`close`), then the connection goes whatever the answer. */
  close(): void {
    if (this.failure) return;
    const s = this.socket;
    try {
      this.command('close', '', () => s.end());
    } catch {
      /* already gone */
    }
    setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref();
    this.end(new DeliveryError('CLOSED', 'transport closed'));
  }
}

export class RelpTransport implements Transport {
  onBroken: (() => void) | undefined;
  /** acknowledged is delivered: nothing is sent again on a guess */
  readonly resendMs = 0;
  private session: Session | undefined;
  private connecting: net.Socket | undefined;
  private closed = false;
  private readonly window: number;

  constructor(private readonly opts: RelpTransportOptions) {
    this.window = Math.max(1, opts.window ?? DEFAULT_WINDOW);
  }

  async send(messages: readonly ForwardMessage[], delivered: (index: number) => void): Promise<void> {
    if (this.closed) throw new DeliveryError('CLOSED', 'transport closed');
    const session = this.session ?? (await this.open());
    const bodies = messages.map((m) => Buffer.from(syslogMessage(m, this.opts.origin), 'utf8'));
    await new Promise<void>((resolve, reject) => {
      const n = bodies.length;
      const acked = new Array<boolean>(n).fill(false);
      let next = 0; // next message to send
      let done = 0; // messages acknowledged in order (reported)
      let finished = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: DeliveryError) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        if (err) {
          // answers still owed would be matched against nothing: the session goes (the forwarder retries)
          if (this.session === session) this.session = undefined;
          session.onEnd = undefined;
          session.end(err);
          reject(err);
        } else {
          session.onEnd = (e) => this.ended(session, e);
          resolve();
        }
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => finish(new DeliveryError('ETIMEDOUT', `relp receiver did not acknowledge within ${this.opts.timeoutMs} ms`)),
          this.opts.timeoutMs,
        );
      };
      const pump = () => {
        while (!finished && next < n && next - done < this.window) {
          const i = next++;
          session.command('syslog', bodies[i], (f) => {
            const { code, text } = parseRsp(f.data);
            if (code !== 200) {
              finish(new DeliveryError(`RELP_${code || 'BAD_RSP'}`, `relp receiver refused the message: ${code} ${text}`.trim()));
              return;
            }
            acked[i] = true;
            while (done < n && acked[done]) delivered(done++);
            if (done === n) finish();
            else {
              arm();
              pump();
            }
          });
        }
      };
      session.onEnd = (err) => finish(err);
      if (session.ended) {
        finish(session.ended);
        return;
      }
      arm();
      pump();
    });
  }

  /** Connects and opens a RELP session (`open` answered with 200), within connectTimeoutMs. */
  private open(): Promise<Session> {
    const { host, port, connectTimeoutMs } = this.opts;
    return new Promise<Session>((resolve, reject) => {
      const socket = net.connect({ host, port });
      this.connecting = socket;
      let settled = false;
      const fail = (err: DeliveryError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.connecting === socket) this.connecting = undefined;
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new DeliveryError('ETIMEDOUT', `relp session with ${host}:${port} not open within ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
      socket.once('error', (err) => fail(new DeliveryError(errCode(err), `connect to ${host}:${port} failed: ${err.message}`, { cause: err })));
      socket.once('close', () => fail(new DeliveryError('CLOSED', 'connection closed before the relp session was open')));
      socket.once('connect', () => {
        if (this.closed) {
          fail(new DeliveryError('CLOSED', 'transport closed'));
          return;
        }
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 30_000);
        const session = new Session(socket);
        session.onEnd = (err) => fail(err);
        session.command('open', openOffers(this.opts.software ?? 'apg'), (f) => {
          const { code, text } = parseRsp(f.data);
          if (code !== 200) {
            fail(new DeliveryError(`RELP_${code || 'BAD_RSP'}`, `relp receiver refused the session: ${code} ${text}`.trim()));
            return;
          }
          if (!/(^|\n)commands=([^\n]*,)?syslog(,|\n|$)/.test(f.data.toString('utf8'))) {
            fail(new DeliveryError('RELP_NO_SYSLOG', 'relp receiver does not offer the syslog command'));
            return;
          }
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (this.connecting === socket) this.connecting = undefined;
          session.onEnd = (err) => this.ended(session, err);
          this.session = session;
          resolve(session);
        });
      });
    });
  }

  /** The session ended outside a send: forget it, and tell the forwarder. */
  private ended(session: Session, _err: DeliveryError): void {
    if (this.session !== session) return;
    this.session = undefined;
    this.onBroken?.();
  }

  close(): void {
    this.closed = true;
    this.connecting?.destroy();
    this.connecting = undefined;
    const s = this.session;
    this.session = undefined;
    s?.close();
  }
}
