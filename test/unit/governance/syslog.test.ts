import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { octetFrame, syslogMessage } from '../../../src/governance/forward/syslog.js';
import { extractJws } from '../../../src/governance/checkpointVerify.js';

const origin = { hostname: 'gw-host', procid: '4242' };

describe('RFC 5424 message and RFC 6587 framing', () => {
  it('has PRI 110, version 1, the entry time, APP-NAME apg, MSGID = action, nil SD, MSG = the JSON', () => {
    const json = JSON.stringify({ seq: 1, action: 'private-activities.viewed', principal: 'zoë@contoso.com', hash: 'ab' });
    const m = syslogMessage({ kind: 'entry', seq: 1, msgid: 'private-activities.viewed', time: '2026-11-26T10:00:00.123Z', text: json }, origin);
    expect(m).toBe(`<110>1 2026-11-26T10:00:00.123Z gw-host apg 4242 private-activities.viewed - ${json}`);
  });

  it('header fields stay printable ASCII within their limits; a bad time is nil', () => {
    const m = syslogMessage({ kind: 'entry', seq: 1, msgid: 'a b\nc'.repeat(20), time: 'yesterday', text: '{}' }, { hostname: 'h o\tst', procid: '' });
    const [pri, time, host, app, procid, msgid, sd] = m.split(' ');
    expect(pri).toBe('<110>1');
    expect(time).toBe('-');
    expect(host).toBe('host');
    expect(app).toBe('apg');
    expect(procid).toBe('-');
    expect(msgid.length).toBeLessThanOrEqual(32);
    expect(msgid).toMatch(/^[\x21-\x7e]+$/);
    expect(sd).toBe('-');
  });

  it('octet counting: the prefix is the UTF-8 byte length of the message (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (s) => {
        const frame = octetFrame(s);
        const sp = frame.indexOf(0x20);
        const len = Number(frame.subarray(0, sp).toString('ascii'));
        expect(len).toBe(frame.length - sp - 1);
        expect(frame.subarray(sp + 1).toString('utf8')).toBe(s);
      }),
    );
  });

  it('a checkpoints file line: bare JWS, webhook body, syslog line; anything else is not one', () => {
    expect(extractJws('aa.bb.cc')).toBe('aa.bb.cc');
    expect(extractJws('  {"checkpoint":"aa.bb.cc"}  ')).toBe('aa.bb.cc');
    expect(extractJws('<110>1 2026-01-01T00:00:00Z h apg 1 checkpoint - aa.bb.cc')).toBe('aa.bb.cc');
    expect(extractJws('')).toBeNull();
    expect(extractJws('hello world')).toBeUndefined();
    expect(extractJws('{"seq":1}')).toBeUndefined();
    // the gateway's own file beside the log, and other line formats: the JWS is found on the line
    expect(extractJws('{"seq":100,"jws":"aa.bb.cc"}')).toBe('aa.bb.cc');
    const header = Buffer.from('{"alg":"EdDSA","kid":"k"}').toString('base64url');
    const jws = `${header}.cGF5bG9hZA.c2ln`;
    expect(extractJws(`{"row":{"seq":"100","value":"${jws}"}}`)).toBe(jws);
    expect(extractJws(`100|${jws}|2026-01-01 00:00:00+00`)).toBe(jws);
    expect(extractJws(`Jan  1 00:00:00 siem.contoso.com apg[1]: ${jws} (relayed via relay.contoso.com)`)).toBe(jws);
    expect(extractJws('forwarded by siem.contoso.com today')).toBeUndefined();
  });
});
