CREATE TABLE `slack_link_codes` (
	`admin_id` integer PRIMARY KEY NOT NULL,
	`code_hash` text NOT NULL,
	`expires_at` integer NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`admin_id`) REFERENCES `admin_users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `slack_link_codes_code_hash_unique` ON `slack_link_codes` (`code_hash`);--> statement-breakpoint
-- A member id claimed by several admins was ambiguous (Slack commands answered "not linked"); those claims are cleared so each can be linked again with proof.
UPDATE `admin_notification_preferences` SET `slack_member_id` = NULL, `slack_enabled` = 0 WHERE `slack_member_id` IN (SELECT `slack_member_id` FROM `admin_notification_preferences` WHERE `slack_member_id` IS NOT NULL GROUP BY `slack_member_id` HAVING count(*) > 1);--> statement-breakpoint
CREATE UNIQUE INDEX `admin_notification_preferences_slack_member_uq` ON `admin_notification_preferences` (`slack_member_id`);