import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeOf, RouteSet, OTHER_ROUTE } from './route.js';

test('identifiers collapse into {id}; words stay', () => {
  assert.equal(routeOf('/users/42'), '/users/{id}');
  assert.equal(routeOf('/users/42/orders/7'), '/users/{id}/orders/{id}');
  assert.equal(routeOf('/orders/3f2a9c1e-1b2c-4d5e-8f90-123456789abc'), '/orders/{id}');
  assert.equal(routeOf('/blobs/deadbeef0042'), '/blobs/{id}');
  assert.equal(routeOf('/s/eyJhbGciOiJIUzI1NiJ9abc123'), '/s/{id}');
  assert.equal(routeOf('/mail/ann@example.com'), '/mail/{id}');
  assert.equal(routeOf('/api/v2/status'), '/api/v2/status');
  assert.equal(routeOf('/index.html'), '/index.html');
  assert.equal(routeOf('/'), '/');
  assert.equal(routeOf(''), '/');
  assert.equal(routeOf('/helloworld.Greeter/SayHello'), '/helloworld.Greeter/SayHello');
});

test('a path cut by the kernel ends in an ellipsis; absolute-form requests have no route', () => {
  assert.equal(routeOf('/files/reports/annual-rep', true), '/files/reports/…');
  assert.equal(routeOf('http://example.com/x'), OTHER_ROUTE);
});

test('routes per edge are bounded: past the bound new routes count as other', () => {
  const set = new RouteSet(2);
  assert.equal(set.admit('/a'), '/a');
  assert.equal(set.admit('/b'), '/b');
  assert.equal(set.admit('/a'), '/a', 'known routes keep their name');
  assert.equal(set.admit('/c'), OTHER_ROUTE);
  assert.equal(set.overflowed, 1);
});
