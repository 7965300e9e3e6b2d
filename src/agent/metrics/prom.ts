// prom-client's metric classes, without its index: the index also loads the default collectors and
// cluster support (perf_hooks, cluster, worker_threads), 11 MB of resident memory (measured: 51.5 MB
// for `require('prom-client')` against 40.2 MB for the classes alone) that the agent's 75 MB does
// not have. The classes are the same; only the entry point differs.
import { createRequire } from 'node:module';
import type * as promClient from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry = require('prom-client/lib/registry') as typeof promClient.Registry;
export const Counter = require('prom-client/lib/counter') as typeof promClient.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof promClient.Gauge;
export const Histogram = require('prom-client/lib/histogram') as typeof promClient.Histogram;

export type Registry = promClient.Registry;
export type Counter<T extends string = string> = promClient.Counter<T>;
export type Gauge<T extends string = string> = promClient.Gauge<T>;
export type Histogram<T extends string = string> = promClient.Histogram<T>;
