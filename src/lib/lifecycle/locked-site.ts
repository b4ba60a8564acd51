import { ConflictError, MigrationIntegrityError, ValidationError } from '../errors.js';
import { assertSiteSchemaName } from '../migrations/site.js';
import type { Site } from '../sites/types.js';


/** The network admin site runs the network: it is never suspended, deleted or purged. */
export function refuseNetworkAdmin(site: Site, what: string): void {
  if (site.isNetworkAdmin) {
    throw new ConflictError(`"${site.slug}" is the network admin site and cannot be ${what}`, { slug: site.slug });
  }
}

export function refuseDeleted(site: Site, what: string): void {
  if (site.deletedAt) {
    throw new ConflictError(`site "${site.slug}" is deleted and cannot be ${what}; restore it first with site:restore ${site.slug}`, { slug: site.slug });
  }
}

/**
 * The schema a site row records, refused unless it is a well-formed site schema name: nothing
 * lifecycle code drops or copies can be public, pg_* or another non-site schema.
 */
export function recordedSiteSchema(site: Site): string {
  try {
    assertSiteSchemaName(site.schemaName);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new MigrationIntegrityError(`site "${site.slug}" records schema ${JSON.stringify(site.schemaName)}, which is not a site schema name: refusing to touch it`, { slug: site.slug, schema: site.schemaName });
  }
  return site.schemaName;
}
