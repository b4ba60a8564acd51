export * from './email.js';
export * from './users.js';
