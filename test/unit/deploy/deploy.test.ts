/**
 * The Kubernetes manifests in deploy/kubernetes/: each parses, they refer to
 * each other consistently (labels, names, ports, Secret keys), the probes hit
 * the gateway's real endpoints, and the ConfigMap's gateway.yaml passes the
 * real configuration validation with example environment values.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../../src/config/index.js';
import { ROOT } from '../../helpers/build.js';

const DIR = path.join(ROOT, 'deploy', 'kubernetes');
const EXAMPLE_ENV = {
  DATABASE_URL: 'postgres://apg:s3cret@postgres.example.svc:5432/apg?sslmode=require',
  UPSTREAM_TOKEN: 'Token abc123',
};

type Manifest = Record<string, any>;

function load(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8'), { uniqueKeys: true });
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
  return docs.map((d) => d.toJS() as Manifest).filter((m) => m !== null);
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const manifests = new Map(files.map((f) => [f, load(f)]));
const one = (file: string, kind: string): Manifest => {
  const docs = manifests.get(file) ?? [];
  expect(docs.map((d) => d.kind)).toEqual([kind]);
  return docs[0];
};

const deployment = () => one('deployment.yaml', 'Deployment');
const container = () => deployment().spec.template.spec.containers[0];
const configMap = () => one('configmap.yaml', 'ConfigMap');
const secret = () => one('secret.example.yaml', 'Secret');
const gatewayYaml = () => configMap().data['gateway.yaml'] as string;

/** containerPort a probe/service port (number or name) resolves to */
function resolvePort(port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  return (container().ports as Array<{ name: string; containerPort: number }>).find((p) => p.name === port)?.containerPort;
}

describe('deploy/kubernetes manifests', () => {
  it('has every expected file, each a valid manifest, and kustomization lists all but the example Secret', () => {
    expect(files).toEqual(['configmap.yaml', 'deployment.yaml', 'kustomization.yaml', 'pdb.yaml', 'secret.example.yaml', 'service.yaml']);
    for (const [file, docs] of manifests) {
      expect(docs.length, file).toBe(1);
      expect(docs[0].apiVersion, file).toBeTypeOf('string');
      expect(docs[0].kind, file).toBeTypeOf('string');
      if (docs[0].kind !== 'Kustomization') expect(docs[0].metadata?.name, file).toMatch(/^[a-z0-9-]+$/);
    }
    const k = one('kustomization.yaml', 'Kustomization');
    expect([...k.resources].sort()).toEqual(['configmap.yaml', 'deployment.yaml', 'pdb.yaml', 'service.yaml']);
    expect(k.resources).not.toContain('secret.example.yaml');
    expect(k.images.map((i: { name: string }) => i.name)).toContain(container().image.split(':')[0]);
  });

  it('runs 3 replicas with readiness on readyz and liveness on healthz, on the port the gateway listens on', () => {
    const d = deployment();
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.selector.matchLabels).toEqual(expect.objectContaining({ 'app.kubernetes.io/name': 'activity-privacy-gateway' }));
    for (const [k, v] of Object.entries(d.spec.selector.matchLabels)) expect(d.spec.template.metadata.labels[k]).toBe(v);

    const c = container();
    const cfg = parseConfig(gatewayYaml(), EXAMPLE_ENV);
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
    const prefix = cfg.config.server.adminPrefix;
    expect(c.readinessProbe.httpGet.path).toBe(`${prefix}/readyz`);
    expect(c.livenessProbe.httpGet.path).toBe(`${prefix}/healthz`);
    expect(resolvePort(c.readinessProbe.httpGet.port)).toBe(cfg.config.server.port);
    expect(resolvePort(c.livenessProbe.httpGet.port)).toBe(cfg.config.server.port);
    expect(c.readinessProbe.httpGet.path).toBe('/_gateway/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/_gateway/healthz');
  });

  it('is locked down: non-root, read-only root filesystem with an emptyDir on /tmp, resources bounded, graceful stop > 10 s', () => {
    const pod = deployment().spec.template.spec;
    const c = container();
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(10);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(c.securityContext.capabilities.drop).toContain('ALL');
    const tmp = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
    expect(pod.volumes.find((v: { name: string }) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    for (const kind of ['requests', 'limits']) {
      expect(c.resources[kind].cpu, kind).toBeDefined();
      expect(c.resources[kind].memory, kind).toBeDefined();
    }
  });

  it('mounts the ConfigMap at /app/config and takes DATABASE_URL, the upstream token and APG_INSTANCE from the right places', () => {
    const pod = deployment().spec.template.spec;
    const c = container();
    const mount = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/app/config');
    expect(pod.volumes.find((v: { name: string }) => v.name === mount?.name)?.configMap?.name).toBe(configMap().metadata.name);
    const env = new Map<string, any>(c.env.map((e: { name: string }) => [e.name, e]));
    expect(env.get('APG_INSTANCE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(env.get('APG_CONFIG')?.value).toBe('/app/config/gateway.yaml');
    for (const name of ['DATABASE_URL', 'UPSTREAM_TOKEN']) {
      const ref = env.get(name)?.valueFrom?.secretKeyRef;
      expect(ref?.name, name).toBe(secret().metadata.name);
      expect(Object.keys(secret().stringData), name).toContain(ref?.key);
      expect(env.get(name)?.value, `${name} must not be written into the Deployment`).toBeUndefined();
    }
  });

  it("the ConfigMap's gateway.yaml passes the real validation with example env values, postgres for both stores", () => {
    const r = parseConfig(gatewayYaml(), EXAMPLE_ENV);
    if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
    expect(r.config.governance.sink).toBe('postgres');
    expect(r.config.governance.postgresUrl).toBe(EXAMPLE_ENV.DATABASE_URL);
    expect(r.config.state.store).toBe('postgres');
    expect(r.config.state.postgresUrl).toBe(EXAMPLE_ENV.DATABASE_URL);
    expect(r.config.upstream.serviceAuthorization).toBe(EXAMPLE_ENV.UPSTREAM_TOKEN);
    expect(r.config.server.host).toBe('0.0.0.0');
    // the Secret's example values also pass
    expect(parseConfig(gatewayYaml(), secret().stringData).ok).toBe(true);
    // and nothing secret is written into it: without the env it does not validate
    const bare = parseConfig(gatewayYaml(), {});
    expect(bare.ok).toBe(false);
    expect(gatewayYaml()).not.toContain(EXAMPLE_ENV.UPSTREAM_TOKEN);
  });

  it("the Service and the PDB select the Deployment's pods; the PDB keeps 2 available", () => {
    const labels = deployment().spec.template.metadata.labels;
    const svc = one('service.yaml', 'Service');
    for (const [k, v] of Object.entries(svc.spec.selector)) expect(labels[k]).toBe(v);
    expect(resolvePort(svc.spec.ports[0].targetPort)).toBe(8080);
    const pdb = one('pdb.yaml', 'PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBe(2);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment().spec.replicas);
  });
});
