/**
 * nginx as a reference reverse proxy: a minimal loopback config in a temp dir
 * (one worker — nginx's own default —, upstream keep-alive, access log on like
 * the gateway's access line), `daemon off`, run as a child and killed at the end.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { track, stopProc, waitFor200, type Child } from './procs.js';
import { freePort } from './setup.js';
import { spawn } from 'node:child_process';

export async function startNginx(bin: string, dir: string, upstream: string, probePath: string): Promise<Child> {
  const root = path.join(dir, 'nginx');
  for (const d of ['', 'tmp', 'logs']) mkdirSync(path.join(root, d), { recursive: true });
  const port = await freePort();
  const up = new URL(upstream);
  const asRoot = process.getuid?.() === 0;
  const conf = `
daemon off;
${asRoot ? 'user root root;' : ''}
worker_processes 1;
pid ${root}/nginx.pid;
error_log ${root}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log ${root}/logs/access.log;
  client_body_temp_path ${root}/tmp/body;
  proxy_temp_path ${root}/tmp/proxy;
  fastcgi_temp_path ${root}/tmp/fastcgi;
  uwsgi_temp_path ${root}/tmp/uwsgi;
  scgi_temp_path ${root}/tmp/scgi;
  keepalive_requests 1000000;
  upstream sample { server ${up.hostname}:${up.port}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://sample;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_max_temp_file_size 0;
    }
  }
}
`;
  const file = path.join(root, 'nginx.conf');
  writeFileSync(file, conf);
  const proc = spawn(bin, ['-p', root, '-c', file], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor200(url + probePath, 15_000);
  } catch (err) {
    await stopProc(proc, 'SIGKILL');
    throw err;
  }
  // SIGQUIT = graceful stop for nginx; its workers exit with the master.
  return track({ name: 'nginx', proc, pid: proc.pid!, url, stop: () => stopProc(proc, 'SIGQUIT') });
}
