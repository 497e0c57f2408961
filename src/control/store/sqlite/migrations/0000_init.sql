CREATE TABLE `events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`version` integer NOT NULL,
	`type` text NOT NULL,
	`workload` text,
	`instance` text,
	`node` text,
	`data` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_workload` ON `events` (`workload`,`seq`);--> statement-breakpoint
CREATE TABLE `instances` (
	`id` text PRIMARY KEY NOT NULL,
	`workload` text NOT NULL,
	`idx` integer NOT NULL,
	`generation` integer NOT NULL,
	`node` text,
	`desired` text NOT NULL,
	`state` text NOT NULL,
	`attempt` integer NOT NULL,
	`reason` text NOT NULL,
	`exit_code` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `instances_workload` ON `instances` (`workload`);--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `nodes` (
	`name` text PRIMARY KEY NOT NULL,
	`executors` text NOT NULL,
	`version` text NOT NULL,
	`last_heartbeat_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `workloads` (
	`name` text PRIMARY KEY NOT NULL,
	`labels` text NOT NULL,
	`spec` text NOT NULL,
	`generation` integer NOT NULL,
	`deleting` integer NOT NULL,
	`created_at` integer NOT NULL
);
