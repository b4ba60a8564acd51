/** Custom domains, DNS verification and host resolution (issue 5). */
export * from './normalize.js';
export * from './dns-config.js';
export * from './dns-check.js';
export {
  addDomain,
  DEFAULT_TOKEN_TTL_MS,
  DOMAIN_STATES,
  findDomain,
  listDomains,
  removeDomain,
  setPrimaryDomain,
  type AddDomainInput,
  type AddDomainResult,
  type DomainState,
  type ListDomainsOptions,
  type RemoveDomainInput,
  type SetPrimaryDomainResult,
  type SiteDomain,
} from './domains.js';
export {
  DEFAULT_GRACE_PERIOD_MS,
  DEFAULT_VERIFY_CONCURRENCY,
  MAX_VERIFY_CONCURRENCY,
  verifyAllDomains,
  verifyDomain,
  type DomainCheckOutcome,
  type DomainCheckReport,
  type DomainTransition,
  type VerificationOptions,
  type VerifyAllOptions,
  type VerifyAllResult,
} from './verify.js';
export * from './worker.js';
export * from './resolve.js';
