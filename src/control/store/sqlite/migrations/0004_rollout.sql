ALTER TABLE `workloads` ADD `template_changed_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `workloads` ADD `previous_spec` text;