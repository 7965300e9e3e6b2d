// The wire v1 types and helpers, the columnar form of TCP records and the frames (additions to v1).
export * from './v1.js';
export * from './columns.js';
export * from './frames.js';
