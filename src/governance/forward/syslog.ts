/**
 * RFC 5424 syslog messages for the governance log (SPEC §12):
 * `<110>1 TIMESTAMP HOSTNAME apg PROCID MSGID - MSG` (facility 13 "log audit",
 * severity 6 informational), framed by octet counting over TCP/TLS (RFC 6587
 * §3.4.1: `<length> <message>`), one message per datagram over UDP.
 */
import type { ForwardMessage } from './types.js';

export const PRI = '<110>';
export const APP_NAME = 'apg';

/** RFC 5424 header fields are PRINTUSASCII (33..126) with length limits; '-' means nil. */
function field(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

export interface SyslogOrigin {
  hostname: string;
  procid: string;
}

export function syslogMessage(m: ForwardMessage, origin: SyslogOrigin): string {
  const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/.test(m.time) ? m.time : '-';
  // MSG: the JSON (or JWS) exactly; JSON.stringify never writes a raw newline, so it is one line
  return `${PRI}1 ${time} ${field(origin.hostname, 255)} ${APP_NAME} ${field(origin.procid, 128)} ${field(m.msgid, 32)} - ${m.text}`;
}

/** RFC 6587 octet counting: the byte length, a space, the message. */
export function octetFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
