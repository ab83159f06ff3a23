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

function docs(): Obj[] {
  const dir = path.join(ROOT, 'deploy');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(fs.readFileSync(path.join(dir, f), 'utf8')).map((d) => {
        assert.deepEqual(d.errors, [], `${f} parses`);
        return { ...(d.toJS() as Obj), file: f };
      }),
    );
}

describe('unit: deployment files (structure)', () => {
  const all = docs();
  const help = execFileSync(process.execPath, [path.join(ROOT, 'dist', 'tools', 'casparian.js'), 'help'], { encoding: 'utf8' });

  it('has the Sentinel StatefulSet, the worker Deployment, a Service, disruption budgets and the Secrets and ConfigMap they mount', () => {
    const kinds = all.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      'ConfigMap/casparian-trusted-keys',
      'Deployment/casparian-worker',
      'PodDisruptionBudget/casparian-sentinel',
      'PodDisruptionBudget/casparian-worker',
      'Secret/casparian-tokens',
      'Secret/casparian-worker-token',
      'Service/casparian-sentinel',
      'StatefulSet/casparian-sentinel',
    ]);
  });

  for (const kind of ['StatefulSet', 'Deployment']) {
    it(`${kind}: gRPC probes on exposed ports, requests, non-root, matching selector, documented flags, mounted secrets and config maps exist`, () => {
      const w = all.find((d) => d.kind === kind)!;
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
          assert.ok(new RegExp(`${flag}\\b`).test(help), `${c.name}: ${flag} is a flag casparian help documents`);
        }
        for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef) assert.ok(secrets.includes(e.valueFrom.secretKeyRef.name));
      }
    });
  }

  it('Services declare appProtocol and select the Sentinel; budgets select existing workloads', () => {
    const svc = all.find((d) => d.kind === 'Service')!;
    for (const p of svc.spec.ports) assert.ok(p.appProtocol, `${p.name}: appProtocol`);
    assert.equal(svc.spec.ports.find((p: Obj) => p.name === 'grpc').appProtocol, 'grpc');
    const workloads = all.filter((d) => d.kind === 'StatefulSet' || d.kind === 'Deployment');
    assert.ok(workloads.some((w) => JSON.stringify(w.spec.template.metadata.labels) === JSON.stringify(svc.spec.selector)));
    for (const pdb of all.filter((d) => d.kind === 'PodDisruptionBudget')) {
      assert.ok(workloads.some((w) => JSON.stringify(w.spec.selector.matchLabels) === JSON.stringify(pdb.spec.selector.matchLabels)), pdb.metadata.name);
    }
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
