ALTER TABLE "events" ALTER COLUMN "workload" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "events" ALTER COLUMN "instance" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "events" ALTER COLUMN "node" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "instances" ALTER COLUMN "id" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "instances" ALTER COLUMN "workload" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "instances" ALTER COLUMN "node" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "nodes" ALTER COLUMN "name" SET DATA TYPE text COLLATE "C";--> statement-breakpoint
ALTER TABLE "workloads" ALTER COLUMN "name" SET DATA TYPE text COLLATE "C";