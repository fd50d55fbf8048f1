/** RELP frames (src/governance/forward/relp.ts): what the client writes and how the server's answers are read. */
import { describe, expect, it } from 'vitest';
import { encodeFrame, MAX_TXNR, nextTxnr, parseRsp, RelpParser, RelpProtocolError } from '../../../src/governance/forward/relp.js';

describe('RELP frames', () => {
  it('encodes TXNR SP COMMAND SP DATALEN [SP DATA] LF, DATALEN in bytes', () => {
    expect(encodeFrame(1, 'close').toString()).toBe('1 close 0\n');
    expect(encodeFrame(7, 'syslog', 'ä').toString()).toBe('7 syslog 2 ä\n');
    expect(nextTxnr(1)).toBe(2);
    expect(nextTxnr(MAX_TXNR)).toBe(1);
  });

  it('parses answers split anywhere, several in one chunk, DATALEN 0 and data holding LF and digits', () => {
    const wire = Buffer.concat([
      encodeFrame(1, 'rsp', '200 OK\nrelp_version=0\ncommands=syslog'),
      encodeFrame(2, 'rsp', '200 OK'),
      encodeFrame(3, 'rsp', ''),
      encodeFrame(0, 'serverclose'),
    ]);
    for (let cut = 0; cut <= wire.length; cut++) {
      const p = new RelpParser();
      const frames = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut))];
      expect(frames.map((f) => [f.txnr, f.command, f.data.toString()])).toEqual([
        [1, 'rsp', '200 OK\nrelp_version=0\ncommands=syslog'],
        [2, 'rsp', '200 OK'],
        [3, 'rsp', ''],
        [0, 'serverclose', ''],
      ]);
    }
    expect(parseRsp(Buffer.from('200 OK\nrelp_version=0'))).toEqual({ code: 200, text: 'OK' });
    expect(parseRsp(Buffer.from('500 queue full'))).toEqual({ code: 500, text: 'queue full' });
    expect(parseRsp(Buffer.from('nonsense')).code).toBe(0);
  });

  it('refuses what is not a frame', () => {
    for (const bad of ['x rsp 0\n', '1 r$p 0\n', '1 rsp 5 abcdeX', '1 rsp 3\n', '1234567890 rsp 0\n', '1 rsp 1234567890 x']) {
      expect(() => new RelpParser().push(Buffer.from(bad)), bad).toThrow(RelpProtocolError);
    }
  });
});
