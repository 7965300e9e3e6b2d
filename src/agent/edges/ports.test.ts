import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePortRange, servicePort } from './ports.js';

const range = { low: 32768, high: 60999 };

test('the non-ephemeral port is the service port, whichever side it is on', () => {
  assert.equal(servicePort(45000, 443, range), 443, 'client: the remote port');
  assert.equal(servicePort(8080, 51000, range), 8080, 'server: the local port');
});

test('neither ephemeral: the lower; both ephemeral: 0 (never an ephemeral label)', () => {
  assert.equal(servicePort(5353, 53, range), 53);
  assert.equal(servicePort(40000, 50000, range), 0);
  assert.equal(servicePort(32768, 60999, range), 0, 'range bounds are inclusive');
});

test('ip_local_port_range as the kernel writes it (a tab between); anything else is no range', () => {
  assert.deepEqual(parsePortRange('20000\t29999\n'), { low: 20000, high: 29999 });
  assert.equal(parsePortRange('60999 32768'), undefined, 'high below low');
  assert.equal(parsePortRange('0 100'), undefined);
  assert.equal(parsePortRange(''), undefined);
});
