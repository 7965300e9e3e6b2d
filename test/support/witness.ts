// What the kernel can do, asked of tools other than flowscope: bpftrace (its own loader and feature
// probes) attaches a probe or does not; the kernel's BTF names a tracepoint's typed form or does not.
// Tests compare flowscope's probes (doctor) with these, instead of assuming this machine's kernel.
import { execFileSync, spawnSync } from 'node:child_process';

/** Whether bpftrace attaches `probe` (e.g. "kprobe:tcp_v4_connect", "kfunc:tcp_v4_connect"). */
export function bpftraceAttaches(probe: string): { ok: boolean; output: string } {
  const r = spawnSync('bpftrace', ['-e', `${probe} { exit(); } interval:ms:100 { exit(); }`], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new Error(`bpftrace could not run (scripts/setup.sh installs it): ${r.error.message}`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

let btfNames: Set<string> | undefined;

/** Whether the running kernel's BTF has a type of this name (e.g. btf_trace_inet_sock_set_state for tp_btf). */
export function kernelBtfHas(name: string): boolean {
  if (!btfNames) {
    const raw = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
    btfNames = new Set([...raw.matchAll(/^\[\d+\] \w+ '([^']+)'/gm)].map((m) => m[1]!));
  }
  return btfNames.has(name);
}
