// The edge model and the wire types shared by agent, hub and UI: pure TypeScript, no imports.
export * from './addr.js';
export * from './capabilities.js';
export * from './connection.js';
export * from './connections.js';
export * from './distribution.js';
export * from './edge.js';
export * from './records.js';
export * from './requests.js';
export * from './workload.js';
export * as wire from './wire/index.js';
