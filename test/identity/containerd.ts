// A private containerd for tests: its own config, root, state and socket under a unique temporary
// directory (it never touches a system containerd), an image imported from Debian's busybox-static,
// pods and containers run through CRI with the agent's own client, and a clean-up that removes
// everything it made: pods, shims, their processes, cgroups, mounts, shim sockets, directories.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, symlinkSync, writeFileSync, openSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { CriClient } from '../../src/agent/enrich/cri-client.js';
import { commandExists, sh, sleep, waitFor } from '../support/run.js';

const BUSYBOX = '/bin/busybox';
export const containerdPresent = ['containerd', 'ctr', 'runc', 'containerd-shim-runc-v2'].every(commandExists) && existsSync(BUSYBOX);
/** Where containerd 1.6 puts shim sockets whatever its state directory (runtime/v2/shim/util_unix.go). */
const SHIM_SOCKETS = '/run/containerd/s';

export interface PodSpec {
  name: string;
  namespace: string;
  uid: string;
  /** Kubelet-style parent (e.g. /kubepods/besteffort/pod<uid>); none: containerd's own layout. */
  cgroupParent?: string;
}

export interface ContainerSpec {
  name: string;
  command: string[];
  /** host directory → container path */
  mounts?: Array<[string, string]>;
}

const kubeLabels = (pod: PodSpec): Record<string, string> => ({ 'io.kubernetes.pod.name': pod.name, 'io.kubernetes.pod.namespace': pod.namespace, 'io.kubernetes.pod.uid': pod.uid });
// Host network (no CNI), each container its own pid namespace (as kubelet does for v1 pods).
const NAMESPACES = { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' };

function config(dir: string, image: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  # No registry here: the sandbox ("pause") container runs the imported busybox image's sleep.
  sandbox_image = "${image}"
  disable_apparmor = true
  # Sandboxes ask for oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE, which this machine's
  # root lacks (runc: "failed to update /proc/self/oom_score_adj: Permission denied").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${dir}/cni/bin"
    conf_dir = "${dir}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      Root = "${dir}/runc"
`;
}

/** An OCI image layout tar of busybox-static (sh, sleep, httpd, wget) with /www/index.html. */
function buildImage(dir: string, image: string): string {
  const rootfs = join(dir, 'image/rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  mkdirSync(join(rootfs, 'www'));
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  for (const a of ['sh', 'sleep', 'httpd', 'wget']) symlinkSync('busybox', join(rootfs, `bin/${a}`));
  writeFileSync(join(rootfs, 'www/index.html'), 'hello from containerd\n');
  const layout = join(dir, 'image/layout');
  const blobs = join(layout, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const layerTar = join(dir, 'image/layer.tar');
  sh('tar', ['-C', rootfs, '-cf', layerTar, '.']);
  const blob = (path: string): { digest: string; size: number } => {
    const data = readFileSync(path);
    const hex = createHash('sha256').update(data).digest('hex');
    renameSync(path, join(blobs, hex));
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const json = (name: string, v: unknown): { digest: string; size: number } => {
    writeFileSync(join(dir, 'image', name), JSON.stringify(v));
    return blob(join(dir, 'image', name));
  };
  const layer = blob(layerTar);
  const cfg = json('config.json', { architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/bin'], Cmd: ['sleep', '86400'] }, rootfs: { type: 'layers', diff_ids: [layer.digest] } });
  const manifest = json('manifest.json', {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  });
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'io.containerd.image.name': image } }] }));
  const tar = join(dir, 'image.tar');
  sh('tar', ['-C', layout, '-cf', tar, '.']);
  return tar;
}

/** cgroup v1 and v2 mount points (a hybrid layout has both). */
function cgroupMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4]!);
}

/** Mount points below `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return sh('findmnt', ['-rn', '-o', 'TARGET'], { allowFail: true })
    .split('\n')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Processes running `program` (by base name) with all of `args` among their arguments. */
function pidsOf(program: string, args: string[]): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const [argv0, ...rest] = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (basename(argv0 ?? '') === program && args.every((x) => rest.includes(x))) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Kills what is left in the cgroup directories named `name` below `rel` in every hierarchy, then removes them. */
async function removeCgroups(rel: string[], ids: Set<string>): Promise<void> {
  for (const mount of cgroupMounts()) {
    for (const parent of rel) {
      const dir = join(mount, parent);
      if (!existsSync(dir)) continue;
      for (const id of readdirSync(dir)) {
        if (!ids.has(id)) continue;
        const cg = join(dir, id);
        try {
          for (const pid of readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) kill(Number(pid));
        } catch {
          // removed meanwhile
        }
        for (let i = 0; i < 50; i++) {
          try {
            rmdirSync(cg);
            break;
          } catch {
            await sleep(20);
          }
        }
      }
    }
  }
}

/** Removes cgroup directories (deepest first, every hierarchy) that did not exist before and are empty now. */
function removeCreatedCgroupParents(existed: Set<string>, rels: string[]): void {
  for (const mount of cgroupMounts()) {
    for (const rel of [...rels].sort((a, b) => b.length - a.length)) {
      const dir = join(mount, rel);
      if (existed.has(dir) || !existsSync(dir)) continue;
      try {
        rmdirSync(dir);
      } catch {
        // not empty: not only ours
      }
    }
  }
}

/** Every ancestor of a cgroup path, e.g. /a/b/c → [/a, /a/b, /a/b/c]. */
const ancestors = (rel: string): string[] => rel.split('/').filter(Boolean).map((_, i, parts) => `/${parts.slice(0, i + 1).join('/')}`);

/** A containerd of the test's own; nothing runs until start(), and stop() removes everything. */
export class PrivateContainerd {
  readonly dir: string;
  readonly socket: string;
  readonly image: string;
  /** The agent's own CRI client; the test runs pods with it too. */
  readonly cri: CriClient;
  private daemon: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  // What existed before, so that only what this instance makes is removed.
  private readonly runContainerdExisted = existsSync('/run/containerd');
  private readonly shimSocketsExisted = existsSync(SHIM_SOCKETS);
  private readonly shimSocketsBefore = new Set(this.shimSocketsExisted ? readdirSync(SHIM_SOCKETS) : []);
  private readonly cgroupRels = new Set<string>();
  private readonly existedCgroups = new Set<string>();
  private readonly ids = new Set<string>();

  constructor(tag: string) {
    this.dir = mkdtempSync(join(tmpdir(), `fsid-containerd-${tag}-`));
    this.socket = join(this.dir, 'containerd.sock');
    this.image = `docker.io/library/fsid-busybox-${tag}:1.35`;
    this.cri = new CriClient(this.socket, 30_000);
    mkdirSync(join(this.dir, 'logs'));
    writeFileSync(join(this.dir, 'config.toml'), config(this.dir, this.image));
    this.cgroupParents('/k8s.io');
  }

  /** Notes cgroup directories containerd may create, and which of them exist already. */
  private cgroupParents(rel: string): void {
    for (const a of ancestors(rel)) {
      if (this.cgroupRels.has(a)) continue;
      this.cgroupRels.add(a);
      for (const m of cgroupMounts()) if (existsSync(join(m, a))) this.existedCgroups.add(join(m, a));
    }
  }

  /** Starts containerd, waits until it answers CRI, imports the busybox image. */
  async start(): Promise<void> {
    const log = openSync(join(this.dir, 'containerd.log'), 'a');
    const daemon = spawn('containerd', ['--config', join(this.dir, 'config.toml')], { stdio: ['ignore', log, log] });
    this.daemon = daemon;
    this.exited = new Promise<void>((r) => daemon.once('exit', () => r()));
    await waitFor(
      async () => {
        if (daemon.exitCode !== null) throw new Error(`containerd exited ${daemon.exitCode}: ${readFileSync(join(this.dir, 'containerd.log'), 'utf8').slice(-2000)}`);
        return existsSync(this.socket) && (await this.cri.version().then(() => true, () => false));
      },
      15_000,
      'the private containerd answering CRI',
      100,
    );
    this.ctr(['images', 'import', buildImage(this.dir, this.image)]);
  }

  ctr(args: string[]): string {
    return sh('ctr', ['-a', this.socket, '-n', 'k8s.io', ...args]);
  }

  private sandboxConfig(pod: PodSpec): object {
    return {
      metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, attempt: 0 },
      log_directory: join(this.dir, 'logs', pod.uid),
      labels: kubeLabels(pod),
      linux: { cgroup_parent: pod.cgroupParent ?? '', security_context: { namespace_options: NAMESPACES } },
    };
  }

  /** Runs a pod on the host network (no CNI needed) with kubelet's labels; returns its id. */
  async runPod(pod: PodSpec): Promise<string> {
    if (pod.cgroupParent) this.cgroupParents(pod.cgroupParent);
    const id = (await this.cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: this.sandboxConfig(pod) })).pod_sandbox_id;
    this.ids.add(id);
    return id;
  }

  /** Creates and starts a container in a pod, with kubelet's labels; returns its id. */
  async runContainer(podId: string, pod: PodSpec, c: ContainerSpec): Promise<string> {
    const { container_id: id } = await this.cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: podId,
      sandbox_config: this.sandboxConfig(pod),
      config: {
        metadata: { name: c.name, attempt: 0 },
        image: { image: this.image },
        command: c.command,
        labels: { ...kubeLabels(pod), 'io.kubernetes.container.name': c.name },
        log_path: `${c.name}.log`,
        mounts: (c.mounts ?? []).map(([host, container]) => ({ host_path: host, container_path: container })),
        linux: { security_context: { namespace_options: NAMESPACES } },
      },
    });
    this.ids.add(id);
    await this.cri.call('StartContainer', { container_id: id });
    return id;
  }

  /** The host pid of a container's first process (ContainerStatus, verbose). */
  async pid(containerId: string): Promise<number> {
    const r = await this.cri.call<{ info: Record<string, string> }>('ContainerStatus', { container_id: containerId, verbose: true });
    return Number((JSON.parse(r.info.info ?? '{}') as { pid?: number }).pid);
  }

  async stop(): Promise<void> {
    // Pods first, through CRI: containerd stops their tasks, unmounts their rootfs, removes cgroups.
    if (this.daemon?.exitCode === null) {
      try {
        for (const p of (await this.cri.call<{ items: Array<{ id: string }> }>('ListPodSandbox', {}, 5000)).items) {
          await this.cri.call('StopPodSandbox', { pod_sandbox_id: p.id }, 10_000).catch(() => undefined);
          await this.cri.call('RemovePodSandbox', { pod_sandbox_id: p.id }, 10_000).catch(() => undefined);
        }
      } catch {
        // containerd does not answer: the forced path below
      }
    }
    this.cri.close();
    if (this.daemon && this.daemon.exitCode === null && this.daemon.signalCode === null) {
      this.daemon.kill('SIGTERM');
      await Promise.race([this.exited, sleep(5000)]);
      if (this.daemon.exitCode === null && this.daemon.signalCode === null) this.daemon.kill('SIGKILL');
      await this.exited;
    }
    // Shims outlive containerd by design; ours are the ones given this socket.
    for (const pid of pidsOf('containerd-shim-runc-v2', ['-address', this.socket])) kill(pid);
    await removeCgroups([...this.cgroupRels], this.ids);
    removeCreatedCgroupParents(this.existedCgroups, [...this.cgroupRels]);
    // Rootfs (overlay) and shm mounts under the state directory, if containerd could not unmount them.
    for (const m of mountsUnder(this.dir)) sh('umount', ['-R', m], { allowFail: true });
    for (const m of mountsUnder(this.dir)) sh('umount', ['-l', m], { allowFail: true });
    if (existsSync(SHIM_SOCKETS)) for (const s of readdirSync(SHIM_SOCKETS)) if (!this.shimSocketsBefore.has(s)) rmSync(join(SHIM_SOCKETS, s), { force: true });
    for (const [d, existed] of [[SHIM_SOCKETS, this.shimSocketsExisted], ['/run/containerd', this.runContainerdExisted]] as const) {
      if (!existed && existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
