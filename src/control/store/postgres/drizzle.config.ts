// drizzle-kit configuration: `make migrations` generates SQL from schema.ts into ./migrations.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/control/store/postgres/schema.ts",
  out: "./src/control/store/postgres/migrations",
});
