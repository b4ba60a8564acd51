export * from './slug.js';
export * from './types.js';
export * from './sites.js';
export { findSiteBySlug, getSiteBySlug, notifySiteChanged, SITES_CHANGED_CHANNEL } from './queries.js';
