// Moved to services/store/projections.ts, where the tables are. Kept so branches in flight
// compile; remove once nothing imports it.
export { ActorProjector, readActor, readActors, readTimers, type ActorRow, type FoldHint, type TimerRow } from '../store/projections.js';
