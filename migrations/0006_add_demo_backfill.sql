CREATE TABLE `demo_backfill` (
	`id` integer PRIMARY KEY NOT NULL,
	`anchor` integer NOT NULL,
	`started_at` integer NOT NULL,
	`completed_at` integer,
	`raw_samples` integer,
	`rollup_rows` integer,
	`alerts` integer,
	`duration_ms` integer
);
