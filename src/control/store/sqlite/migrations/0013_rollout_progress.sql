ALTER TABLE `workloads` ADD `progress_since` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `workloads` ADD `previous_template_generation` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `workloads` SET `progress_since` = `template_changed_at`;