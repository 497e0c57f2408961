/**
 * Bun macro: runs at bundle/transpile time and inlines drizzle's migration list of `folder`
 * (relative to this one: "sqlite/migrations" for SQLite, "postgres/migrations"), so the compiled
 * binary carries its migrations (the folder migrator cannot read files inside it).
 */
import { readMigrationFiles } from "drizzle-orm/migrator";

export function embeddedMigrations(folder: "sqlite/migrations" | "postgres/migrations") {
  return readMigrationFiles({ migrationsFolder: `${import.meta.dir}/${folder}` });
}
