/**
 * The Dockerfile and the Kubernetes manifests in deploy/, checked for
 * structure (no Docker engine or cluster runs here): every workload has gRPC
 * health probes on a port it exposes, resource requests and a non-root
 * security context; Services say appProtocol; selectors match; every flag
 * the manifests pass is one the help of that command (`casparian sentinel
 * --help`) documents; the image copies
 * what the services read at run time. deploy/ (one Sentinel on SQLite) and
 * deploy/replicated/ (Sentinel replicas on PostgreSQL and a shared output
 * volume) are two sets, each complete on its own; the replicated one is also
 * checked for what replicas need.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseStoreTarget } from '../../../services/common/store-target';

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
function structureOf(dir: string, kinds: string[], help: (command: string) => string): void {
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
        const [command] = c.args as string[];
        for (const a of c.args as string[]) {
          if (!a.startsWith('--')) continue;
          const flag = a.split('=')[0];
          // Not followed by a word character or a dash: --db must not pass on the strength of --db-pool-size.
          assert.ok(new RegExp(`${flag}(?![\\w-])`).test(help(command)), `${c.name}: ${flag} is a flag casparian ${command} --help documents`);
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

/** Every label of `selector` (non-empty) is on `labels`: the Kubernetes meaning of "selects". */
const selects = (selector: Obj | undefined, labels: Obj | undefined): boolean =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The one container in the set whose first argument is `command` (sentinel, worker), with its workload. */
function containerRunning(all: Obj[], command: string): { workload: Obj; container: Obj } {
  const found = workloadsOf(all).flatMap((workload) =>
    (workload.spec.template.spec.containers as Obj[]).filter((c) => c.args?.[0] === command).map((container) => ({ workload, container })),
  );
  assert.equal(found.length, 1, `one container runs casparian ${command}`);
  return found[0];
}

/** The value of `--name=VALUE` or `--name VALUE` in `args`. */
function flagValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
    if (args[i] === `--${name}`) return args[i + 1];
  }
  return undefined;
}

/** The mount holding the path `p` in the container (the longest mountPath containing it) and its pod volume. */
function volumeAt(pod: Obj, c: Obj, p: string): { mount: Obj; volume: Obj } | undefined {
  const holds = (m: Obj): boolean => p === m.mountPath || p.startsWith(`${String(m.mountPath).replace(/\/$/, '')}/`);
  const mount = ((c.volumeMounts ?? []) as Obj[]).filter(holds).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const volume = mount && (pod.spec.volumes as Obj[]).find((v) => v.name === mount.name);
  return mount && volume ? { mount, volume } : undefined;
}

/**
 * What Sentinel replicas need beyond the structure: several of them, one
 * database named by a Secret, one output volume every replica can write, a
 * data dir of their own, a budget that lets one go at a time, and workers
 * that can see every replica through a headless Service.
 */
function replicationOf(dir: string): void {
  const all = docs(dir);
  /** Looked up in each test, so that a missing Sentinel fails tests rather than loading. */
  const sentinelOf = () => {
    const { workload: sentinel, container: c } = containerRunning(all, 'sentinel');
    return { sentinel, c, pod: sentinel.spec.template, labels: sentinel.spec.template.metadata.labels as Obj };
  };

  it('the Sentinel is a Deployment of at least two replicas', () => {
    const { sentinel } = sentinelOf();
    assert.equal(sentinel.kind, 'Deployment');
    assert.ok(Number.isInteger(sentinel.spec.replicas) && sentinel.spec.replicas >= 2, `replicas: ${sentinel.spec.replicas}`);
  });

  it('CASPARIAN_DB comes from a key of a declared Secret holding a PostgreSQL URL, and no URL is written anywhere else', () => {
    const { c } = sentinelOf();
    const env = ((c.env ?? []) as Obj[]).filter((e) => e.name === 'CASPARIAN_DB');
    assert.equal(env.length, 1, 'CASPARIAN_DB is set once');
    assert.equal(env[0].value, undefined, 'CASPARIAN_DB has no literal value');
    const ref = env[0].valueFrom?.secretKeyRef;
    assert.ok(ref, 'CASPARIAN_DB is a secretKeyRef');
    const secret = all.find((d) => d.kind === 'Secret' && d.metadata.name === ref.name);
    assert.ok(secret, `Secret ${ref.name} is declared in the example secrets`);
    const example = secret.stringData?.[ref.key] ?? (secret.data?.[ref.key] !== undefined ? Buffer.from(secret.data[ref.key], 'base64').toString() : undefined);
    assert.ok(example !== undefined, `Secret ${ref.name} has the key ${ref.key}`);
    assert.equal(parseStoreTarget(example).kind, 'postgres', 'the example is a PostgreSQL URL --db accepts');
    assert.equal(flagValue(c.args, 'db'), undefined, 'no --db flag beside it');
    for (const d of all.filter((x) => x.kind !== 'Secret')) {
      assert.doesNotMatch(JSON.stringify(d), /postgres(ql)?:\/\//i, `${d.file}: ${d.kind}/${d.metadata.name} has no database URL`);
    }
  });

  it('--output-root is on a ReadWriteMany claim mounted read-write; --data-dir is not on that claim', () => {
    const { c, pod } = sentinelOf();
    const out = flagValue(c.args, 'output-root');
    assert.ok(out && path.posix.isAbsolute(out), `--output-root is an absolute path: ${out}`);
    const at = volumeAt(pod, c, out);
    const claim = at?.volume.persistentVolumeClaim?.claimName;
    assert.ok(claim, `${out} is on a PersistentVolumeClaim`);
    assert.notEqual(at!.mount.readOnly, true, `${out} is mounted read-write`);
    const pvc = all.find((d) => d.kind === 'PersistentVolumeClaim' && d.metadata.name === claim);
    assert.ok(pvc, `PersistentVolumeClaim ${claim} is declared`);
    assert.ok(pvc.spec.accessModes?.includes('ReadWriteMany'), `${claim}: accessModes include ReadWriteMany (${pvc.spec.accessModes})`);

    const data = flagValue(c.args, 'data-dir');
    assert.ok(data && path.posix.isAbsolute(data), `--data-dir is an absolute path: ${data}`);
    const dataAt = volumeAt(pod, c, data);
    assert.ok(dataAt, `${data} is on a volume`);
    assert.notEqual(dataAt.volume.persistentVolumeClaim?.claimName, claim, `${data} is not on the shared claim ${claim}`);
  });

  it('readiness asks for casparian.v1.Sentinel, liveness for ""; replicas prefer different nodes', () => {
    const { c, pod, labels } = sentinelOf();
    assert.equal(c.readinessProbe.grpc.service, 'casparian.v1.Sentinel');
    assert.ok(!c.livenessProbe.grpc.service, 'liveness on "" (it stays SERVING while the database is away)');
    const terms = (pod.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) as Obj[];
    assert.ok(
      terms.some((t) => t.podAffinityTerm?.topologyKey === 'kubernetes.io/hostname' && selects(t.podAffinityTerm.labelSelector?.matchLabels, labels)),
      'a preferred anti-affinity term spreads Sentinel pods over nodes',
    );
  });

  it('the disruption budget lets one Sentinel replica go at a time', () => {
    const { sentinel, labels } = sentinelOf();
    const pdbs = all.filter((d) => d.kind === 'PodDisruptionBudget' && selects(d.spec.selector?.matchLabels, labels));
    assert.equal(pdbs.length, 1, 'one budget covers the Sentinel');
    const { maxUnavailable, minAvailable } = pdbs[0].spec;
    const down = typeof maxUnavailable === 'number' ? maxUnavailable : typeof minAvailable === 'number' ? sentinel.spec.replicas - minAvailable : NaN;
    assert.equal(down, 1, 'exactly one replica may be down (0 would block every node drain)');
  });

  it('clients have a ClusterIP Service; the workers\' --sentinel names the headless Service, which selects only Sentinel pods, on the port the Sentinel listens on', () => {
    const { sentinel, c, labels } = sentinelOf();
    const services = all.filter((d) => d.kind === 'Service' && selects(d.spec.selector, labels));
    assert.ok(services.some((s) => s.spec.clusterIP !== 'None' && (s.spec.type ?? 'ClusterIP') === 'ClusterIP'), 'a ClusterIP Service in front of the Sentinel');

    const { container: worker } = containerRunning(all, 'worker');
    const target = flagValue(worker.args, 'sentinel');
    assert.ok(target, 'the worker passes --sentinel');
    // dns:///name:port, dns:name:port or a comma-separated list of host:port.
    const addresses = target.replace(/^dns:(\/\/[^/]*\/)?/, '').split(',');
    for (const address of addresses) {
      const m = /^([^:/]+):(\d+)$/.exec(address);
      assert.ok(m, `${address} is HOST:PORT`);
      const name = m[1].split('.')[0];
      const svc = all.find((d) => d.kind === 'Service' && d.metadata.name === name);
      assert.ok(svc, `--sentinel names a Service of this set (${name})`);
      assert.equal(svc.spec.clusterIP, 'None', `${name} is headless`);
      assert.ok(selects(svc.spec.selector, labels), `${name} selects the Sentinel pods`);
      for (const w of workloadsOf(all).filter((x) => x !== sentinel)) {
        assert.ok(!selects(svc.spec.selector, w.spec.template.metadata.labels), `${name} does not select ${w.metadata.name}`);
      }
      // A headless name resolves to pod IPs: the port dialled is the container's.
      const port = Number(m[2]);
      assert.equal(Number(flagValue(c.args, 'port')), port, `the Sentinel listens on ${port}`);
      assert.ok((c.ports as Obj[]).some((p) => p.containerPort === port), `the Sentinel container exposes ${port}`);
      assert.ok((svc.spec.ports as Obj[]).some((p) => p.port === port), `${name} lists ${port}`);
    }
  });
}

describe('unit: deployment files (structure)', () => {
  const helps = new Map<string, string>();
  /** One command's help: it lists exactly the flags that command takes. */
  const help = (command: string): string => {
    if (!helps.has(command)) helps.set(command, execFileSync(process.execPath, [path.join(ROOT, 'dist', 'tools', 'casparian.js'), command, '--help'], { encoding: 'utf8' }));
    return helps.get(command)!;
  };

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

  describe('deploy/replicated/ (Sentinel replicas, PostgreSQL, a shared output volume)', () => {
    structureOf('deploy/replicated', [
      'ConfigMap/casparian-trusted-keys',
      'Deployment/casparian-sentinel',
      'Deployment/casparian-worker',
      'PersistentVolumeClaim/casparian-outputs',
      'PodDisruptionBudget/casparian-sentinel',
      'PodDisruptionBudget/casparian-worker',
      'Secret/casparian-postgres',
      'Secret/casparian-tokens',
      'Secret/casparian-worker-token',
      'Service/casparian-sentinel',
      'Service/casparian-sentinel-headless',
    ], help);
    replicationOf('deploy/replicated');
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
