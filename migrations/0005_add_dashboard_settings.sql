CREATE TABLE `dashboard_settings` (
	`id` integer PRIMARY KEY NOT NULL,
	`cards` text NOT NULL,
	`service_names` text NOT NULL,
	`updated_by` integer,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`updated_by`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE set null
);
