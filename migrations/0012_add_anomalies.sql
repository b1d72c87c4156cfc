CREATE TABLE `anomalies` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`series_key` text NOT NULL,
	`metric` text NOT NULL,
	`service` text NOT NULL,
	`labels` text DEFAULT '{}' NOT NULL,
	`started_at` integer NOT NULL,
	`ended_at` integer,
	`peak_score` real NOT NULL,
	`peak_at` integer NOT NULL,
	`direction` text NOT NULL,
	`observed` real NOT NULL,
	`expected` real,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `anomalies_series_start_idx` ON `anomalies` (`series_key`,`started_at`);--> statement-breakpoint
CREATE INDEX `anomalies_started_idx` ON `anomalies` (`started_at`);--> statement-breakpoint
CREATE INDEX `anomalies_metric_idx` ON `anomalies` (`metric`,`service`,`started_at`);--> statement-breakpoint
CREATE TABLE `anomaly_feedback` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`series_key` text NOT NULL,
	`metric` text NOT NULL,
	`service` text NOT NULL,
	`labels` text DEFAULT '{}' NOT NULL,
	`direction` text NOT NULL,
	`minute_of_day_from` integer NOT NULL,
	`minute_of_day_to` integer NOT NULL,
	`weekday` integer,
	`magnitude` real,
	`note` text DEFAULT '' NOT NULL,
	`created_by` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`anomaly_id` integer,
	`alert_id` integer,
	FOREIGN KEY (`created_by`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `anomaly_feedback_family_idx` ON `anomaly_feedback` (`metric`,`service`);--> statement-breakpoint
CREATE UNIQUE INDEX `anomaly_feedback_anomaly_idx` ON `anomaly_feedback` (`anomaly_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `anomaly_feedback_alert_idx` ON `anomaly_feedback` (`alert_id`);