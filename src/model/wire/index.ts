// The wire v1 types and helpers, and the columnar form of TCP records (an addition to v1).
export * from './v1.js';
export * from './columns.js';
