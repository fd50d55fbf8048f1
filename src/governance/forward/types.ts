/** What forwarding sends and how a transport reports it (SPEC §12). */

/** One thing to deliver: a chain entry (its exact JSON line) or a signed checkpoint. */
export interface ForwardMessage {
  kind: 'entry' | 'checkpoint';
  /** the entry's seq, or the seq the checkpoint covers */
  seq: number;
  /** syslog MSGID: the entry's action, or `checkpoint` */
  msgid: string;
  /** ISO-8601 time of the entry / checkpoint (syslog TIMESTAMP) */
  time: string;
  /** syslog MSG: the entry's JSON, or the JWS */
  text: string;
}

export interface Transport {
  /**
   * Hands the messages over in order. Calls `delivered(i)` for each message the
   * transport has handed over (2xx, RELP `rsp 200`, written to the socket, datagram
   * sent), in order; rejects with a DeliveryError on the first failure.
   */
  send(messages: readonly ForwardMessage[], delivered: (index: number) => void): Promise<void>;
  /**
   * > 0 for tcp:// and tls://: a write says nothing about what the receiver read, so
   * what was written in the last resendMs before the connection broke is sent again,
   * and counts as delivered only once resendMs has passed on a live connection.
   * 0: handed over is delivered (acknowledged, or nothing better can be known).
   */
  readonly resendMs: number;
  /** told when an idle connection breaks (the peer closed it, an error) */
  onBroken: (() => void) | undefined;
  close(): void;
}

/** A failed delivery attempt; `code` is a short machine-readable reason for logs. */
export class DeliveryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
