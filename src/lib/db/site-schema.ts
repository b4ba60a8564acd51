/**
 * The CMS tables that every site schema holds. drizzle-kit generates migrations/site from this
 * file in the placeholder schema `indigo_site_template`; the site migration runner substitutes
 * that quoted identifier with the site's own schema, so enum types and foreign keys land in the
 * site schema and nothing points outside it (drizzle-kit would otherwise write `"public".`).
 * Keep it free of imports other than drizzle-orm and site-schema-name.ts so drizzle-kit's loader can read it.
 */
import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { SITE_SCHEMA_PLACEHOLDER } from './site-schema-name.js';

export { SITE_SCHEMA_PLACEHOLDER };
export const siteTemplate = pgSchema(SITE_SCHEMA_PLACEHOLDER);

export const contentStatus = siteTemplate.enum('cms_content_status', ['draft', 'scheduled', 'published', 'trashed']);

const id = () => bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity();
const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

export const cmsMedia = siteTemplate.table(
  'cms_media',
  {
    id: id(),
    path: text('path').notNull(),
    mimeType: text('mime_type').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }).notNull().default(0),
    altText: text('alt_text'),
    width: integer('width'),
    height: integer('height'),
    ...timestamps,
  },
  (t) => [uniqueIndex('cms_media_path_key').on(t.path)],
);

export const cmsPosts = siteTemplate.table(
  'cms_posts',
  {
    id: id(),
    slug: text('slug').notNull(),
    title: text('title').notNull(),
    excerpt: text('excerpt'),
    body: text('body').notNull().default(''),
    status: contentStatus('status').notNull().default('draft'),
    authorId: bigint('author_id', { mode: 'number' }),
    featuredMediaId: bigint('featured_media_id', { mode: 'number' }).references(() => cmsMedia.id, { onDelete: 'set null' }),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('cms_posts_slug_key').on(t.slug),
    index('cms_posts_status_published_at_idx').on(t.status, t.publishedAt),
    index('cms_posts_featured_media_id_idx').on(t.featuredMediaId),
  ],
);

export const cmsPages = siteTemplate.table(
  'cms_pages',
  {
    id: id(),
    parentId: bigint('parent_id', { mode: 'number' }).references((): any => cmsPages.id, { onDelete: 'set null' }),
    slug: text('slug').notNull(),
    title: text('title').notNull(),
    body: text('body').notNull().default(''),
    status: contentStatus('status').notNull().default('draft'),
    sortOrder: integer('sort_order').notNull().default(0),
    publishedAt: timestamp('published_at', { withTimezone: true }),
    ...timestamps,
  },
  (t) => [uniqueIndex('cms_pages_parent_slug_key').on(t.parentId, t.slug), index('cms_pages_status_idx').on(t.status)],
);

export const cmsCategories = siteTemplate.table(
  'cms_categories',
  {
    id: id(),
    parentId: bigint('parent_id', { mode: 'number' }).references((): any => cmsCategories.id, { onDelete: 'set null' }),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    ...timestamps,
  },
  (t) => [uniqueIndex('cms_categories_slug_key').on(t.slug), index('cms_categories_parent_id_idx').on(t.parentId)],
);

export const cmsPostCategories = siteTemplate.table(
  'cms_post_categories',
  {
    postId: bigint('post_id', { mode: 'number' }).notNull().references(() => cmsPosts.id, { onDelete: 'cascade' }),
    categoryId: bigint('category_id', { mode: 'number' }).notNull().references(() => cmsCategories.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.postId, t.categoryId] }), index('cms_post_categories_category_id_idx').on(t.categoryId)],
);

export const cmsMenus = siteTemplate.table(
  'cms_menus',
  {
    id: id(),
    location: text('location').notNull(),
    name: text('name').notNull(),
    items: jsonb('items').notNull().default(sql`'[]'::jsonb`),
    ...timestamps,
  },
  (t) => [uniqueIndex('cms_menus_location_key').on(t.location)],
);

export const cmsSettings = siteTemplate.table('cms_settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

export const cmsRevisions = siteTemplate.table(
  'cms_revisions',
  {
    id: id(),
    postId: bigint('post_id', { mode: 'number' }).references(() => cmsPosts.id, { onDelete: 'cascade' }),
    pageId: bigint('page_id', { mode: 'number' }).references(() => cmsPages.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    body: text('body').notNull(),
    authorId: bigint('author_id', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('cms_revisions_post_id_idx').on(t.postId, t.createdAt), index('cms_revisions_page_id_idx').on(t.pageId, t.createdAt)],
);
