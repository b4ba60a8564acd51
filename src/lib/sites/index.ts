export * from './slug.js';
export * from './types.js';
export * from './sites.js';
export { findSiteBySlug, getSiteBySlug, lockSite, notifySiteChanged, siteColumns, SITES_CHANGED_CHANNEL } from './queries.js';
