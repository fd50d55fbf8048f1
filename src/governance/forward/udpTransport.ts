/** Syslog over UDP: one RFC 5424 message per datagram (SPEC §12). Datagrams are unacknowledged by nature. */
import dgram from 'node:dgram';
import net from 'node:net';
import { syslogMessage, type SyslogOrigin } from './syslog.js';
import { DeliveryError, type ForwardMessage, type Transport } from './types.js';

/** the largest UDP payload over IPv4 */
export const MAX_DATAGRAM = 65_507;

export interface UdpTransportOptions {
  host: string;
  port: number;
  timeoutMs: number;
  origin: SyslogOrigin;
  /** a message too large for one datagram cannot go over UDP at all: reported, then passed over */
  onOversize: (m: ForwardMessage, bytes: number) => void;
}

export class UdpTransport implements Transport {
  onBroken: (() => void) | undefined;
  readonly resendMs = 0;
  private socket: dgram.Socket | undefined;
  private connecting: Promise<dgram.Socket> | undefined;

  constructor(private readonly opts: UdpTransportOptions) {}

  private open(): Promise<dgram.Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<dgram.Socket>((resolve, reject) => {
      const s = dgram.createSocket(net.isIPv6(this.opts.host) ? 'udp6' : 'udp4');
      const fail = (err: Error) => {
        this.connecting = undefined;
        s.close();
        reject(new DeliveryError((err as NodeJS.ErrnoException).code ?? 'ERROR', `udp ${this.opts.host}:${this.opts.port}: ${err.message}`, { cause: err }));
      };
      s.once('error', fail);
      // connected: ICMP "port unreachable" surfaces as ECONNREFUSED on a later send
      s.connect(this.opts.port, this.opts.host, () => {
        s.off('error', fail);
        s.on('error', () => this.reset(s));
        this.socket = s;
        this.connecting = undefined;
        resolve(s);
      });
    });
    return this.connecting;
  }

  private reset(s: dgram.Socket): void {
    if (this.socket === s) this.socket = undefined;
    try {
      s.close();
    } catch {
      /* already closed */
    }
  }

  async send(messages: readonly ForwardMessage[], delivered: (index: number) => void): Promise<void> {
    const s = await this.open();
    for (let i = 0; i < messages.length; i++) {
      const buf = Buffer.from(syslogMessage(messages[i], this.opts.origin), 'utf8');
      if (buf.length > MAX_DATAGRAM) {
        this.opts.onOversize(messages[i], buf.length);
        delivered(i);
        continue;
      }
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new DeliveryError('ETIMEDOUT', `udp send not done within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
        s.send(buf, (err) => {
          clearTimeout(timer);
          if (err) {
            this.reset(s);
            reject(new DeliveryError((err as NodeJS.ErrnoException).code ?? 'ERROR', `udp send failed: ${err.message}`, { cause: err }));
          } else resolve();
        });
      });
      delivered(i);
    }
  }

  close(): void {
    if (this.socket) this.reset(this.socket);
  }
}
