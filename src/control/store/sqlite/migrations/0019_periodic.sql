ALTER TABLE `workloads` ADD `periodic` text;--> statement-breakpoint
ALTER TABLE `workloads` ADD `run_of` text;