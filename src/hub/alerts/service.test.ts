import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { newSide, C } from '../graph/counters.js';
import { processEndpoint } from '../graph/endpoint.js';
import type { EdgeTotals, GraphStore, ResolvedEdge } from '../store/store.js';
import { parseAlertsConfig } from './config/load.js';
import { AlertService } from './service.js';

const CONFIG = `
evaluation_interval: 1h
resolution: { short: 15s, long: 15s }
baseline: { window: 1m, every: 1m }
rules: { failures: { min_attempts: 10, min_failures: 3, windows: [{ long: 5m, short: 1m, burn_rate: 14.4, severity: critical }] } }
`;

test('a store read step by step (the Prometheus path) feeds alerting by edge key: failures on an edge raise its alert', async () => {
  let now = Date.UTC(2026, 0, 1);
  const store = { kind: 'prometheus', retentionMs: 86_400_000, edges: async () => [] } as unknown as GraphStore;
  const service = await AlertService.start({ config: parseAlertsConfig(CONFIG, 'a.yaml', { externalUrl: 'http://hub' }), store, registry: new Registry(), log: pino({ level: 'silent' }), hubName: 'test', now: () => now });
  try {
    const edge: ResolvedEdge = { key: 'client\u0002server\u00028080', client: processEndpoint('n1', 'z', 'web', '', { workload: 'web', namespace: 'a' }), server: processEndpoint('n2', 'z', 'api', '', { workload: 'api', namespace: 'a' }), port: 8080, protocol: 'tcp' };
    const step = (opened: number, refused: number): EdgeTotals[] => {
      const client = newSide();
      client[C.opened] = opened;
      client[C.failures + 1] = refused;
      // A new object every step, as the store makes them: the key names the edge.
      return [{ edge: { ...edge }, sides: [client, undefined] }];
    };
    for (let i = 0; i < 20; i++) {
      now += 15_000;
      service.addTotals(step(30, 0), now);
      service.tick();
    }
    assert.equal(service.engine.incidents.active.size, 0);
    assert.equal(service.engine.edges.slots.length, 1, 'one edge however many objects named it');
    for (let i = 0; i < 4; i++) {
      now += 15_000;
      service.addTotals(step(10, 20), now);
      service.tick();
    }
    const [inc] = [...service.engine.incidents.active.values()];
    assert.equal(inc?.name, 'FlowscopeConnectionFailures');
    assert.equal(inc?.subject, 'workload|workload:a/web|workload:a/api|8080');
  } finally {
    await service.close();
  }
});
