import { defineConfig } from 'drizzle-kit';

// Generated in the placeholder schema `indigo_site_template`; the site runner substitutes it.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/lib/db/site-schema.ts',
  out: './migrations/site',
});
