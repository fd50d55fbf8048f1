/**
 * Bench child: the sample activity-log API in its own process, so the upstream
 * never shares an event loop with the proxy under test or the load generator.
 * Prints `READY <url>` once listening; exits on SIGTERM.
 *
 * The demo records are ~700 B; real Defender for Cloud Apps activities carry
 * far more (audit payload, entity data), and the list page of 100
 * activities is ~150–250 KB. So each record gets a realistic, deterministic
 * payload (rawDataJson audit fields, entityData) to ~2 KB. The fields the
 * privacy decision reads are untouched: which records are private does not change.
 */
import { generateDataset, type Activity } from '../../src/demo/dataset.js';
import { createSampleApi } from '../../src/demo/sampleApi.js';

function pad(a: Activity, i: number): Activity {
  const who = a.user?.userName ?? a.failedUserData?.userName ?? 'app@contoso.com';
  const org = '0f6c7a2e-1a45-4c0b-9d0e-5b7d3c8e2f11';
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  const guid = (n: number) =>
    `${hex(n * 2654435761)}-${hex(n).slice(0, 4)}-4${hex(n * 97).slice(0, 3)}-a${hex(n * 13).slice(0, 3)}-${hex(n * 7919)}${hex(n * 31).slice(0, 4)}`;
  return {
    ...a,
    rawDataJson: {
      ...a.rawDataJson,
      CreationTime: new Date(typeof a.timestamp === 'number' ? a.timestamp : Date.parse(a.timestamp)).toISOString(),
      Id: guid(i + 1),
      Operation: a.eventTypeName.replace('EVENT_CATEGORY_', ''),
      OrganizationId: org,
      UserKey: `1003200${hex(i * 4099).toUpperCase()}`,
      UserType: 0,
      Version: 1,
      ClientIP: a.device.clientIP,
      ObjectId: `https://contoso.sharepoint.com/sites/team-${i % 37}/Shared Documents/folder ${i % 11}/item-${i}.docx`,
      UserId: who,
      ExtendedProperties: [
        { Name: 'UserAgent', Value: a.device.userAgent },
        { Name: 'RequestType', Value: 'OAuth2:Authorize' },
        { Name: 'ResultStatusDetail', Value: 'Success' },
        { Name: 'KeepMeSignedIn', Value: 'false' },
      ],
      ModifiedProperties: [],
      ActorContextId: org,
      Target: [
        { ID: guid(i * 11 + 17), Type: 0 },
        { ID: `https://contoso.sharepoint.com/sites/team-${i % 37}`, Type: 1 },
      ],
    },
    entityData: {
      '0': { displayName: who, id: { id: `${who}|${guid(i * 13 + 19)}`, saas: 11161, inst: 0 }, resolved: true },
      '1': { displayName: a.appName, id: { id: String(a.appId), saas: a.appId, inst: 0 }, resolved: true },
      '2': { displayName: a.device.clientIP, id: { id: a.device.clientIP }, resolved: true },
    },
    mainInfo: {
      eventObjects: [{ objType: 21, role: 4, name: `item-${i}.docx`, id: guid(i * 17 + 23), serviceObjectType: 'OneDrive file', resolved: true }],
      prettyOperation: a.description,
    },
    confidenceLevel: 30,
    srcAppId: a.appId,
    collected: { saasApi: true, ipInfo: { city: a.location.city, country: a.location.countryCode, isAnonymousProxy: false } },
  } as Activity;
}

const padded = !process.argv.includes('--no-pad');
const dataset = padded ? generateDataset().map(pad) : generateDataset();
const api = createSampleApi({ dataset });
// The list page under a second path, so the gateway can serve the same bytes on a passthrough route.
api.server.prependListener('request', (req) => {
  if (req.url?.startsWith('/api/v1/raw-activities/')) req.url = '/api/v1/activities/' + req.url.slice('/api/v1/raw-activities/'.length);
});
const url = await api.listen(0, '127.0.0.1');
// Keep-alive sockets from proxies must outlive a measurement round.
api.server.keepAliveTimeout = 65_000;
process.stdout.write(`READY ${url}\n`);
process.on('SIGTERM', () => {
  void api.close().then(() => process.exit(0));
});
