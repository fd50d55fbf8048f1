/**
 * Syslog over TCP or TLS with octet-counted frames. One connection, one batch
 * written at a time: the bytes in flight are bounded by one batch, and a write
 * that the receiver does not take within timeoutMs (it accepted the connection
 * but stopped reading) fails the attempt and drops the connection, so neither
 * memory nor the caller ever waits on a stuck receiver.
 */
import net from 'node:net';
import tls from 'node:tls';
import { octetFrame, syslogMessage, type SyslogOrigin } from './syslog.js';
import { DeliveryError, type ForwardMessage, type Transport } from './types.js';

export interface StreamTransportOptions {
  host: string;
  port: number;
  tls: null | { ca?: string; cert?: string; key?: string };
  connectTimeoutMs: number;
  /** a batch not written within this fails */
  timeoutMs: number;
  /** what was written this long before a connection broke is sent again */
  resendMs: number;
  origin: SyslogOrigin;
}

function errCode(err: unknown): string {
  const c = (err as { code?: unknown })?.code;
  return typeof c === 'string' ? c : 'ERROR';
}

export class StreamTransport implements Transport {
  onBroken: (() => void) | undefined;
  readonly resendMs: number;
  private socket: net.Socket | undefined;
  /** the connection being made: close() must not wait out its connect timeout */
  private connecting: net.Socket | undefined;
  private closed = false;

  constructor(private readonly opts: StreamTransportOptions) {
    this.resendMs = opts.resendMs;
  }

  async send(messages: readonly ForwardMessage[], delivered: (index: number) => void): Promise<void> {
    if (this.closed) throw new DeliveryError('CLOSED', 'transport closed');
    const socket = this.socket ?? (await this.connect());
    const buf = Buffer.concat(messages.map((m) => octetFrame(syslogMessage(m, this.opts.origin))));
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onClose = () => finish(new DeliveryError('ECONNRESET', 'connection closed during the write'));
      const timer = setTimeout(() => {
        // the receiver is not reading: give up on this connection (its buffers go with it)
        this.drop(socket);
        finish(new DeliveryError('ETIMEDOUT', `write not taken by the receiver within ${this.opts.timeoutMs} ms`));
      }, this.opts.timeoutMs);
      socket.once('close', onClose);
      socket.write(buf, (err) => {
        if (err) {
          this.drop(socket);
          finish(new DeliveryError(errCode(err), `write failed: ${err.message}`, { cause: err }));
        } else finish();
      });
    });
    for (let i = 0; i < messages.length; i++) delivered(i);
  }

  private connect(): Promise<net.Socket> {
    const { host, port, connectTimeoutMs } = this.opts;
    return new Promise<net.Socket>((resolve, reject) => {
      let socket: net.Socket;
      const readyEvent = this.opts.tls ? 'secureConnect' : 'connect';
      if (this.opts.tls) {
        socket = tls.connect({
          host,
          port,
          ca: this.opts.tls.ca,
          cert: this.opts.tls.cert,
          key: this.opts.tls.key,
          // SNI only for names; an IP address is checked against the certificate's IP SANs
          servername: net.isIP(host) ? undefined : host,
          rejectUnauthorized: true,
        });
      } else {
        socket = net.connect({ host, port });
      }
      this.connecting = socket;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new DeliveryError('ETIMEDOUT', `connect to ${host}:${port} not done within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new DeliveryError(errCode(err), `connect to ${host}:${port} failed: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      // destroyed while connecting (close()): no 'error' comes, so the close settles it
      socket.once('close', () => {
        clearTimeout(timer);
        if (this.connecting === socket) this.connecting = undefined;
        reject(new DeliveryError('CLOSED', 'connection closed before it was established'));
      });
      socket.once(readyEvent, () => {
        clearTimeout(timer);
        if (this.connecting === socket) this.connecting = undefined;
        socket.off('error', onError);
        if (this.closed) {
          socket.destroy();
          reject(new DeliveryError('CLOSED', 'transport closed'));
          return;
        }
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 30_000);
        // a syslog receiver sends nothing; whatever comes is discarded, not buffered
        socket.on('data', () => {});
        socket.on('error', () => this.drop(socket));
        socket.on('end', () => this.drop(socket));
        socket.on('close', () => this.drop(socket));
        this.socket = socket;
        resolve(socket);
      });
    });
  }

  private drop(socket: net.Socket): void {
    if (!socket.destroyed) socket.destroy();
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.onBroken?.();
  }

  close(): void {
    this.closed = true;
    this.connecting?.destroy();
    this.connecting = undefined;
    if (this.socket) this.socket.destroy();
    this.socket = undefined;
  }
}
