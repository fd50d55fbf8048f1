/**
 * RELP frames (rsyslog's Reliable Event Logging Protocol), pure: no I/O.
 * A frame is `TXNR SP COMMAND SP DATALEN [SP DATA] LF`: TXNR 1..999999999
 * (then 1 again), COMMAND letters, DATALEN the byte length of DATA (0: no SP, no
 * DATA). The client sends `open` (its offers), then one `syslog` command per
 * message, then `close`; the server answers each command with `rsp` and the same
 * TXNR, DATA starting with a three-digit status (`200 OK`). The server may send
 * `serverclose` (TXNR 0) before it goes away.
 */

export const MAX_TXNR = 999_999_999;
const MAX_DATALEN_DIGITS = 9;
const MAX_COMMAND = 32;

export interface RelpFrame {
  txnr: number;
  command: string;
  data: Buffer;
}

export function encodeFrame(txnr: number, command: string, data: Buffer | string = ''): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  if (body.length === 0) return Buffer.from(`${txnr} ${command} 0\n`, 'ascii');
  return Buffer.concat([Buffer.from(`${txnr} ${command} ${body.length} `, 'ascii'), body, Buffer.from('\n', 'ascii')]);
}

/** The next TXNR after `txnr`. */
export function nextTxnr(txnr: number): number {
  return txnr >= MAX_TXNR ? 1 : txnr + 1;
}

/** The offers of the `open` command: RELP version 0, the syslog command. */
export function openOffers(software: string): string {
  return `relp_version=0\nrelp_software=${software}\ncommands=syslog`;
}

/** Status of an `rsp` frame's data: `200 OK[\n...]` → {code: 200, text: 'OK'}. */
export function parseRsp(data: Buffer): { code: number; text: string } {
  const s = data.toString('utf8');
  const m = /^(\d{3})(?: ([^\n]*))?/.exec(s);
  return m ? { code: Number(m[1]), text: m[2] ?? '' } : { code: 0, text: s.slice(0, 80) };
}

export class RelpProtocolError extends Error {}

/**
 * Incremental parser of the frames a server sends: push() the bytes as they come,
 * answers the whole frames found; a malformed frame throws RelpProtocolError.
 */
export class RelpParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RelpFrame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: RelpFrame[] = [];
    for (;;) {
      const f = this.next();
      if (!f) return out;
      out.push(f);
    }
  }

  private next(): RelpFrame | undefined {
    const b = this.buf;
    const sp1 = b.indexOf(0x20);
    if (sp1 < 0) return this.incomplete(b.length, MAX_DATALEN_DIGITS, 'TXNR');
    const txnrText = b.subarray(0, sp1).toString('ascii');
    if (!/^\d{1,9}$/.test(txnrText)) throw new RelpProtocolError(`bad TXNR ${JSON.stringify(txnrText.slice(0, 12))}`);
    const sp2 = b.indexOf(0x20, sp1 + 1);
    if (sp2 < 0) return this.incomplete(b.length - sp1 - 1, MAX_COMMAND, 'command');
    const command = b.subarray(sp1 + 1, sp2).toString('ascii');
    if (!/^[a-z]{1,32}$/i.test(command)) throw new RelpProtocolError(`bad command ${JSON.stringify(command.slice(0, 40))}`);
    // DATALEN ends at SP (data follows) or LF (DATALEN 0)
    let i = sp2 + 1;
    while (i < b.length && b[i] >= 0x30 && b[i] <= 0x39) i++;
    if (i - sp2 - 1 > MAX_DATALEN_DIGITS) throw new RelpProtocolError('DATALEN too long');
    if (i >= b.length) return undefined;
    if (i === sp2 + 1) throw new RelpProtocolError('missing DATALEN');
    const len = Number(b.subarray(sp2 + 1, i).toString('ascii'));
    let dataStart: number;
    if (b[i] === 0x0a) {
      if (len !== 0) throw new RelpProtocolError('DATALEN without data');
      this.buf = b.subarray(i + 1);
      return { txnr: Number(txnrText), command, data: Buffer.alloc(0) };
    } else if (b[i] === 0x20) dataStart = i + 1;
    else throw new RelpProtocolError('bad DATALEN');
    if (b.length < dataStart + len + 1) return undefined;
    if (b[dataStart + len] !== 0x0a) throw new RelpProtocolError('frame not ended by LF');
    const data = Buffer.from(b.subarray(dataStart, dataStart + len));
    this.buf = b.subarray(dataStart + len + 1);
    return { txnr: Number(txnrText), command, data };
  }

  private incomplete(have: number, max: number, what: string): undefined {
    if (have > max) throw new RelpProtocolError(`${what} too long`);
    return undefined;
  }
}
