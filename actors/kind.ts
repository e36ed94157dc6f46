import { z } from 'zod';
import type { AnyStateMachine, SnapshotFrom } from 'xstate';

/**
 * A durable timer fired. The host appends this when a delayed event that a machine asked for
 * (an XState `after` or delayed `raise`) falls due; folding turns it back into that event.
 */
export const TimerFiredSchema = z.object({
  timerId: z.string().min(1),
  event: z.object({ type: z.string().min(1) }).passthrough(),
});

/**
 * The spawn id a start event records: the id of the stored event whose transition asked for
 * the spawn, which the process also carries in its environment (services/host/supervised-spawn.ts).
 * Null in logs written before spawn ids.
 */
export const SpawnIdSchema = z.string().min(1).nullable().default(null);

/**
 * The name of an actor (a backend, an instance, a tunnel): it becomes part of a stream id, a
 * NATS subject token and a URL segment, so no dots, slashes, spaces or upper case.
 */
export function actorNameSchema(what: string) {
  return z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, `${what} is 1-63 lower-case letters, digits, "-" or "_", starting with a letter or digit`);
}

/** A host's id (FLOW_HOST_ID, `f host --id`): it names a BullMQ queue and is part of per-host stream ids. */
export const HOST_ID_REGEX = /^[A-Za-z0-9_-]{1,64}$/;
export const HostIdSchema = z.string().regex(HOST_ID_REGEX, 'a host id is 1-64 letters, digits, "-" or "_"');

/** Every event a machine sees carries the time it was recorded, in epoch milliseconds. */
export interface Timed {
  at: number;
}

/**
 * The events a machine sees, derived from its kind's schema map: one `{type, ...data, at}` per
 * event type. TIMER_FIRED is the log's wrapper; the machine sees the delayed event it carries.
 */
export type MachineEvents<S extends Record<string, z.ZodType>> = {
  [K in Exclude<keyof S, 'TIMER_FIRED'> & string]: { type: K } & z.infer<S[K]> & Timed;
}[Exclude<keyof S, 'TIMER_FIRED'> & string];

/** An actor kind: a pure machine plus the zod schemas of the events in its stream. */
export interface ActorKind<M extends AnyStateMachine = AnyStateMachine> {
  readonly streamType: string;
  readonly machine: M;
  /**
   * Bumped when what a named guard, action or delay does changes (its name and the machine's
   * shape are hashed already): stored snapshots of the old machine are then folded again from
   * the log (services/store/machine-version.ts). Default 1.
   */
  readonly version?: number;
  /** zod schema of `data` for every event type this kind's streams may hold. */
  readonly events: Readonly<Record<string, z.ZodType<Record<string, unknown>>>>;
  /** Event types that are requests (from a user or API) rather than observations of the world. */
  readonly commands: ReadonlySet<string>;
  /** A short status word for listings, derived from a snapshot. */
  status(snapshot: SnapshotFrom<M>): string;
  /**
   * The event a command becomes, or undefined if the command is not for this kind. `creates`
   * marks commands that may start a stream (others need an existing one).
   */
  fromCommand?(command: { type: string }): CommandEvent | undefined;
}

export interface CommandEvent {
  streamId: string;
  type: string;
  data: Record<string, unknown>;
  creates: boolean;
}

export function defineKind<M extends AnyStateMachine>(kind: ActorKind<M>): ActorKind<M> {
  return kind;
}
