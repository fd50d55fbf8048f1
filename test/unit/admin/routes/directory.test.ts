import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryRoutes } from '../../../../src/admin/routes/directory.js';
import { call, mountRoute, type Mounted } from '../../../helpers/adminRoute.js';
import { makeParts, type Parts } from '../../../helpers/units.js';

let parts: Parts;
let app: Mounted;

beforeAll(async () => {
  parts = await makeParts('http://127.0.0.1:9', { directory: { groups: { hr: ['bob@contoso.com'], legal: [], 'sales-emea': [] } } });
  app = await mountRoute(directoryRoutes(parts.adminDeps()), parts);
});
afterAll(async () => {
  await app.close();
  await parts.close();
});

const search = async (q: string) => call(app.url, `/directory/groups${q}`, { as: 'alice@contoso.com' });
const ids = (r: { json: () => any }) => r.json().groups.map((g: { id: string }) => g.id);

describe('GET /directory/groups', () => {
  it('lists the catalogue: built-ins, static groups with their configured names', async () => {
    const r = await search('');
    expect(r.status).toBe(200);
    expect(ids(r)).toEqual(expect.arrayContaining(['hr', 'legal', 'sales-emea', 'builtin:external-users']));
    expect(r.json().groups.find((g: { id: string }) => g.id === 'hr')).toEqual({ id: 'hr', name: 'Human Resources', source: 'static' });
  });

  it('searches ids and names case-insensitively', async () => {
    expect(ids(await search('?search=HUMAN'))).toEqual(['hr']);
    expect(ids(await search('?search=emea'))).toEqual(['sales-emea']);
    expect(ids(await search('?search=zzz'))).toEqual([]);
  });

  it('limit caps the answer', async () => {
    expect(ids(await search('?limit=1'))).toHaveLength(1);
    expect(ids(await search('?limit=1000')).length).toBeGreaterThan(1);
  });

  it.each([
    ['?limit=0'],
    ['?limit=1001'],
    ['?limit=abc'],
    ['?limit=-1'],
    ['?limit=1&limit=2'],
    ['?search=a&search=b'],
    [`?search=${'x'.repeat(201)}`],
    ['?q=hr'],
  ])('400 bad_request for %s', async (q) => {
    const r = await search(q);
    expect(r.status).toBe(400);
    expect(r.json().error.code).toBe('bad_request');
  });
});
