ALTER TABLE "instances" ALTER COLUMN "readiness_checks" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "instances" ALTER COLUMN "readiness_checks" SET DEFAULT '[]'::json;--> statement-breakpoint
ALTER TABLE "instances" ALTER COLUMN "passing" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "instances" ALTER COLUMN "passing" SET DEFAULT '[]'::json;--> statement-breakpoint
ALTER TABLE "instances" ALTER COLUMN "ports" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "instances" ALTER COLUMN "ports" SET DEFAULT '[]'::json;--> statement-breakpoint
ALTER TABLE "nodes" ALTER COLUMN "executors" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "nodes" ALTER COLUMN "labels" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "nodes" ALTER COLUMN "labels" SET DEFAULT '{}'::json;--> statement-breakpoint
ALTER TABLE "nodes" ALTER COLUMN "ports" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "nodes" ALTER COLUMN "ports" SET DEFAULT '{"address":"","range":{"from":1,"to":0},"reserved":[]}'::json;--> statement-breakpoint
ALTER TABLE "nodes" ALTER COLUMN "volumes" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "nodes" ALTER COLUMN "volumes" SET DEFAULT '[]'::json;--> statement-breakpoint
ALTER TABLE "nodes" ALTER COLUMN "limits" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "secret_versions" ALTER COLUMN "keys" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "labels" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "spec" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "previous_spec" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "finished" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "stable" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "quarantined" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "quarantined" SET DEFAULT '[]'::json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "reverted" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "eras" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "eras" SET DEFAULT '[]'::json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "periodic" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "run_of" SET DATA TYPE json;