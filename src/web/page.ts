/// <reference lib="dom" />
/** What every page of the console is given, and what it offers the shell (main.ts). */
import type { Fleet } from "../core/views/fleet-view.js";
import type { Place } from "./routes.js";

export interface PageContext {
  /** The fleet the page shows: live, or as of the time slider's event. */
  fleet(): Fleet;
  /** The slider's event while it shows the past; undefined when live. */
  pastSeq(): number | undefined;
  /** Only an admin is offered changes. */
  admin: boolean;
}

export interface PageView {
  /** Its section of the page; shown only while its place is. */
  readonly el: HTMLElement;
  /** Shown at a place (its own kind). */
  open(place: Place): void;
  /** The fleet changed, or the slider moved: draw again what it shows. */
  refresh(): void;
  /** Left: stop following anything. */
  close(): void;
}
