export * from './suite.js';
export * from './round1.js';
export * from './round2.js';
export * from './aggregate.js';
