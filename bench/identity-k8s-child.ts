// Child of identity-k8s-memory: syncs from the API server and reports its own memory.
import pino from 'pino';
import http from 'node:http';
import { K8sWatcher, loadKubeConfig } from '../src/agent/enrich/k8s.js';

const [mode, kubeconfig, podsArg] = process.argv.slice(2);
const pods = Number(podsArg);
const gc = (globalThis as { gc?: () => void }).gc!;
gc();
const before = process.memoryUsage();
const t0 = Date.now();
const kc = loadKubeConfig(kubeconfig);
let hold: unknown[] = [];
let stop = (): void => undefined;
if (mode === 'trimmed') {
  const w = new K8sWatcher(kc, { log: pino({ level: 'silent' }), nodeName: 'node-0' });
  w.start();
  stop = () => w.stop();
  const deadline = Date.now() + 300_000;
  while (!(w.status.length === 6 && w.status.every((s) => s.state === 'synced') && w.index.podsByUid.size >= pods)) {
    if (Date.now() > deadline) {
      console.error(JSON.stringify({ status: w.status, pods: w.index.podsByUid.size }));
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
} else {
  const server = kc.getCurrentCluster()!.server;
  let cont = '';
  do {
    const page = await new Promise<any>((resolve, reject) => {
      http.get(`${server}/api/v1/pods?limit=500${cont ? `&continue=${cont}` : ''}`, (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (b += d));
        res.on('end', () => resolve(JSON.parse(b)));
      }).on('error', reject);
    });
    hold = hold.concat(page.items);
    cont = page.metadata.continue ?? '';
  } while (cont);
}
const syncSeconds = (Date.now() - t0) / 1000;
for (let i = 0; i < 3; i++) gc();
const after = process.memoryUsage();
process.stdout.write(JSON.stringify({ pods: mode === 'full' ? hold.length : pods, syncSeconds, heapMiB: (after.heapUsed - before.heapUsed) / 1048576, rssMiB: after.rss / 1048576 }));
stop();
process.exit(0);
