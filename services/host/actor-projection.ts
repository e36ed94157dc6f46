// Moved to services/store (projections.ts; the types in types.ts), where the tables are. Kept
// so branches in flight compile; remove once nothing imports it.
export { ActorProjector, readActor, readActors, readTimers } from '../store/projections.js';
export type { ActorRow, FoldHint, TimerRow } from '../store/types.js';
