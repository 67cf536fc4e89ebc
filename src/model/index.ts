export * from './layer.js';
export * from './dense.js';
export * from './batchnorm.js';
export * from './sequential.js';
export * from './init.js';
export * from './build.js';
export * from './adam.js';
