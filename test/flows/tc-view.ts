// The kernel's own view of the TC programs on an interface, for tests that must not trust the
// agent's account: tcx (BPF_PROG_QUERY, which bpftool 7.1 cannot show) and legacy clsact filters
// (bpftool net show).
import { compileC } from '../support/cbin.js';
import { loadedPrograms } from '../support/bpftool.js';
import { sh } from '../support/run.js';

// BPF_PROG_QUERY on an ifindex for BPF_TCX_INGRESS/EGRESS (46, 47), with the attr laid out as in
// Linux 6.6+ (the distro's uapi header may predate link_ids). Prints
// {"ingress":{"progs":[..],"links":[..]},"egress":{..}} or {"error":errno}.
const SOURCE = String.raw`
#include <errno.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct query {
  __u32 target_ifindex, attach_type, query_flags, attach_flags;
  __aligned_u64 prog_ids;
  __u32 count, pad;
  __aligned_u64 prog_attach_flags, link_ids, link_attach_flags, revision;
};

static int one(int ifindex, int type, const char *name) {
  __u32 progs[64], links[64];
  union { struct query q; char bytes[256]; } attr;
  memset(&attr, 0, sizeof attr);
  attr.q.target_ifindex = ifindex;
  attr.q.attach_type = type;
  attr.q.prog_ids = (unsigned long)progs;
  attr.q.link_ids = (unsigned long)links;
  attr.q.count = 64;
  if (syscall(SYS_bpf, 16 /* BPF_PROG_QUERY */, &attr, sizeof attr) < 0) return errno;
  printf("\"%s\":{\"progs\":[", name);
  for (__u32 i = 0; i < attr.q.count; i++) printf("%s%u", i ? "," : "", progs[i]);
  printf("],\"links\":[");
  for (__u32 i = 0; i < attr.q.count; i++) printf("%s%u", i ? "," : "", links[i]);
  printf("]}");
  return 0;
}

int main(int argc, char **argv) {
  int ifindex = atoi(argv[1]);
  printf("{");
  int err = one(ifindex, 46, "ingress");
  if (!err) { printf(","); err = one(ifindex, 47, "egress"); }
  if (err) printf("%s\"error\":%d", "", err);
  printf("}\n");
  return 0;
}
`;

let bin: string | undefined;

/** Compiles the query program (once), so that the first query costs no more than the others. */
export function prepareTcxView(): void {
  bin ??= compileC('tcx-query', SOURCE);
}
const progNames = new Map<number, string>();

function programName(id: number): string {
  if (!progNames.has(id)) for (const p of loadedPrograms()) progNames.set(p.id, p.name ?? '');
  return progNames.get(id) ?? '';
}

export interface TcxView {
  /** Program names in chain order. */
  ingress: string[];
  egress: string[];
  /** The tcx link ids of both directions. */
  links: number[];
}

/** The tcx programs on `ifindex` now; undefined when there is no such device. */
export function tcxView(ifindex: number): TcxView | undefined {
  prepareTcxView();
  const r = JSON.parse(sh(bin!, [String(ifindex)])) as { error?: number; ingress: { progs: number[]; links: number[] }; egress: { progs: number[]; links: number[] } };
  if (r.error === 19 /* ENODEV */) return undefined;
  if (r.error) throw new Error(`BPF_PROG_QUERY tcx on ifindex ${ifindex}: errno ${r.error}`);
  return { ingress: r.ingress.progs.map(programName), egress: r.egress.progs.map(programName), links: [...r.ingress.links, ...r.egress.links].filter((l) => l !== 0) };
}

/** Ids of the BPF links in the kernel (tcx links among them). */
export function bpfLinkIds(): Set<number> {
  return new Set((JSON.parse(sh('bpftool', ['link', 'show', '-j'])) as Array<{ id: number }>).map((l) => l.id));
}

/** Legacy TC filters on a device, as "direction:name" (bpftool net show). */
export function legacyTcView(dev: string): string[] {
  const out = JSON.parse(sh('bpftool', ['net', 'show', 'dev', dev, '-j'])) as Array<{ tc?: Array<{ kind: string; name?: string }> }>;
  // names read "flow_in:[25073]" (the program's id)
  return (out[0]?.tc ?? []).map((t) => `${t.kind.replace('clsact/', '')}:${(t.name ?? '?').replace(/:\[\d+\]$/, '')}`);
}

export function ifindexOf(dev: string): number {
  return (JSON.parse(sh('ip', ['-j', 'link', 'show', 'dev', dev])) as Array<{ ifindex: number }>)[0]!.ifindex;
}
