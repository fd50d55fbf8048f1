/**
 * The demo's HTTP directory, served by the sample API and read by config/demo.yaml's
 * `directory.http`: through the gateway's own HTTP source, so the catalogue and the
 * membership answers are what the demo gateway really reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_DIRECTORY_GROUPS, STATIC_DIRECTORY } from '../../../src/demo/dataset.js';
import { createSampleApi, type SampleApi } from '../../../src/demo/sampleApi.js';
import { httpSource } from '../../../src/directory/http.js';

describe("the demo's HTTP directory", () => {
  let api: SampleApi;
  let url: string;
  beforeAll(async () => {
    api = createSampleApi();
    url = await api.listen();
  });
  afterAll(() => api.close());

  const source = () => httpSource({ url: `${url}/directory/users/{principal}/groups`, groupsUrl: `${url}/directory/groups` });
  const signal = new AbortController().signal;
  const groupsOf = async (p: string) => [...(await source().lookup(p, signal)).groups];

  it('lists the catalogue: hr, legal, finance and the admin groups', async () => {
    const groups = await source().listGroups!(signal);
    expect(groups.map((g) => g.id).sort()).toEqual(['finance', 'hr', 'legal', 'privacy-officers', 'security-admins']);
  });

  it("answers each user's groups no groups for an unknown user, and agrees with the static directory", async () => {
    expect(await groupsOf('alice@contoso.com')).toEqual(['security-admins']);
    expect(await groupsOf('dpo@contoso.com')).toEqual(['security-admins', 'privacy-officers']);
    expect(await groupsOf('erin@contoso.com')).toEqual([]);
    for (const [group, members] of Object.entries(STATIC_DIRECTORY)) {
      expect(HTTP_DIRECTORY_GROUPS.find((g) => g.id === group)?.members).toEqual(members);
    }
  });
});
