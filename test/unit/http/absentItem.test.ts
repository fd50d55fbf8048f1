import { describe, expect, it } from 'vitest';
import { absentItemPath } from '../../../src/http/absentItem.js';

describe('absentItemPath: the id segment of the request path replaced by one that cannot exist', () => {
  const absent = /apg-absent-[0-9a-f-]{36}/;
  it('replaces the :id segment, keeps the rest of the request path as sent', () => {
    const p = absentItemPath('/api/v1/tenants/:tenant/activities/:id/', '/API/v1/tenants/t1/activities/abc/');
    expect(p).toMatch(/^\/API\/v1\/tenants\/t1\/activities\/apg-absent-[0-9a-f-]{36}\/$/);
    expect(absentItemPath('/a/:id', '/a/x')).toMatch(/^\/a\/apg-absent-/);
    expect(absentItemPath('/a/:id', '/a/x')).not.toBe(absentItemPath('/a/:id', '/a/x'));
  });
  it('without :id, the last parameter; without any, nothing to probe', () => {
    expect(absentItemPath('/a/:x/b/:y/', '/a/1/b/2/')).toMatch(new RegExp(`^/a/1/b/${absent.source}/$`));
    expect(absentItemPath('/a/item/', '/a/item/')).toBeNull();
    expect(absentItemPath('/a/**/:id', '/a/b/c/d')).toBeNull();
  });
});
