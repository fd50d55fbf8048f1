import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml, sendEmpty, sendFile, sendJson, sendPage, sendRedirect, sendText } from '../../../src/http/responder.js';
import { listen, rawRequest, type Listening } from '../../helpers/units.js';

let server: Listening;
const PAGE = {
  title: '<script>alert("x")</script>',
  lines: ["Tom & Jerry's <b>page</b>"],
  stylesheet: '/p.css?a=1&b="2"',
  links: [['Back <home>', '/x?y="1"&z=<2>']] as Array<[string, string]>,
};

beforeAll(async () => {
  server = await listen((req, res) => {
    switch (req.url) {
      case '/json':
        return sendJson(res, 201, { ok: 'ü' }, { 'x-extra': 'yes' });
      case '/text':
        return sendText(res, 200, 'text/css; charset=utf-8', 'body{}', { 'cache-control': 'no-cache' });
      case '/page':
        return sendPage(res, 403, PAGE);
      case '/immutable':
        return sendFile(res, { body: Buffer.from('js'), type: 'text/javascript; charset=utf-8', immutable: true });
      case '/index':
        return sendFile(res, { body: Buffer.from('<html>'), type: 'text/html; charset=utf-8', immutable: false });
      case '/redirect':
        return sendRedirect(res, 303, '/there', { 'set-cookie': ['a=1', 'b=2'] });
      default:
        return sendEmpty(res, 204, { 'x-empty': '1' });
    }
  });
});
afterAll(() => server.close());

describe('the responder', () => {
  it('sendJson: the body with its length, no-store, extra headers', async () => {
    const r = await rawRequest(server.url, { path: '/json' });
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body.toString())).toEqual({ ok: 'ü' });
    expect(r.headers['content-length']).toBe(String(r.body.length));
    expect(r.body.length).toBe(Buffer.byteLength('{"ok":"ü"}'));
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-extra']).toBe('yes');
  });

  it('HEAD: the same headers (length included), no body', async () => {
    for (const path of ['/json', '/page', '/immutable']) {
      const get = await rawRequest(server.url, { path });
      const head = await rawRequest(server.url, { method: 'HEAD', path });
      expect(head.status, path).toBe(get.status);
      expect(head.headers['content-length'], path).toBe(String(get.body.length));
      expect(head.headers['content-type']).toBe(get.headers['content-type']);
      expect(head.body.length).toBe(0);
    }
  });

  it('sendText: extra headers win over the default no-store', async () => {
    const r = await rawRequest(server.url, { path: '/text' });
    expect(r.body.toString()).toBe('body{}');
    expect(r.headers['cache-control']).toBe('no-cache');
  });

  it('sendPage escapes every value: title, lines, stylesheet and links', async () => {
    const r = await rawRequest(server.url, { path: '/page' });
    expect(r.status).toBe(403);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store');
    const html = r.body.toString();
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>');
    expect(html).toContain('<h1>&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;</h1>');
    expect(html).toContain('<p>Tom &#38; Jerry&#39;s &#60;b&#62;page&#60;/b&#62;</p>');
    expect(html).toContain('href="/p.css?a=1&#38;b=&#34;2&#34;"');
    expect(html).toContain('<a href="/x?y=&#34;1&#34;&#38;z=&#60;2&#62;">Back &#60;home&#62;</a>');
    expect(escapeHtml(`&<>"'`)).toBe('&#38;&#60;&#62;&#34;&#39;');
  });

  it('sendFile: immutable assets are cached for a year, the rest revalidated', async () => {
    expect((await rawRequest(server.url, { path: '/immutable' })).headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await rawRequest(server.url, { path: '/index' })).headers['cache-control']).toBe('no-cache');
  });

  it('sendRedirect: status, location, no-store and every extra header', async () => {
    const r = await rawRequest(server.url, { path: '/redirect' });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/there');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(r.body.length).toBe(0);
  });

  it('sendEmpty: the status and headers, no body', async () => {
    const r = await rawRequest(server.url, { path: '/empty' });
    expect(r.status).toBe(204);
    expect(r.headers['x-empty']).toBe('1');
    expect(r.body.length).toBe(0);
  });
});
