export type * from "./raw-events.js";
