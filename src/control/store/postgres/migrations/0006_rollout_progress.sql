ALTER TABLE "workloads" ADD COLUMN "progress_since" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "workloads" ADD COLUMN "previous_template_generation" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE "workloads" SET "progress_since" = "template_changed_at";