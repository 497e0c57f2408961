// drizzle-kit configuration: `make migrations` generates SQL from schema.ts into ./migrations.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/control/store/sqlite/schema.ts",
  out: "./src/control/store/sqlite/migrations",
});
