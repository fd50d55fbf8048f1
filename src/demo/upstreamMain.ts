import { parseArgs } from 'node:util';
import { createSampleApi } from './sampleApi.js';

/**
 * Only the sample activity-log API (no gateway): the upstream of docker-compose.yml.
 * `node dist/demo/upstreamMain.js [--port N] [--host H]`; defaults $PORT or 8081, 0.0.0.0.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' } } });
  const port = Number(values.port ?? process.env.PORT ?? 8081);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${values.port ?? process.env.PORT}`);
  // a few new activities a second, with current timestamps, so privacy changes show on fresh data
  const api = createSampleApi({ live: { perSecond: 3 } });
  const url = await api.listen(port, values.host ?? '0.0.0.0');
  process.stdout.write(`${JSON.stringify({ msg: 'sample API listening', url, activities: api.dataset.length })}\n`);
  const stop = () => {
    api.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`sample API: ${(err as Error).message}\n`);
  process.exit(1);
});
