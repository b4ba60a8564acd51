export * from './slug.js';
export * from './types.js';
export * from './sites.js';
export { findSiteById, findSiteBySlug, getSiteBySlug, lockSite, lockSiteBySlug, notifySiteChanged, siteColumns, SITES_CHANGED_CHANNEL } from './queries.js';
