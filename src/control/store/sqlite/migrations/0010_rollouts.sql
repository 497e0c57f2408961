ALTER TABLE `instances` ADD `ready_since` integer;--> statement-breakpoint
ALTER TABLE `workloads` ADD `promoted` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `workloads` ADD `stable` text;--> statement-breakpoint
ALTER TABLE `workloads` ADD `quarantined` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `workloads` ADD `reverted` text;