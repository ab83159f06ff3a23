/**
 * The Dockerfile and the Kubernetes manifests in deploy/, checked for
 * structure (no Docker engine or cluster runs here): every workload has gRPC
 * health probes on a port it exposes, resource requests and a non-root
 * security context; Services say appProtocol; selectors match; every flag
 * the manifests pass is one `casparian help` documents; the image copies
 * what the services read at run time.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
type Obj = Record<string, any>;

/** Every document of every .yaml file directly in `dir` (relative to the repo), tagged with its file name. */
function docs(dir: string): Obj[] {
  const abs = path.join(ROOT, dir);
  return fs
    .readdirSync(abs)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(fs.readFileSync(path.join(abs, f), 'utf8')).map((d) => {
        assert.deepEqual(d.errors, [], `${f} parses`);
        return { ...(d.toJS() as Obj), file: f };
      }),
    );
}

const workloadsOf = (all: Obj[]): Obj[] => all.filter((d) => d.kind === 'StatefulSet' || d.kind === 'Deployment');

/**
 * The checks every set of manifests passes: the objects it declares, then
 * per workload probes, requests, non-root, selector, documented flags and
 * the Secrets and ConfigMaps it uses, then Services and budgets.
 */
function structureOf(dir: string, kinds: string[], help: string): void {
  const all = docs(dir);

  it('declares exactly the expected objects', () => {
    assert.deepEqual(all.map((d) => `${d.kind}/${d.metadata.name}`).sort(), kinds);
  });

  for (const w of workloadsOf(all)) {
    it(`${w.kind}/${w.metadata.name}: gRPC probes on exposed ports, requests, non-root, matching selector, documented flags, mounted secrets and config maps exist`, () => {
      const pod = w.spec.template;
      assert.deepEqual(w.spec.selector.matchLabels, pod.metadata.labels);
      assert.equal(pod.spec.securityContext.runAsNonRoot, true);
      const secrets = all.filter((d) => d.kind === 'Secret').map((d) => d.metadata.name);
      for (const v of pod.spec.volumes ?? []) if (v.secret) assert.ok(secrets.includes(v.secret.secretName), v.secret.secretName);
      const configMaps = all.filter((d) => d.kind === 'ConfigMap').map((d) => d.metadata.name);
      for (const v of pod.spec.volumes ?? []) if (v.configMap) assert.ok(configMaps.includes(v.configMap.name), v.configMap.name);
      for (const c of pod.spec.containers) {
        const ports = c.ports.map((p: Obj) => p.containerPort);
        for (const probe of [c.readinessProbe, c.livenessProbe]) assert.ok(probe?.grpc && ports.includes(probe.grpc.port), `${c.name}: gRPC probe on an exposed port`);
        assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${c.name}: requests`);
        for (const a of c.args as string[]) {
          if (!a.startsWith('--')) continue;
          const flag = a.split('=')[0];
          // Not followed by a word character or a dash: --db must not pass on the strength of --db-pool-size.
          assert.ok(new RegExp(`${flag}(?![\\w-])`).test(help), `${c.name}: ${flag} is a flag casparian help documents`);
        }
        for (const e of c.env ?? []) {
          if (e.valueFrom?.secretKeyRef) assert.ok(secrets.includes(e.valueFrom.secretKeyRef.name), `${c.name}: env ${e.name}: Secret ${e.valueFrom.secretKeyRef.name} is declared`);
          if (e.valueFrom?.configMapKeyRef) assert.ok(configMaps.includes(e.valueFrom.configMapKeyRef.name), `${c.name}: env ${e.name}: ConfigMap ${e.valueFrom.configMapKeyRef.name} is declared`);
        }
      }
    });
  }

  it('Services declare appProtocol and select the Sentinel; budgets select existing workloads', () => {
    const services = all.filter((d) => d.kind === 'Service');
    assert.ok(services.length > 0, 'a Service');
    const workloads = workloadsOf(all);
    for (const svc of services) {
      for (const p of svc.spec.ports) assert.ok(p.appProtocol, `${svc.metadata.name} ${p.name}: appProtocol`);
      assert.equal(svc.spec.ports.find((p: Obj) => p.name === 'grpc').appProtocol, 'grpc');
      assert.ok(workloads.some((w) => JSON.stringify(w.spec.template.metadata.labels) === JSON.stringify(svc.spec.selector)), `${svc.metadata.name} selects a workload`);
    }
    for (const pdb of all.filter((d) => d.kind === 'PodDisruptionBudget')) {
      assert.ok(workloads.some((w) => JSON.stringify(w.spec.selector.matchLabels) === JSON.stringify(pdb.spec.selector.matchLabels)), pdb.metadata.name);
    }
  });
}

describe('unit: deployment files (structure)', () => {
  const help = execFileSync(process.execPath, [path.join(ROOT, 'dist', 'tools', 'casparian.js'), 'help'], { encoding: 'utf8' });

  describe('deploy/ (one Sentinel, SQLite)', () => {
    structureOf('deploy', [
      'ConfigMap/casparian-trusted-keys',
      'Deployment/casparian-worker',
      'PodDisruptionBudget/casparian-sentinel',
      'PodDisruptionBudget/casparian-worker',
      'Secret/casparian-tokens',
      'Secret/casparian-worker-token',
      'Service/casparian-sentinel',
      'StatefulSet/casparian-sentinel',
    ], help);
  });

  it('Dockerfile: multi-stage, non-root, and it copies what the services read at run time', () => {
    const text = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    assert.equal((text.match(/^FROM /gm) ?? []).length, 2, 'two stages');
    const user = /^USER (\S+)$/m.exec(text)?.[1];
    assert.ok(user && user !== 'root' && user !== '0', 'a non-root USER');
    for (const [, src] of text.matchAll(/^COPY --from=build \/app\/(\S+) /gm)) {
      if (['node_modules', 'dist'].includes(src)) continue; // made by the build stage
      assert.ok(fs.existsSync(path.join(ROOT, src)), `${src} exists in the repo`);
    }
    assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'tools', 'casparian.js')), 'the entrypoint is what tsc emits');
    assert.match(text, /ENTRYPOINT \[.*"\/app\/dist\/tools\/casparian\.js"\]/);
  });
});
