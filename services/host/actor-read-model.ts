// Moved to services/store/actor-read-model.ts. Kept so branches in flight compile; remove
// once nothing imports it.
export { ActorReadModel } from '../store/actor-read-model.js';
