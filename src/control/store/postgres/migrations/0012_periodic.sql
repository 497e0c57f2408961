ALTER TABLE "workloads" ADD COLUMN "periodic" jsonb;--> statement-breakpoint
ALTER TABLE "workloads" ADD COLUMN "run_of" jsonb;