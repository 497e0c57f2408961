CREATE TABLE `secret_versions` (
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`version` integer NOT NULL,
	`keys` text NOT NULL,
	`digest` text NOT NULL,
	`payload` text,
	`by` text NOT NULL,
	`at` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`kind`, `name`, `version`)
);
