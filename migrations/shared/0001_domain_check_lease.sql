ALTER TABLE "site_domains" ADD COLUMN "check_claim" text;--> statement-breakpoint
ALTER TABLE "site_domains" ADD COLUMN "check_claimed_until" timestamp with time zone;