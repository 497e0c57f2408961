/**
 * Bun macro: runs at bundle/transpile time and inlines drizzle's migration list, so the
 * compiled binary carries its migrations (the folder migrator cannot read files inside it).
 */
import { readMigrationFiles } from "drizzle-orm/migrator";

export function embeddedMigrations() {
  return readMigrationFiles({ migrationsFolder: `${import.meta.dir}/migrations` });
}
