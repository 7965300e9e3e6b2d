import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListeners } from './procfs.js';

test('listening sockets are read from /proc/net/tcp lines in state 0A', () => {
  const text = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2493 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:8CA2 0100007F:2493 01 00000000:00000000 00:00000000 00000000     0        0 40001 1 0000000000000000 20 4 30 10 -1`;
  assert.deepEqual(parseListeners(text), [{ port: 0x2493, inode: 31337 }]);
});
