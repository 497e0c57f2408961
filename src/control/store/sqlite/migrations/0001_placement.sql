ALTER TABLE `instances` ADD `cpu_millis` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `instances` ADD `memory_mb` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `instances` ADD `failed_at` integer;--> statement-breakpoint
ALTER TABLE `instances` ADD `running_since` integer;--> statement-breakpoint
ALTER TABLE `nodes` ADD `labels` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `nodes` ADD `cpu_millis` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `nodes` ADD `memory_mb` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `nodes` ADD `health` text DEFAULT 'offline' NOT NULL;--> statement-breakpoint
ALTER TABLE `nodes` ADD `schedulable` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `nodes` ADD `draining` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `workloads` ADD `template_generation` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `workloads` ADD `restart_seq` integer DEFAULT 0 NOT NULL;