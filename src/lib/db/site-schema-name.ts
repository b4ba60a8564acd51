/**
 * The placeholder schema the site CMS tables are written in (see site-schema.ts). A module of its
 * own because the migration runner needs only the name, and site-schema.ts loads drizzle-orm,
 * which would cost every CLI start-up its ~100 modules.
 */
export const SITE_SCHEMA_PLACEHOLDER = 'indigo_site_template';
