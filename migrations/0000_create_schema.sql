CREATE TABLE `admin_notification_preferences` (
	`admin_id` integer PRIMARY KEY NOT NULL,
	`email` text,
	`phone` text,
	`slack_member_id` text,
	`email_enabled` integer DEFAULT true NOT NULL,
	`sms_enabled` integer DEFAULT false NOT NULL,
	`slack_enabled` integer DEFAULT false NOT NULL,
	`severities` text DEFAULT '["critical","warning"]' NOT NULL,
	`quiet_hours_start` text,
	`quiet_hours_end` text,
	`timezone` text DEFAULT 'UTC' NOT NULL,
	`critical_bypasses_quiet_hours` integer DEFAULT true NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`admin_id`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `admin_users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`email` text NOT NULL,
	`name` text DEFAULT '' NOT NULL,
	`role` text DEFAULT 'viewer' NOT NULL,
	`timezone` text DEFAULT 'UTC' NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `admin_users_email_unique` ON `admin_users` (`email`);--> statement-breakpoint
CREATE TABLE `alert_history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`alert_rule_id` integer NOT NULL,
	`service` text,
	`fingerprint` text NOT NULL,
	`metric_value` real,
	`alert_severity` text NOT NULL,
	`status` text DEFAULT 'firing' NOT NULL,
	`message` text DEFAULT '' NOT NULL,
	`observed_at` integer NOT NULL,
	`triggered_at` integer NOT NULL,
	`acknowledged_at` integer,
	`acknowledged_by` integer,
	`resolved_at` integer,
	`auto_resolved` integer DEFAULT false NOT NULL,
	`resolution_notes` text,
	`escalation_step` integer DEFAULT 0 NOT NULL,
	`notifications_sent` integer DEFAULT 0 NOT NULL,
	`notification_attempts` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`alert_rule_id`) REFERENCES `alert_rules`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`acknowledged_by`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `alert_history_rule_idx` ON `alert_history` (`alert_rule_id`,`triggered_at`);--> statement-breakpoint
CREATE INDEX `alert_history_status_idx` ON `alert_history` (`status`,`triggered_at`);--> statement-breakpoint
CREATE TABLE `alert_rules` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`rule_name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`metric_name` text NOT NULL,
	`service` text,
	`labels` text DEFAULT '{}' NOT NULL,
	`kind` text DEFAULT 'threshold' NOT NULL,
	`comparison_operator` text DEFAULT '>' NOT NULL,
	`threshold_value` real NOT NULL,
	`for_seconds` integer DEFAULT 0 NOT NULL,
	`params` text DEFAULT '{}' NOT NULL,
	`severity` text NOT NULL,
	`notification_channels` text NOT NULL,
	`cooldown_minutes` integer DEFAULT 15 NOT NULL,
	`max_alerts_per_hour` integer DEFAULT 4 NOT NULL,
	`escalation_policy_id` integer,
	`is_active` integer DEFAULT true NOT NULL,
	`created_by` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`escalation_policy_id`) REFERENCES `escalation_policies`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`created_by`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `alert_rules_metric_idx` ON `alert_rules` (`metric_name`,`service`);--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`admin_id` integer NOT NULL,
	`kind` text DEFAULT 'token' NOT NULL,
	`name` text DEFAULT '' NOT NULL,
	`token_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`expires_at` integer,
	`last_used_at` integer,
	`revoked_at` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`admin_id`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_token_hash_unique` ON `api_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `api_tokens_admin_idx` ON `api_tokens` (`admin_id`);--> statement-breakpoint
CREATE TABLE `escalation_policies` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`steps` text NOT NULL,
	`repeat_count` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `escalation_policies_name_unique` ON `escalation_policies` (`name`);--> statement-breakpoint
CREATE TABLE `ingest_keys` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`scope` text NOT NULL,
	`key_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`rate_limit_per_minute` integer,
	`created_by` integer,
	`last_used_at` integer,
	`revoked_at` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`created_by`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ingest_keys_key_hash_unique` ON `ingest_keys` (`key_hash`);--> statement-breakpoint
CREATE TABLE `monitors` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`service` text NOT NULL,
	`kind` text NOT NULL,
	`config` text NOT NULL,
	`interval_seconds` integer DEFAULT 60 NOT NULL,
	`heartbeat_slug` text,
	`is_active` integer DEFAULT true NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `monitors_heartbeat_slug_unique` ON `monitors` (`heartbeat_slug`);--> statement-breakpoint
CREATE INDEX `monitors_service_idx` ON `monitors` (`service`);--> statement-breakpoint
CREATE TABLE `notification_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`alert_id` integer,
	`recipient` text NOT NULL,
	`channel` text NOT NULL,
	`event` text NOT NULL,
	`idempotency_key` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`provider_response` text,
	`last_error` text,
	`enqueued_at` integer NOT NULL,
	`delivered_at` integer,
	FOREIGN KEY (`alert_id`) REFERENCES `alert_history`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notification_deliveries_idempotency_key_unique` ON `notification_deliveries` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `notification_deliveries_alert_idx` ON `notification_deliveries` (`alert_id`);--> statement-breakpoint
CREATE TABLE `silences` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`matchers` text NOT NULL,
	`starts_at` integer NOT NULL,
	`ends_at` integer NOT NULL,
	`created_by` integer,
	`comment` text DEFAULT '' NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`created_by`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `silences_ends_idx` ON `silences` (`ends_at`);--> statement-breakpoint
CREATE TABLE `system_metrics` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`metric_name` text NOT NULL,
	`service` text DEFAULT '' NOT NULL,
	`labels` text DEFAULT '{}' NOT NULL,
	`series_key` text NOT NULL,
	`resolution_seconds` integer NOT NULL,
	`bucket_start` integer NOT NULL,
	`count` integer NOT NULL,
	`sum` real NOT NULL,
	`min` real NOT NULL,
	`max` real NOT NULL,
	`p50` real,
	`p95` real,
	`p99` real,
	`sketch` text,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `system_metrics_bucket_uq` ON `system_metrics` (`series_key`,`resolution_seconds`,`bucket_start`);--> statement-breakpoint
CREATE INDEX `system_metrics_lookup_idx` ON `system_metrics` (`metric_name`,`service`,`resolution_seconds`,`bucket_start`);