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

/** A command a client may send: a zod object whose `type` is one literal (one option of the command union). */
export type CommandObject = z.ZodObject<{ type: z.ZodLiteral<string> }, z.core.$ZodObjectConfig>;

/** The stream and event a command becomes. `creates` marks commands that may start a stream. */
export interface CommandEvent {
  streamId: string;
  type: string;
  data: Record<string, unknown>;
  creates: boolean;
}

/** What a kind takes from clients: the command schemas, and how each becomes an event of one stream. */
export interface KindCommands<S extends readonly CommandObject[] = readonly CommandObject[]> {
  readonly schemas: S;
  /** Event types that are requests (from a user or API) rather than observations of the world. */
  readonly requests: ReadonlySet<string>;
  /** The event a (parsed) command becomes. */
  toEvent(command: z.output<S[number]>): CommandEvent;
}

/**
 * A kind's commands: the schemas, the event type each command becomes (the requests the host
 * judges), and toEvent(). `requests` lists request events no client command maps to (written
 * by another entry point, such as `f install`).
 */
export function defineCommands<const S extends readonly CommandObject[]>(def: {
  schemas: S;
  toEvent: (command: z.output<S[number]>) => CommandEvent;
  requests: readonly string[];
}): KindCommands<S> {
  return { schemas: def.schemas, requests: new Set(def.requests), toEvent: def.toEvent };
}

/** The `type` literal of a command schema. */
export function commandType(schema: CommandObject): string {
  return schema.shape.type.value;
}

/** An actor kind: a pure machine, the zod schemas of its events, its commands and the effects it leaves to services. */
export interface ActorKind<M extends AnyStateMachine = AnyStateMachine, S extends readonly CommandObject[] = readonly CommandObject[], E extends readonly string[] = readonly string[]> {
  readonly streamType: string;
  /**
   * Bumped when what a named guard, action or delay does changes (its name and the machine's
   * shape are hashed already): stored snapshots of the old machine are then folded again from
   * the log (services/store/machine-version.ts). Default 1.
   */
  readonly version?: number;
  readonly machine: M;
  /** zod schema of `data` for every event type this kind's streams may hold. */
  readonly events: Readonly<Record<string, z.ZodType<Record<string, unknown>>>>;
  readonly commands: KindCommands<S>;
  /**
   * The machine's actions that services carry out after the event is stored (services/<kind>
   * must provide each: defineServices checks it at compile time).
   */
  readonly effects: E;
  /** A short status word for listings, derived from a snapshot. */
  status(snapshot: SnapshotFrom<M>): string;
  /**
   * Why a request does not apply in this snapshot, in a user's words ("api is already running"):
   * the reason of the host's 409. `data` is the request's (validated) data.
   */
  describe(snapshot: SnapshotFrom<M>, request: string, data?: Record<string, unknown>): string;
}

/** Any kind, whatever its machine, commands and effects. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKind = ActorKind<any, readonly CommandObject[], readonly string[]>;

/** The effect names of a kind. */
export type EffectsOf<K extends AnyKind> = K['effects'][number];

/**
 * Declares a kind. Every effect must be an action the machine names (a typo would otherwise be
 * an action nobody carries out): checked once, when the kind is defined.
 */
export function defineKind<M extends AnyStateMachine, const S extends readonly CommandObject[], const E extends readonly string[]>(kind: ActorKind<M, S, E>): ActorKind<M, S, E> {
  const actions = (kind.machine.implementations as { actions?: Record<string, unknown> }).actions ?? {};
  for (const name of kind.effects) {
    if (!(name in actions)) throw new Error(`${kind.streamType}: effect ${name} is not an action of its machine`);
  }
  return kind;
}

type SchemasOf<K extends readonly AnyKind[]> = K[number]['commands']['schemas'][number];

/** The one command union: every command schema of every kind, discriminated by `type`. */
export function commandUnion<const K extends readonly AnyKind[]>(kinds: K) {
  const options = kinds.flatMap((k) => [...k.commands.schemas]) as unknown as [SchemasOf<K>, ...SchemasOf<K>[]];
  return z.discriminatedUnion('type', options);
}

/** Which kind takes a command, by its type: the one lookup the host and commandTarget() share. */
export function commandRouter<K extends AnyKind>(kinds: Iterable<K>): (command: { type: string }) => { kind: K; event: CommandEvent } | undefined {
  const byType = new Map<string, K>();
  for (const kind of kinds) {
    for (const schema of kind.commands.schemas) {
      const type = commandType(schema);
      const other = byType.get(type);
      if (other) throw new Error(`command ${type} is claimed by both ${other.streamType} and ${kind.streamType}`);
      byType.set(type, kind);
    }
  }
  return (command) => {
    const kind = byType.get(command.type);
    return kind && { kind, event: kind.commands.toEvent(command as never) };
  };
}
