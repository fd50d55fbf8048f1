/**
 * The sample API's list filters (issue 24: the console's User, From, To reach the upstream as
 * the query parameters `console.filters` names; the demo names user, since, until).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activityTime as timeOf, type Activity } from '../../../src/demo/dataset.js';
import { createSampleApi, type SampleApi } from '../../../src/demo/sampleApi.js';

describe('sample API list filters', () => {
  let api: SampleApi;
  let base: string;
  beforeAll(async () => {
    api = createSampleApi({ count: 2000, seed: 5 });
    base = await api.listen(0, '127.0.0.1');
  });
  afterAll(() => api.close());
  const list = async (q: string) => {
    const res = await fetch(`${base}/api/v1/activities/?${q}`);
    return { status: res.status, body: (await res.json()) as { data: Activity[]; total: number; hasNext: boolean; detail?: string } };
  };
  const activityTime = (a: Activity) => timeOf(a) ?? NaN;
  const nameOf = (a: Activity) => (a.user?.userName ?? a.failedUserData?.userName ?? '').toLowerCase();

  it('user: every record of that user (case-insensitive), total counts only them, paging within them', async () => {
    const name = (api.dataset as Activity[]).map(nameOf).find((n) => n.endsWith('@contoso.com'))!;
    const expected = (api.dataset as Activity[]).filter((a) => nameOf(a) === name);
    const first = await list(`user=${encodeURIComponent(name.toUpperCase())}&limit=5`);
    expect(first.status).toBe(200);
    expect(first.body.total).toBe(expected.length);
    expect(first.body.data.map((a) => a._id)).toEqual(expected.slice(0, 5).map((a) => a._id));
    const second = await list(`user=${encodeURIComponent(name)}&skip=5&limit=5&pretty=1`);
    expect(second.body.data.map((a) => a._id)).toEqual(expected.slice(5, 10).map((a) => a._id));
  });

  it('since (inclusive) and until (exclusive), ISO-8601 or epoch ms', async () => {
    const times = (api.dataset as Activity[]).map(activityTime).sort((a, b) => a - b);
    const since = times[100];
    const until = times[200];
    const expected = (api.dataset as Activity[]).filter((a) => activityTime(a) >= since && activityTime(a) < until).length;
    const iso = await list(`since=${new Date(since).toISOString()}&until=${new Date(until).toISOString()}&limit=1`);
    expect(iso.body.total).toBe(expected);
    const ms = await list(`since=${since}&until=${until}&limit=5000`);
    expect(ms.body.total).toBe(expected);
    expect(ms.body.data.every((a) => activityTime(a) >= since && activityTime(a) < until)).toBe(true);
    expect((await list('since=yesterday')).status).toBe(400);
  });

  it('no filter: the whole dataset, as before', async () => {
    expect((await list('limit=1')).body.total).toBe(2000);
  });
});
