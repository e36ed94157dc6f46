// The fold moved to actors/fold.ts (the store's projection folds too, and may not import the
// host). Kept so branches in flight compile; remove once nothing imports it.
export * from '../../actors/fold.js';
