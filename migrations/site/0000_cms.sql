CREATE SCHEMA "indigo_site_template";
--> statement-breakpoint
CREATE TYPE "indigo_site_template"."cms_content_status" AS ENUM('draft', 'scheduled', 'published', 'trashed');--> statement-breakpoint
CREATE TABLE "indigo_site_template"."cms_categories" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "indigo_site_template"."cms_categories_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"parent_id" bigint,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "indigo_site_template"."cms_media" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "indigo_site_template"."cms_media_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"path" text NOT NULL,
	"mime_type" text NOT NULL,
	"size_bytes" bigint DEFAULT 0 NOT NULL,
	"alt_text" text,
	"width" integer,
	"height" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "indigo_site_template"."cms_menus" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "indigo_site_template"."cms_menus_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"location" text NOT NULL,
	"name" text NOT NULL,
	"items" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "indigo_site_template"."cms_pages" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "indigo_site_template"."cms_pages_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"parent_id" bigint,
	"slug" text NOT NULL,
	"title" text NOT NULL,
	"body" text DEFAULT '' NOT NULL,
	"status" "indigo_site_template"."cms_content_status" DEFAULT 'draft' NOT NULL,
	"sort_order" integer DEFAULT 0 NOT NULL,
	"published_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "indigo_site_template"."cms_post_categories" (
	"post_id" bigint NOT NULL,
	"category_id" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "cms_post_categories_post_id_category_id_pk" PRIMARY KEY("post_id","category_id")
);
--> statement-breakpoint
CREATE TABLE "indigo_site_template"."cms_posts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "indigo_site_template"."cms_posts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"slug" text NOT NULL,
	"title" text NOT NULL,
	"excerpt" text,
	"body" text DEFAULT '' NOT NULL,
	"status" "indigo_site_template"."cms_content_status" DEFAULT 'draft' NOT NULL,
	"author_id" bigint,
	"featured_media_id" bigint,
	"published_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "indigo_site_template"."cms_revisions" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "indigo_site_template"."cms_revisions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"post_id" bigint,
	"page_id" bigint,
	"title" text NOT NULL,
	"body" text NOT NULL,
	"author_id" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "indigo_site_template"."cms_settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "indigo_site_template"."cms_categories" ADD CONSTRAINT "cms_categories_parent_id_cms_categories_id_fk" FOREIGN KEY ("parent_id") REFERENCES "indigo_site_template"."cms_categories"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "indigo_site_template"."cms_pages" ADD CONSTRAINT "cms_pages_parent_id_cms_pages_id_fk" FOREIGN KEY ("parent_id") REFERENCES "indigo_site_template"."cms_pages"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "indigo_site_template"."cms_post_categories" ADD CONSTRAINT "cms_post_categories_post_id_cms_posts_id_fk" FOREIGN KEY ("post_id") REFERENCES "indigo_site_template"."cms_posts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "indigo_site_template"."cms_post_categories" ADD CONSTRAINT "cms_post_categories_category_id_cms_categories_id_fk" FOREIGN KEY ("category_id") REFERENCES "indigo_site_template"."cms_categories"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "indigo_site_template"."cms_posts" ADD CONSTRAINT "cms_posts_featured_media_id_cms_media_id_fk" FOREIGN KEY ("featured_media_id") REFERENCES "indigo_site_template"."cms_media"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "indigo_site_template"."cms_revisions" ADD CONSTRAINT "cms_revisions_post_id_cms_posts_id_fk" FOREIGN KEY ("post_id") REFERENCES "indigo_site_template"."cms_posts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "indigo_site_template"."cms_revisions" ADD CONSTRAINT "cms_revisions_page_id_cms_pages_id_fk" FOREIGN KEY ("page_id") REFERENCES "indigo_site_template"."cms_pages"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "cms_categories_slug_key" ON "indigo_site_template"."cms_categories" USING btree ("slug");--> statement-breakpoint
CREATE INDEX "cms_categories_parent_id_idx" ON "indigo_site_template"."cms_categories" USING btree ("parent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "cms_media_path_key" ON "indigo_site_template"."cms_media" USING btree ("path");--> statement-breakpoint
CREATE UNIQUE INDEX "cms_menus_location_key" ON "indigo_site_template"."cms_menus" USING btree ("location");--> statement-breakpoint
CREATE UNIQUE INDEX "cms_pages_parent_slug_key" ON "indigo_site_template"."cms_pages" USING btree ("parent_id","slug");--> statement-breakpoint
CREATE INDEX "cms_pages_status_idx" ON "indigo_site_template"."cms_pages" USING btree ("status");--> statement-breakpoint
CREATE INDEX "cms_post_categories_category_id_idx" ON "indigo_site_template"."cms_post_categories" USING btree ("category_id");--> statement-breakpoint
CREATE UNIQUE INDEX "cms_posts_slug_key" ON "indigo_site_template"."cms_posts" USING btree ("slug");--> statement-breakpoint
CREATE INDEX "cms_posts_status_published_at_idx" ON "indigo_site_template"."cms_posts" USING btree ("status","published_at");--> statement-breakpoint
CREATE INDEX "cms_posts_featured_media_id_idx" ON "indigo_site_template"."cms_posts" USING btree ("featured_media_id");--> statement-breakpoint
CREATE INDEX "cms_revisions_post_id_idx" ON "indigo_site_template"."cms_revisions" USING btree ("post_id","created_at");--> statement-breakpoint
CREATE INDEX "cms_revisions_page_id_idx" ON "indigo_site_template"."cms_revisions" USING btree ("page_id","created_at");